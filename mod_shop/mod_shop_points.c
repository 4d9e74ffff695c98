/*
 * Points: balance, charge, history (잔액 조회 / 잔액 충전).
 */
#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_cache.h"
#include "mod_shop_routes.h"
#include "mod_shop_tx.h"
#include "shop_validate.h"

static shop_dbrc user_missing(shop_req *q, shop_resp *out)
{
    shop_resp_err(out, q->r, SHOP_E_USER_NOT_FOUND,
                  apr_psprintf(q->r->pool, "no user %" APR_INT64_T_FMT,
                               q->user_id));
    return SHOP_DB_OK;
}

static json_t *balance_doc(apr_int64_t user_id, const char *balance)
{
    return json_pack("{s:I, s:o}", "user_id", (json_int_t)user_id,
                     "balance", shop_json_i64(balance));
}

static json_t *charge_doc(apr_int64_t user_id, apr_int64_t amount,
                          const char *balance)
{
    return json_pack("{s:I, s:I, s:o}", "user_id", (json_int_t)user_id,
                     "charged", (json_int_t)amount,
                     "balance", shop_json_i64(balance));
}

/* GET /users/{userId}/points */
static shop_dbrc balance_work(shop_req *q, void *ctx, shop_resp *out)
{
    const char *params[1] = { shop_i64(q->r->pool, q->user_id) };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_USER_BALANCE, params, &res);

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    if (PQntuples(res) == 0) {
        return user_missing(q, out);
    }
    shop_resp_ok(out, 200, shop_json_own(q->r->pool,
                 balance_doc(q->user_id, PQgetvalue(res, 0, 0))));
    shop_cache_fill(q, SHOP_CACHE_BALANCE, q->user_id, ctx, out);
    return SHOP_DB_OK;
}

int shop_points_get(shop_req *q)
{
    shop_cache_ticket ticket = { 0, 0 };    /* taken before the read */

    if (shop_cache_answer(q, SHOP_CACHE_BALANCE, q->user_id, &ticket)) {
        return OK;
    }
    return shop_run(q, balance_work, &ticket);
}

/* POST /users/{userId}/points/charge */
static shop_dbrc charge_work(shop_req *q, void *ctx, shop_resp *out)
{
    apr_pool_t *p = q->r->pool;
    apr_int64_t amount = *(apr_int64_t *)ctx;
    const char *params[3] = {
        shop_i64(p, q->user_id), shop_i64(p, amount),
        shop_i64(p, q->sc->balance_max)
    };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_POINTS_CHARGE, params, &res);

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    if (PQntuples(res) == 1) {
        shop_resp_ok(out, 200, shop_json_own(p, charge_doc(q->user_id, amount,
                                                PQgetvalue(res, 0, 0))));
        return SHOP_DB_OK;
    }
    /* Nothing changed: either no such user, or the limit. */
    if ((rc = shop_db_exec(q->db, SQL_USER_BALANCE, params, &res)) != SHOP_DB_OK) {
        return rc;
    }
    if (PQntuples(res) == 0) {
        return user_missing(q, out);
    }
    shop_resp_err(out, q->r, SHOP_E_BALANCE_LIMIT_EXCEEDED,
        apr_psprintf(p, "balance %s + %" APR_INT64_T_FMT " would pass the "
                     "maximum balance %" APR_INT64_T_FMT,
                     PQgetvalue(res, 0, 0), amount, q->sc->balance_max));
    return SHOP_DB_OK;
}

int shop_points_charge(shop_req *q)
{
    const char *detail = NULL;
    apr_int64_t amount = 0;
    shop_err e = shop_json_int(q->r->pool, q->body, "amount", 1, NULL,
                               &amount, &detail);

    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    if (amount < 1 || amount > q->sc->charge_max) {
        return shop_send_problem(q->r, SHOP_E_INVALID_AMOUNT,
            apr_psprintf(q->r->pool, "amount must be from 1 to %"
                         APR_INT64_T_FMT, q->sc->charge_max));
    }
    shop_cache_note_write(q, SHOP_CACHE_BALANCE, q->user_id);
    return shop_run(q, charge_work, &amount);
}

/* GET /users/{userId}/points/history */
int shop_points_history(shop_req *q)
{
    return shop_serve_user_page(q, SQL_POINTS_HISTORY);
}
