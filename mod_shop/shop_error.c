/*
 * The one table that maps domain error codes to HTTP.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "shop_error.h"

static const shop_err_info err_table[SHOP_E__COUNT] = {
    [SHOP_OK]                       = {"OK", 200, "OK"},
    [SHOP_E_INVALID_REQUEST]        = {"INVALID_REQUEST", 400, "Invalid request"},
    [SHOP_E_INVALID_AMOUNT]         = {"INVALID_AMOUNT", 422, "Invalid amount"},
    [SHOP_E_NOT_FOUND]              = {"NOT_FOUND", 404, "No such route"},
    [SHOP_E_METHOD_NOT_ALLOWED]     = {"METHOD_NOT_ALLOWED", 405, "Method not allowed"},
    [SHOP_E_PAYLOAD_TOO_LARGE]      = {"PAYLOAD_TOO_LARGE", 413, "Request body too large"},
    [SHOP_E_UNSUPPORTED_MEDIA_TYPE] = {"UNSUPPORTED_MEDIA_TYPE", 415, "Body must be application/json"},
    [SHOP_E_UNAUTHENTICATED]        = {"UNAUTHENTICATED", 401, "Authentication required"},
    [SHOP_E_FORBIDDEN]              = {"FORBIDDEN", 403, "Not allowed to act for this user"},
    [SHOP_E_USER_NOT_FOUND]         = {"USER_NOT_FOUND", 404, "User not found"},
    [SHOP_E_PRODUCT_NOT_FOUND]      = {"PRODUCT_NOT_FOUND", 404, "Product not found"},
    [SHOP_E_ORDER_NOT_FOUND]        = {"ORDER_NOT_FOUND", 404, "Order not found"},
    [SHOP_E_COUPON_NOT_FOUND]       = {"COUPON_NOT_FOUND", 404, "Coupon not found"},
    [SHOP_E_BALANCE_LIMIT_EXCEEDED] = {"BALANCE_LIMIT_EXCEEDED", 409, "Balance limit exceeded"},
    [SHOP_E_OUT_OF_STOCK]           = {"OUT_OF_STOCK", 409, "Out of stock"},
    [SHOP_E_ORDER_NOT_PAYABLE]      = {"ORDER_NOT_PAYABLE", 409, "Order cannot be paid"},
    [SHOP_E_ORDER_NOT_CANCELLABLE]  = {"ORDER_NOT_CANCELLABLE", 409, "Order cannot be cancelled"},
    [SHOP_E_COUPON_NOT_APPLICABLE]  = {"COUPON_NOT_APPLICABLE", 409, "Coupon not applicable"},
    [SHOP_E_INSUFFICIENT_POINTS]    = {"INSUFFICIENT_POINTS", 409, "Insufficient points"},
    [SHOP_E_ALREADY_ISSUED]         = {"ALREADY_ISSUED", 409, "Coupon already issued to this user"},
    [SHOP_E_SOLD_OUT]               = {"SOLD_OUT", 409, "Coupon sold out"},
    [SHOP_E_COUPON_NOT_ISSUABLE]    = {"COUPON_NOT_ISSUABLE", 422, "Coupon not issuable now"},
    [SHOP_E_IDEMPOTENCY_KEY_REUSED] = {"IDEMPOTENCY_KEY_REUSED", 422, "Idempotency-Key reused with another request"},
    [SHOP_E_LOGIN_TAKEN]            = {"LOGIN_TAKEN", 409, "Login already taken"},
    [SHOP_E_EVENT_NOT_FOUND]        = {"EVENT_NOT_FOUND", 404, "No such dead event"},
    [SHOP_E_SERVICE_UNAVAILABLE]    = {"SERVICE_UNAVAILABLE", 503, "Service temporarily unavailable"},
    [SHOP_E_BUSY]                   = {"BUSY", 503, "Busy, try again"},
    [SHOP_E_SCHEMA_MISMATCH]        = {"SCHEMA_MISMATCH", 503, "Database schema does not match the module"},
    [SHOP_E_INTERNAL]               = {"INTERNAL_ERROR", 500, "Internal error"},
};

const shop_err_info *shop_err_get(shop_err e)
{
    if ((int)e < 0 || e >= SHOP_E__COUNT) {
        return &err_table[SHOP_E_INTERNAL];
    }
    return &err_table[e];
}

const char *shop_err_type_uri(apr_pool_t *p, shop_err e)
{
    char *slug = apr_pstrdup(p, shop_err_get(e)->code);
    char *c;

    for (c = slug; *c; c++) {
        *c = (char)apr_tolower(*c);
    }
    return apr_pstrcat(p, "https://errors.mod-shop.dev/", slug, NULL);
}

shop_err shop_err_from_code(const char *code)
{
    int e;

    for (e = SHOP_OK; e < SHOP_E__COUNT; e++) {
        if (strcmp(err_table[e].code, code) == 0) {
            return (shop_err)e;
        }
    }
    return SHOP_E_INTERNAL;
}

shop_err shop_err_for_status(int status)
{
    switch (status) {
    case 401: return SHOP_E_UNAUTHENTICATED;
    case 403: return SHOP_E_FORBIDDEN;
    case 404: return SHOP_E_NOT_FOUND;
    case 405: return SHOP_E_METHOD_NOT_ALLOWED;
    case 413: return SHOP_E_PAYLOAD_TOO_LARGE;
    case 415: return SHOP_E_UNSUPPORTED_MEDIA_TYPE;
    case 503: return SHOP_E_SERVICE_UNAVAILABLE;
    default:
        return status < 500 ? SHOP_E_INVALID_REQUEST : SHOP_E_INTERNAL;
    }
}

int shop_err_retry_after(shop_err e)
{
    return e == SHOP_E_SERVICE_UNAVAILABLE || e == SHOP_E_BUSY
        || e == SHOP_E_SCHEMA_MISMATCH;
}
