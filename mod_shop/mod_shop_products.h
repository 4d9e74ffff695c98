/*
 * A product as the API shows it (mod_shop_products.c): the body of
 * GET /products/{id} and each item of a page.  The catalog refresh job
 * (mod_shop_catalog_refresh.c) renders the same body, byte for byte.
 */
#ifndef MOD_SHOP_PRODUCTS_H
#define MOD_SHOP_PRODUCTS_H

#include <jansson.h>

struct pg_result;

/* Row `row` of (id, name, price, stock). */
json_t *shop_product_doc(struct pg_result *res, int row);

#endif
