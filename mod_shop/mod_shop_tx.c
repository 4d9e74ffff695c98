/*
 * shop_run: the one way handlers touch the database.
 *
 * It borrows a pooled connection, claims the Idempotency-Key (its answer, success or refusal, is stored in
 * the same transaction as the work), runs the handler's unit of work in a
 * transaction when the request has a key (else each statement is one:
 * the SQL functions do a write in one call), retries serialization
 * failures and deadlocks a bounded number of times, releases the
 * connection before the response is written, and maps database trouble
 * to 503/500.
 */
#include <apr_sha1.h>

#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_cache.h"
#include "mod_shop_db.h"
#include "mod_shop_gate.h"
#include "mod_shop_http.h"
#include "mod_shop_schema.h"
#include "mod_shop_tx.h"
#include "shop_sqlstate.h"

static const char *sha1_hex(apr_pool_t *p, const char *data, apr_size_t len)
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    char *hex = apr_palloc(p, 2 * APR_SHA1_DIGESTSIZE + 1);
    int i;

    apr_sha1_init(&ctx);
    if (len) {
        apr_sha1_update_binary(&ctx, (const unsigned char *)data, (unsigned int)len);
    }
    apr_sha1_final(digest, &ctx);
    for (i = 0; i < APR_SHA1_DIGESTSIZE; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    return hex;
}

/*
 * Bodies are the same request when they are the same JSON value: the hash
 * is of the canonical text (sorted members, no whitespace), so spacing
 * and member order do not make a retry "another body".
 */
static const char *body_hash(shop_req *q)
{
    const char *canon = q->body ? shop_json_canonical(q->r->pool, q->body) : "";

    return sha1_hex(q->r->pool, canon, strlen(canon));
}

/* The hash of the raw bytes, as keys stored before canonical hashing have. */
static const char *raw_body_hash(shop_req *q)
{
    return sha1_hex(q->r->pool, q->raw_body, q->raw_len);
}

/*
 * Claims the key inside the open transaction.  *done says the request is
 * answered from the store (a replay, or a key reused for another body).
 */
static shop_dbrc idem_claim(shop_req *q, shop_resp *out, int *done)
{
    apr_pool_t *p = q->r->pool;
    const char *hash = body_hash(q);
    const char *params[5] = {
        shop_i64(p, q->user_id), q->route_key, q->idem_key, hash,
        shop_i64(p, q->sc->idem_ttl)
    };
    PGresult *res;
    shop_dbrc rc;

    *done = 0;
    if ((rc = shop_db_exec(q->db, SQL_IDEM_CLAIM, params, &res)) != SHOP_DB_OK
        || PQntuples(res) == 1) {
        return rc;
    }
    if ((rc = shop_db_exec(q->db, SQL_IDEM_GET, params, &res)) != SHOP_DB_OK) {
        return rc;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1)) {
        return SHOP_DB_RETRY;   /* the holder vanished between the two */
    }
    *done = 1;
    if (strcmp(PQgetvalue(res, 0, 0), hash) != 0
        && strcmp(PQgetvalue(res, 0, 0), raw_body_hash(q)) != 0) {
        shop_resp_err(out, q->r, SHOP_E_IDEMPOTENCY_KEY_REUSED,
                      "this Idempotency-Key was used with a different body");
        return SHOP_DB_OK;
    }
    out->status = atoi(PQgetvalue(res, 0, 1));
    out->text = apr_pstrdup(p, PQgetvalue(res, 0, 2));
    out->err = SHOP_OK;
    apr_table_setn(q->r->headers_out, "Idempotency-Replayed", "true");
    return SHOP_DB_OK;
}

static shop_dbrc idem_store(shop_req *q, const shop_resp *resp)
{
    apr_pool_t *p = q->r->pool;
    const char *params[5] = {
        shop_i64(p, q->user_id), q->route_key, q->idem_key,
        apr_itoa(p, resp->status), shop_resp_body(p, resp)
    };

    return shop_db_exec(q->db, SQL_IDEM_STORE, params, NULL);
}

/*
 * ShopUserAuth remote-user: r->user must be the login of {userId}.  Asked
 * before anything else about the request is judged (its body, its ids),
 * so another user's request hears 403 whatever it holds; the connection
 * goes back to the pool before the body is read.
 */
int shop_authorize(shop_req *q)
{
    const char *params[1] = { shop_i64(q->r->pool, q->user_id) };
    PGresult *res;
    shop_dbrc rc = shop_db_open(q->r, &q->db);
    int mine = 0;

    if (rc == SHOP_DB_OK) {
        rc = shop_db_exec(q->db, SQL_USER_LOGIN, params, &res);
    }
    if (rc == SHOP_DB_OK) {
        mine = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), q->r->user) == 0;
    }
    shop_db_close(q->db);
    q->db = NULL;
    if (rc == SHOP_DB_SCHEMA) {
        return shop_schema_refuse(q->r, q->sc->site);
    }
    if (rc != SHOP_DB_OK) {
        return shop_send_problem(q->r, SHOP_E_SERVICE_UNAVAILABLE,
                                 "the database is unavailable; retry shortly");
    }
    if (!mine) {
        return shop_send_problem(q->r, SHOP_E_FORBIDDEN,
                                 "the authenticated user may only act for itself");
    }
    return DECLINED;
}

/*
 * With an Idempotency-Key the work runs after a savepoint: a refusal
 * (a 4xx outcome of the work) is undone back to it, and the refusal
 * itself is stored with the key, so a retry gets the first answer.
 */
static shop_dbrc run_once(shop_req *q, int tx, shop_work_fn work, void *ctx,
                          shop_resp *out)
{
    shop_dbrc rc;
    int done = 0;

    if (tx && (rc = shop_db_begin(q->db)) != SHOP_DB_OK) {
        return rc;
    }
    if (q->idem_key && ((rc = idem_claim(q, out, &done)) != SHOP_DB_OK || done
                        || (rc = shop_db_savepoint(q->db)) != SHOP_DB_OK)) {
        shop_db_rollback(q->db);
        return rc;
    }
    rc = work(q, ctx, out);
    if (rc == SHOP_DB_OK && !out->commit && q->idem_key) {
        rc = shop_db_undo_to_savepoint(q->db);
    }
    else if (rc != SHOP_DB_OK || !out->commit) {
        shop_db_rollback(q->db);
        return rc;
    }
    if (rc == SHOP_DB_OK && q->idem_key) {
        rc = idem_store(q, out);
    }
    if (rc != SHOP_DB_OK) {
        shop_db_rollback(q->db);
        return rc;
    }
    return tx ? shop_db_commit(q->db) : SHOP_DB_OK;
}

shop_dbrc shop_run_quiet(shop_req *q, shop_work_fn work, void *ctx, shop_resp *out)
{
    int tx = q->idem_key != NULL;
    shop_dbrc rc;
    int attempt;

    memset(out, 0, sizeof(*out));
    if (!shop_write_enter(q->r)) {
        return SHOP_DB_FULL;
    }
    rc = shop_db_open(q->r, &q->db);
    for (attempt = 0; rc == SHOP_DB_OK; attempt++) {
        memset(out, 0, sizeof(*out));
        rc = run_once(q, tx, work, ctx, out);
        if (rc != SHOP_DB_RETRY || attempt >= q->sc->db_retries) {
            break;
        }
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, q->r,
                      SHOPLOGNO(00029) "retrying after [%s], attempt %d",
                      shop_db_sqlstate(q->db), attempt + 1);
        rc = SHOP_DB_OK;
    }
    shop_db_close(q->db);       /* free the connection before a slow client */
    shop_write_leave(q->r);
    shop_cache_forget_noted(q); /* after the commit, before the answer */
    return rc;
}

int shop_send_result(shop_req *q, shop_dbrc rc, const shop_resp *out)
{
    switch (rc) {
    case SHOP_DB_OK:
        if (out->text) {
            return shop_send_json(q->r, out->status, out->text);
        }
        return shop_send_resp(q, out);
    case SHOP_DB_FULL:
        return shop_send_problem(q->r, SHOP_E_BUSY,
                                 "too many writes at once; retry shortly");
    case SHOP_DB_DOWN:
    case SHOP_DB_RETRY:
        return shop_send_problem(q->r, SHOP_E_SERVICE_UNAVAILABLE,
                                 "the database is unavailable; retry shortly");
    case SHOP_DB_BUSY:
        return shop_send_problem(q->r, SHOP_E_BUSY,
                                 "a lock or statement timed out; retry shortly");
    case SHOP_DB_SCHEMA:
        return shop_schema_refuse(q->r, q->sc->site);
    default:
        if (shop_sqlstate_classify(shop_db_sqlstate(q->db)) == SHOP_SQLSTATE_DATA) {
            /* A data exception: a value the database cannot take (a time
             * that does not parse, a total beyond bigint). */
            return shop_send_problem(q->r, SHOP_E_INVALID_REQUEST,
                                     "a value in the request is out of range");
        }
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      SHOPLOGNO(00030) "database error [%s] on %s",
                      shop_db_sqlstate(q->db), q->route_key);
        return shop_send_problem(q->r, SHOP_E_INTERNAL, NULL);
    }
}

int shop_run(shop_req *q, shop_work_fn work, void *ctx)
{
    shop_resp out;
    shop_dbrc rc = shop_run_quiet(q, work, ctx, &out);

    return shop_send_result(q, rc, &out);
}

/*
 * The user-scoped lists (history, orders, coupons) share one shape: a
 * statement of (user, before id, limit + 1) returning (id, json) rows,
 * no row at all for an unknown user, newest first.
 */
typedef struct {
    shop_sql sql;
    int limit;
    apr_int64_t before;
} page_ctx;

static shop_dbrc user_page_work(shop_req *q, void *ctx, shop_resp *out)
{
    page_ctx *c = ctx;
    apr_pool_t *p = q->r->pool;
    const char *params[3] = {
        shop_i64(p, q->user_id), shop_i64(p, c->before), apr_itoa(p, c->limit + 1)
    };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, c->sql, params, &res);

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    if (PQntuples(res) == 0) {
        shop_resp_err(out, q->r, SHOP_E_USER_NOT_FOUND, NULL);
    }
    else {
        shop_resp_page(q, res, c->limit, out);
    }
    return SHOP_DB_OK;
}

int shop_serve_user_page(shop_req *q, shop_sql sql)
{
    page_ctx c;
    const char *detail = NULL;
    shop_err e = shop_list_params(q, 1, &c.limit, &c.before, &detail);

    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    c.sql = sql;
    return shop_run(q, user_page_work, &c);
}

/*
 * A read of one resource named by the path: the statement returns its
 * JSON in column 0, or (page) rows of (id, json) that all fit on one
 * page; no row means not_found.
 */
static shop_dbrc lookup_work(shop_req *q, void *ctx, shop_resp *out)
{
    const shop_lookup *l = ctx;
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, l->sql, l->params, &res);

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    if (PQntuples(res) == 0) {
        shop_resp_err(out, q->r, l->not_found, NULL);
    }
    else if (l->page) {
        shop_resp_page(q, res, PQntuples(res), out);
    }
    else {
        shop_resp_text(q, out, 200, PQgetvalue(res, 0, 0));
    }
    if (l->cache_kind != 0) {
        shop_cache_fill(q, l->cache_kind, l->cache_id, &l->ticket, out);
    }
    return SHOP_DB_OK;
}

int shop_serve_lookup(shop_req *q, const shop_lookup *l)
{
    return shop_run(q, lookup_work, (void *)l);
}
