/*
 * Products: the on-sale list and a single product (상품 목록 / 단건 조회).
 */
#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_cache.h"
#include "mod_shop_products.h"
#include "mod_shop_routes.h"
#include "mod_shop_tx.h"
#include "shop_validate.h"

json_t *shop_product_doc(PGresult *res, int row)
{
    return json_pack("{s:o, s:s, s:o, s:o}",
                     "id", shop_json_i64(PQgetvalue(res, row, 0)),
                     "name", PQgetvalue(res, row, 1),
                     "price", shop_json_i64(PQgetvalue(res, row, 2)),
                     "stock", shop_json_i64(PQgetvalue(res, row, 3)));
}

typedef struct {
    int limit;
    apr_int64_t after;
    apr_int64_t page_id;        /* the page's cache key; -1: not cached */
    shop_cache_ticket ticket;
} list_ctx;

/* (after, limit) as one id: limit is at most 100 */
#define PAGE_LIMIT_BITS 7

static shop_dbrc list_work(shop_req *q, void *ctx, shop_resp *out)
{
    list_ctx *l = ctx;
    apr_pool_t *p = q->r->pool;
    const char *params[2] = { shop_i64(p, l->after), apr_itoa(p, l->limit + 1) };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_PRODUCTS_LIST, params, &res);
    json_t *items;
    int rows, i;

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    rows = PQntuples(res);
    items = json_array();
    for (i = 0; i < rows && i < l->limit; i++) {
        json_array_append_new(items, shop_product_doc(res, i));
    }
    shop_resp_ok(out, 200, shop_json_own(p, json_pack("{s:o, s:o}",
                 "items", items,
                 "next_cursor", shop_next_cursor(p, res, rows, l->limit))));
    shop_cache_fill(q, SHOP_CACHE_PAGE, l->page_id, &l->ticket, out);
    return SHOP_DB_OK;
}

int shop_products_list(shop_req *q)
{
    list_ctx l;
    const char *detail = NULL;
    shop_err e = shop_list_params(q, 0, &l.limit, &l.after, &detail);

    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    l.page_id = l.after <= (SHOP_CACHE_ID_MAX >> PAGE_LIMIT_BITS)
                ? (l.after << PAGE_LIMIT_BITS) | l.limit : -1;
    if (l.page_id >= 0 && shop_cache_answer(q, SHOP_CACHE_PAGE, l.page_id, &l.ticket)) {
        return OK;
    }
    return shop_run(q, list_work, &l);
}

typedef struct {
    apr_int64_t id;
    shop_cache_ticket ticket;   /* taken before the read */
} get_ctx;

static shop_dbrc get_work(shop_req *q, void *ctx, shop_resp *out)
{
    get_ctx *g = ctx;
    const char *params[1] = { shop_i64(q->r->pool, g->id) };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_PRODUCT_GET, params, &res);

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    if (PQntuples(res) == 0) {
        shop_resp_err(out, q->r, SHOP_E_PRODUCT_NOT_FOUND,
                      apr_psprintf(q->r->pool, "no product %s on sale", params[0]));
        return SHOP_DB_OK;
    }
    shop_resp_ok(out, 200, shop_json_own(q->r->pool, shop_product_doc(res, 0)));
    shop_cache_fill(q, SHOP_CACHE_PRODUCT, g->id, &g->ticket, out);
    return SHOP_DB_OK;
}

int shop_products_get(shop_req *q)
{
    get_ctx g;

    if (!shop_parse_id(q->params[0], &g.id)) {
        return shop_send_problem(q->r, SHOP_E_PRODUCT_NOT_FOUND,
                                 "product ids are positive integers");
    }
    if (shop_cache_answer(q, SHOP_CACHE_PRODUCT, g.id, &g.ticket)) {
        return OK;
    }
    return shop_run(q, get_work, &g);
}
