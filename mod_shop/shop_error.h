/*
 * Domain error codes of the mod_shop API and their HTTP mapping.
 *
 * Every problem+json response is built from this one table, so a code
 * always carries the same status, title and type URI (RFC 9457).
 */
#ifndef SHOP_ERROR_H
#define SHOP_ERROR_H

#include <apr_pools.h>

typedef enum {
    SHOP_OK = 0,
    SHOP_E_INVALID_REQUEST,
    SHOP_E_INVALID_AMOUNT,
    SHOP_E_NOT_FOUND,
    SHOP_E_METHOD_NOT_ALLOWED,
    SHOP_E_PAYLOAD_TOO_LARGE,
    SHOP_E_UNSUPPORTED_MEDIA_TYPE,
    SHOP_E_UNAUTHENTICATED,
    SHOP_E_FORBIDDEN,
    SHOP_E_USER_NOT_FOUND,
    SHOP_E_PRODUCT_NOT_FOUND,
    SHOP_E_ORDER_NOT_FOUND,
    SHOP_E_COUPON_NOT_FOUND,
    SHOP_E_BALANCE_LIMIT_EXCEEDED,
    SHOP_E_OUT_OF_STOCK,
    SHOP_E_ORDER_NOT_PAYABLE,
    SHOP_E_ORDER_NOT_CANCELLABLE,
    SHOP_E_COUPON_NOT_APPLICABLE,
    SHOP_E_INSUFFICIENT_POINTS,
    SHOP_E_ALREADY_ISSUED,
    SHOP_E_SOLD_OUT,
    SHOP_E_COUPON_NOT_ISSUABLE,
    SHOP_E_IDEMPOTENCY_KEY_REUSED,
    SHOP_E_LOGIN_TAKEN,
    SHOP_E_EVENT_NOT_FOUND,
    SHOP_E_SERVICE_UNAVAILABLE,
    SHOP_E_BUSY,
    SHOP_E_SCHEMA_MISMATCH,
    SHOP_E_INTERNAL,
    SHOP_E__COUNT
} shop_err;

typedef struct {
    const char *code;   /* e.g. "SOLD_OUT": the API's stable identifier */
    int status;         /* HTTP status */
    const char *title;  /* short human summary, same for every occurrence */
} shop_err_info;

/* Never NULL: an out-of-range value maps to SHOP_E_INTERNAL. */
const shop_err_info *shop_err_get(shop_err e);

/* "https://errors.mod-shop.dev/sold_out" (the spec: the code, lower-cased) */
const char *shop_err_type_uri(apr_pool_t *p, shop_err e);

/* The error whose code is `code` ("SOLD_OUT"); SHOP_E_INTERNAL if none. */
shop_err shop_err_from_code(const char *code);

/* The code of an answer httpd made itself (a 401 from authn, a 413 from
 * LimitRequestBody...): INVALID_REQUEST or INTERNAL_ERROR where no code
 * has that status. */
shop_err shop_err_for_status(int status);

/* 503s tell the client when to come back (Retry-After). */
int shop_err_retry_after(shop_err e);

#endif
