/*
 * Order items: validation and the canonical (sorted) form.
 */
#include <stdlib.h>

#include <apr_strings.h>

#include "shop_order.h"
#include "shop_validate.h"

static int by_product_id(const void *a, const void *b)
{
    const shop_item *x = a, *y = b;

    return (x->product_id > y->product_id) - (x->product_id < y->product_id);
}

static shop_err item_parse(apr_pool_t *p, const json_t *obj, size_t i,
                           shop_item *item, const char **detail)
{
    shop_err e;

    if (!json_is_object(obj)) {
        *detail = apr_psprintf(p, "items[%" APR_SIZE_T_FMT "] must be an object", i);
        return SHOP_E_INVALID_REQUEST;
    }
    e = shop_json_int(p, obj, "product_id", 1, NULL, &item->product_id, detail);
    if (e == SHOP_OK) {
        e = shop_json_int(p, obj, "quantity", 1, NULL, &item->quantity, detail);
    }
    if (e != SHOP_OK) {
        *detail = apr_psprintf(p, "items[%" APR_SIZE_T_FMT "]: %s", i, *detail);
        return e;
    }
    if (item->product_id < 1) {
        *detail = apr_psprintf(p, "items[%" APR_SIZE_T_FMT "].product_id must be"
                               " a positive id", i);
        return SHOP_E_INVALID_REQUEST;
    }
    if (item->quantity < 1 || item->quantity > SHOP_ORDER_MAX_QUANTITY) {
        *detail = apr_psprintf(p, "items[%" APR_SIZE_T_FMT "].quantity must be"
                               " from 1 to %d", i, SHOP_ORDER_MAX_QUANTITY);
        return SHOP_E_INVALID_REQUEST;
    }
    return SHOP_OK;
}

shop_err shop_order_items_parse(apr_pool_t *p, const json_t *body,
                                shop_item **items, int *count,
                                const char **detail)
{
    const json_t *arr = json_object_get(body, "items");
    size_t n, i;
    shop_item *v;
    shop_err e;

    if (!json_is_array(arr) || (n = json_array_size(arr)) == 0
        || n > SHOP_ORDER_MAX_ITEMS) {
        *detail = apr_psprintf(p, "items must be an array of 1 to %d items",
                               SHOP_ORDER_MAX_ITEMS);
        return SHOP_E_INVALID_REQUEST;
    }
    v = apr_palloc(p, n * sizeof(*v));
    for (i = 0; i < n; i++) {
        if ((e = item_parse(p, json_array_get(arr, i), i, &v[i], detail)) != SHOP_OK) {
            return e;
        }
    }
    qsort(v, n, sizeof(*v), by_product_id);
    for (i = 1; i < n; i++) {
        if (v[i].product_id == v[i - 1].product_id) {
            *detail = apr_psprintf(p, "product %" APR_INT64_T_FMT " is listed twice",
                                   v[i].product_id);
            return SHOP_E_INVALID_REQUEST;
        }
    }
    *items = v;
    *count = (int)n;
    return SHOP_OK;
}

static const char *pg_array(apr_pool_t *p, const shop_item *items, int count,
                            int quantities)
{
    char *s = "{";
    int i;

    for (i = 0; i < count; i++) {
        s = apr_psprintf(p, "%s%s%" APR_INT64_T_FMT, s, i ? "," : "",
                         quantities ? items[i].quantity : items[i].product_id);
    }
    return apr_pstrcat(p, s, "}", NULL);
}

const char *shop_items_pg_ids(apr_pool_t *p, const shop_item *items, int count)
{
    return pg_array(p, items, count, 0);
}

const char *shop_items_pg_quantities(apr_pool_t *p, const shop_item *items, int count)
{
    return pg_array(p, items, count, 1);
}
