/*
 * Coupons (선착순 쿠폰 발급 / 보유 쿠폰 목록): a campaign, first-come-first-
 * served issue, and a user's coupons.
 *
 * Issue is exact in the database (one slot row per coupon, claimed with
 * SKIP LOCKED); once any child has seen a campaign sold out, shared memory
 * says so, and an issue for it costs one indexed read instead of a claim.
 */
#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_cache.h"
#include "mod_shop_routes.h"
#include "mod_shop_shm.h"
#include "mod_shop_tx.h"
#include "shop_validate.h"

typedef struct {
    apr_int64_t coupon_id;
} coupon_ctx;

/* GET /coupons/{couponId} */
int shop_coupons_get(shop_req *q)
{
    shop_lookup l = { .sql = SQL_COUPON_GET, .not_found = SHOP_E_COUPON_NOT_FOUND,
                      .cache_kind = SHOP_CACHE_COUPON };

    if (!shop_parse_id(q->params[0], &l.cache_id)) {
        return shop_send_problem(q->r, SHOP_E_COUPON_NOT_FOUND, NULL);
    }
    if (shop_cache_answer(q, SHOP_CACHE_COUPON, l.cache_id, &l.ticket)) {
        return OK;
    }
    l.params[0] = shop_i64(q->r->pool, l.cache_id);
    return shop_serve_lookup(q, &l);
}

/* POST /users/{userId}/coupons {"coupon_id"} */
static shop_dbrc issue_work(shop_req *q, void *ctx, shop_resp *out)
{
    coupon_ctx *c = ctx;
    const char *params[2] = {
        shop_i64(q->r->pool, q->user_id), shop_i64(q->r->pool, c->coupon_id)
    };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_COUPON_ISSUE, params, &res);

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    rc = shop_resp_outcome(q, res, 201, out);
    if (out->err == SHOP_E_SOLD_OUT) {
        shop_soldout_mark(q->sc->site, c->coupon_id);
    }
    return rc;
}

/*
 * A campaign this shop has seen sold out: one cheap read says whether
 * SOLD_OUT is the answer, or an earlier one in the contract's order
 * (USER_NOT_FOUND, ALREADY_ISSUED, COUPON_NOT_ISSUABLE), which the full
 * issue then gives with its details.  No lock, no slot scan.
 */
static shop_dbrc sold_out_work(shop_req *q, void *ctx, shop_resp *out)
{
    coupon_ctx *c = ctx;
    const char *params[2] = {
        shop_i64(q->r->pool, q->user_id), shop_i64(q->r->pool, c->coupon_id)
    };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_COUPON_PLAINLY_SOLD_OUT, params, &res);

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        shop_resp_err(out, q->r, SHOP_E_SOLD_OUT, NULL);
        return SHOP_DB_OK;
    }
    return issue_work(q, ctx, out);
}

int shop_coupons_issue(shop_req *q)
{
    coupon_ctx c;
    const char *detail = NULL;
    shop_err e = shop_json_int(q->r->pool, q->body, "coupon_id", 1, NULL,
                               &c.coupon_id, &detail);

    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    if (c.coupon_id < 1) {
        return shop_send_problem(q->r, SHOP_E_COUPON_NOT_FOUND, NULL);
    }
    /* A keyed retry must replay its first answer, so it takes the full path. */
    if (q->idem_key == NULL && shop_soldout_is(q->sc->site, c.coupon_id)) {
        return shop_run(q, sold_out_work, &c);
    }
    return shop_run(q, issue_work, &c);
}

/* GET /users/{userId}/coupons */
int shop_coupons_list(shop_req *q)
{
    return shop_serve_user_page(q, SQL_USER_COUPONS);
}
