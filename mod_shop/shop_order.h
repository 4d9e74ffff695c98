/*
 * The items of a new order: parsed, bounded, sorted by product id (the
 * global lock order) and free of duplicates.
 */
#ifndef SHOP_ORDER_H
#define SHOP_ORDER_H

#include <apr_pools.h>
#include <jansson.h>

#include "shop_error.h"

#define SHOP_ORDER_MAX_ITEMS 100
#define SHOP_ORDER_MAX_QUANTITY 10000

typedef struct {
    apr_int64_t product_id;
    apr_int64_t quantity;
} shop_item;

/* Reads body.items; on success *items is sorted by product_id. */
shop_err shop_order_items_parse(apr_pool_t *p, const json_t *body,
                                shop_item **items, int *count,
                                const char **detail);

/* PostgreSQL array literals of the ids and the quantities: "{1,2}". */
const char *shop_items_pg_ids(apr_pool_t *p, const shop_item *items, int count);
const char *shop_items_pg_quantities(apr_pool_t *p, const shop_item *items, int count);

#endif
