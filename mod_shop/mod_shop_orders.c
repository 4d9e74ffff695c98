/*
 * Orders and payment (주문-결제): create, read, list, the coupons usable on
 * an order, pay, cancel.  Each write is one SQL function call, one
 * transaction; sql/functions/shop_create_order.sql and its siblings hold
 * the logic, sql/migrations/002_orders_coupons.sql the lock order.
 */
#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_cache.h"
#include "mod_shop_routes.h"
#include "mod_shop_tx.h"
#include "shop_order.h"
#include "shop_validate.h"

typedef struct {
    apr_int64_t order_id;
    const char *coupon;         /* user_coupon_id, or NULL */
    const char *ids;            /* new order: "{1,2}" */
    const char *quantities;
} order_ctx;

static int order_id_param(shop_req *q, order_ctx *c)
{
    return shop_parse_id(q->params[1], &c->order_id);
}

static int order_not_found(shop_req *q)
{
    return shop_send_problem(q->r, SHOP_E_ORDER_NOT_FOUND, NULL);
}

/* Runs a (outcome, detail) statement with the user and the order. */
static shop_dbrc outcome_work(shop_req *q, shop_sql sql, const char *const *params,
                              int ok_status, shop_resp *out)
{
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, sql, params, &res);

    return rc == SHOP_DB_OK ? shop_resp_outcome(q, res, ok_status, out) : rc;
}

/* POST /users/{userId}/orders */
static shop_dbrc create_work(shop_req *q, void *ctx, shop_resp *out)
{
    order_ctx *c = ctx;
    apr_pool_t *p = q->r->pool;
    const char *params[4] = {
        shop_i64(p, q->user_id), c->ids, c->quantities,
        shop_i64(p, q->sc->order_hold)
    };
    return outcome_work(q, SQL_ORDER_CREATE, params, 201, out);
}

int shop_orders_create(shop_req *q)
{
    order_ctx c;
    shop_item *items;
    int count;
    const char *detail = NULL;
    shop_err e = shop_order_items_parse(q->r->pool, q->body, &items, &count, &detail);

    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    c.ids = shop_items_pg_ids(q->r->pool, items, count);
    c.quantities = shop_items_pg_quantities(q->r->pool, items, count);
    return shop_run(q, create_work, &c);
}

/* GET /users/{userId}/orders */
int shop_orders_list(shop_req *q)
{
    return shop_serve_user_page(q, SQL_ORDERS_LIST);
}

/* GET /users/{userId}/orders/{orderId} and .../coupons (the user's coupons
 * usable on it, each with its discount_amount). */
static int serve_order_read(shop_req *q, shop_sql sql, int page)
{
    order_ctx c;
    shop_lookup l = { .sql = sql, .not_found = SHOP_E_ORDER_NOT_FOUND, .page = page };

    if (!order_id_param(q, &c)) {
        return order_not_found(q);
    }
    l.params[0] = shop_i64(q->r->pool, q->user_id);
    l.params[1] = shop_i64(q->r->pool, c.order_id);
    return shop_serve_lookup(q, &l);
}

int shop_orders_get(shop_req *q)
{
    return serve_order_read(q, SQL_ORDER_GET, 0);
}

int shop_orders_coupons(shop_req *q)
{
    return serve_order_read(q, SQL_ORDER_COUPONS, 1);
}

/* POST /users/{userId}/orders/{orderId}/payment {"user_coupon_id"?} */
static shop_dbrc pay_work(shop_req *q, void *ctx, shop_resp *out)
{
    order_ctx *c = ctx;
    const char *params[3] = {
        shop_i64(q->r->pool, q->user_id), shop_i64(q->r->pool, c->order_id),
        c->coupon
    };

    return outcome_work(q, SQL_ORDER_PAY, params, 200, out);
}

int shop_orders_pay(shop_req *q)
{
    order_ctx c;
    const char *detail = NULL;
    apr_int64_t coupon = 0;
    int present = 0;
    shop_err e = SHOP_OK;

    if (!order_id_param(q, &c)) {
        return order_not_found(q);
    }
    if (q->body && !json_is_null(json_object_get(q->body, "user_coupon_id"))) {
        e = shop_json_int(q->r->pool, q->body, "user_coupon_id", 0, &present,
                          &coupon, &detail);
    }
    if (e == SHOP_OK && present && coupon < 1) {
        e = SHOP_E_INVALID_REQUEST;
        detail = "user_coupon_id must be a positive id";
    }
    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    c.coupon = present ? shop_i64(q->r->pool, coupon) : NULL;
    shop_cache_note_write(q, SHOP_CACHE_BALANCE, q->user_id);
    return shop_run(q, pay_work, &c);
}

/* POST /users/{userId}/orders/{orderId}/cancel */
static shop_dbrc cancel_work(shop_req *q, void *ctx, shop_resp *out)
{
    order_ctx *c = ctx;
    const char *params[2] = {
        shop_i64(q->r->pool, q->user_id), shop_i64(q->r->pool, c->order_id)
    };

    return outcome_work(q, SQL_ORDER_CANCEL, params, 200, out);
}

int shop_orders_cancel(shop_req *q)
{
    order_ctx c;

    if (!order_id_param(q, &c)) {
        return order_not_found(q);
    }
    /* A refund (the stock it gives back shows within ShopCatalogMaxAge). */
    shop_cache_note_write(q, SHOP_CACHE_BALANCE, q->user_id);
    return shop_run(q, cancel_work, &c);
}
