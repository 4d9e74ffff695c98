/*
 * Admin routes: users, products, coupon campaigns, the outbox's dead letters.  Access control is httpd's own
 * (Require on the admin <Location>); nothing here second-guesses it.
 */
#include <apr_lib.h>

#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_cache.h"
#include "mod_shop_routes.h"
#include "mod_shop_tx.h"
#include "shop_sqlstate.h"
#include "shop_validate.h"

/* POST /admin/users {"login"} */
static shop_dbrc user_create_work(shop_req *q, void *ctx, shop_resp *out)
{
    const char *params[1] = { ctx };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_ADMIN_USER_INSERT, params, &res);

    if (rc == SHOP_DB_FAIL
        && shop_sqlstate_classify(shop_db_sqlstate(q->db)) == SHOP_SQLSTATE_UNIQUE) {
        shop_resp_err(out, q->r, SHOP_E_LOGIN_TAKEN,
                      apr_psprintf(q->r->pool, "login '%s' exists", params[0]));
        return SHOP_DB_OK;
    }
    if (rc != SHOP_DB_OK) {
        return rc;
    }
    shop_resp_ok(out, 201, shop_json_own(q->r->pool,
        json_pack("{s:o, s:s, s:o, s:s}",
                  "id", shop_json_i64(PQgetvalue(res, 0, 0)),
                  "login", PQgetvalue(res, 0, 1),
                  "balance", shop_json_i64(PQgetvalue(res, 0, 2)),
                  "created_at", PQgetvalue(res, 0, 3))));
    return SHOP_DB_OK;
}

int shop_admin_user_create(shop_req *q)
{
    const char *login = NULL, *detail = NULL;
    shop_err e = shop_json_string(q->r->pool, q->body, "login", 1,
                                  SHOP_LOGIN_MAX, &login, &detail);

    if (e == SHOP_OK && !shop_login_valid(login)) {
        e = SHOP_E_INVALID_REQUEST;
        detail = "login must be 1..64 of A-Z a-z 0-9 . _ @ -";
    }
    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    return shop_run(q, user_create_work, (void *)login);
}

/* Product fields as statement parameters; NULL where absent. */
typedef struct {
    const char *params[4];      /* id or name, price, stock, on_sale */
} product_ctx;

static json_t *product_admin_doc(PGresult *res)
{
    return json_pack("{s:o, s:s, s:o, s:o, s:b}",
                     "id", shop_json_i64(PQgetvalue(res, 0, 0)),
                     "name", PQgetvalue(res, 0, 1),
                     "price", shop_json_i64(PQgetvalue(res, 0, 2)),
                     "stock", shop_json_i64(PQgetvalue(res, 0, 3)),
                     "on_sale", strcmp(PQgetvalue(res, 0, 4), "t") == 0);
}

/* Reads price, stock and on_sale (each optional) into c->params[1..3]. */
static shop_err product_fields(shop_req *q, product_ctx *c, int required,
                               int *count, const char **detail)
{
    static const char *const ints[2] = { "price", "stock" };
    apr_pool_t *p = q->r->pool;
    apr_int64_t v;
    int present, flag, i;
    shop_err e;

    *count = 0;
    for (i = 0; i < 2; i++) {
        e = shop_json_int(p, q->body, ints[i], required, &present, &v, detail);
        if (e != SHOP_OK) {
            return e;
        }
        if (present && v < 0) {
            *detail = apr_psprintf(p, "%s must not be negative", ints[i]);
            return SHOP_E_INVALID_REQUEST;
        }
        c->params[1 + i] = present ? shop_i64(p, v) : NULL;
        *count += present;
    }
    e = shop_json_bool(p, q->body, "on_sale", 0, &present, &flag, detail);
    c->params[3] = present ? (flag ? "true" : "false") : NULL;
    *count += present;
    return e;
}

static shop_dbrc product_write_work(shop_req *q, void *ctx, shop_resp *out)
{
    product_ctx *c = ctx;
    int create = q->params[0] == NULL;
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, create ? SQL_ADMIN_PRODUCT_INSERT
                                              : SQL_ADMIN_PRODUCT_UPDATE,
                                c->params, &res);

    if (rc != SHOP_DB_OK) {
        return rc;
    }
    if (PQntuples(res) == 0) {
        shop_resp_err(out, q->r, SHOP_E_PRODUCT_NOT_FOUND, NULL);
        return SHOP_DB_OK;
    }
    shop_resp_ok(out, create ? 201 : 200,
                 shop_json_own(q->r->pool, product_admin_doc(res)));
    return SHOP_DB_OK;
}

/* POST /admin/products {"name","price","stock","on_sale"?} */
int shop_admin_product_create(shop_req *q)
{
    product_ctx c;
    const char *detail = NULL;
    int count;
    shop_err e = shop_json_string(q->r->pool, q->body, "name", 1,
                                  SHOP_NAME_MAX, &c.params[0], &detail);

    if (e == SHOP_OK) {
        e = product_fields(q, &c, 1, &count, &detail);
    }
    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    if (c.params[3] == NULL) {
        c.params[3] = "true";
    }
    shop_cache_note_write(q, SHOP_CACHE_PAGE, 0);   /* a page may show it */
    return shop_run(q, product_write_work, &c);
}

/* PATCH /admin/products/{id} {"price"?,"stock"?,"on_sale"?} */
int shop_admin_product_update(shop_req *q)
{
    product_ctx c;
    const char *detail = NULL;
    apr_int64_t id;
    int count = 0;
    shop_err e;

    if (!shop_parse_id(q->params[0], &id)) {
        return shop_send_problem(q->r, SHOP_E_PRODUCT_NOT_FOUND, NULL);
    }
    c.params[0] = shop_i64(q->r->pool, id);
    e = product_fields(q, &c, 0, &count, &detail);
    if (e == SHOP_OK && count == 0) {
        e = SHOP_E_INVALID_REQUEST;
        detail = "give at least one of price, stock, on_sale";
    }
    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    shop_cache_note_write(q, SHOP_CACHE_PRODUCT, id);
    return shop_run(q, product_write_work, &c);
}

/* A coupon campaign's integer fields: name, required, bounds. */
typedef struct {
    const char *key;
    int required;
    apr_int64_t min;
    apr_int64_t max;
    int param;          /* position in the statement */
} int_field;

static const int_field coupon_ints[] = {
    {"discount_value",   1, 1, SHOP_JSON_INT_MAX, 2},
    {"max_discount",     0, 1, SHOP_JSON_INT_MAX, 3},
    {"min_order_amount", 0, 0, SHOP_JSON_INT_MAX, 4},
    {"total_quantity",   1, 1, 1000000, 5},
    {"valid_days",       0, 1, 3650, 8},
};

static shop_err coupon_fields(shop_req *q, const char **params, const char **detail)
{
    apr_pool_t *p = q->r->pool;
    apr_size_t i;
    apr_int64_t v;
    int present;
    shop_err e;

    for (i = 0; i < sizeof(coupon_ints) / sizeof(coupon_ints[0]); i++) {
        const int_field *f = &coupon_ints[i];
        e = shop_json_int(p, q->body, f->key, f->required, &present, &v, detail);
        if (e != SHOP_OK) {
            return e;
        }
        if (present && (v < f->min || v > f->max)) {
            *detail = apr_psprintf(p, "%s must be from %" APR_INT64_T_FMT " to %"
                                   APR_INT64_T_FMT, f->key, f->min, f->max);
            return SHOP_E_INVALID_REQUEST;
        }
        params[f->param] = present ? shop_i64(p, v) : NULL;
    }
    if ((e = shop_json_string(p, q->body, "name", 1, SHOP_NAME_MAX, &params[0], detail))
        || (e = shop_json_string(p, q->body, "discount_type", 1, 5, &params[1], detail))
        || (e = shop_json_string(p, q->body, "issue_starts_at", 0, 40, &params[6], detail))
        || (e = shop_json_string(p, q->body, "issue_ends_at", 0, 40, &params[7], detail))) {
        return e;
    }
    if ((params[6] && !shop_rfc3339_valid(params[6]))
        || (params[7] && !shop_rfc3339_valid(params[7]))) {
        *detail = "issue_starts_at and issue_ends_at are RFC 3339 date-times, "
                  "e.g. 2026-11-24T10:00:00Z";
        return SHOP_E_INVALID_REQUEST;
    }
    if (strcmp(params[1], "FIXED") != 0 && strcmp(params[1], "RATE") != 0) {
        *detail = "discount_type must be FIXED or RATE";
        return SHOP_E_INVALID_REQUEST;
    }
    if (strcmp(params[1], "RATE") == 0 && apr_atoi64(params[2]) > 100) {
        *detail = "a RATE discount_value is a percentage from 1 to 100";
        return SHOP_E_INVALID_REQUEST;
    }
    return SHOP_OK;
}

static shop_dbrc coupon_create_work(shop_req *q, void *ctx, shop_resp *out)
{
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_ADMIN_COUPON_CREATE, ctx, &res);
    shop_sqlstate_class cls = shop_sqlstate_classify(shop_db_sqlstate(q->db));

    /* class 23: the table's CHECK on the issue period */
    if (rc == SHOP_DB_FAIL && (cls == SHOP_SQLSTATE_INTEGRITY || cls == SHOP_SQLSTATE_UNIQUE)) {
        shop_resp_err(out, q->r, SHOP_E_INVALID_REQUEST,
                      "issue_starts_at must be before issue_ends_at");
        return SHOP_DB_OK;
    }
    if (rc != SHOP_DB_OK) {
        return rc;
    }
    shop_resp_text(q, out, 201, PQgetvalue(res, 0, 0));
    return SHOP_DB_OK;
}

/* POST /admin/coupons {campaign fields} */
int shop_admin_coupon_create(shop_req *q)
{
    const char **params = apr_pcalloc(q->r->pool, 9 * sizeof(char *));
    const char *detail = NULL;
    shop_err e = coupon_fields(q, params, &detail);

    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    return shop_run(q, coupon_create_work, params);
}

/* ---- dead letters of the outbox relay ------------------------------------ */

typedef struct {
    int limit;
    apr_int64_t before;
} dead_page;

static shop_dbrc outbox_dead_work(shop_req *q, void *ctx, shop_resp *out)
{
    dead_page *c = ctx;
    apr_pool_t *p = q->r->pool;
    const char *params[2] = { shop_i64(p, c->before), apr_itoa(p, c->limit + 1) };
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_ADMIN_OUTBOX_DEAD, params, &res);

    if (rc == SHOP_DB_OK) {
        shop_resp_page(q, res, c->limit, out);
    }
    return rc;
}

/* GET /admin/outbox/dead?limit&cursor: events parked as dead, newest first. */
int shop_admin_outbox_dead(shop_req *q)
{
    dead_page c;
    const char *detail = NULL;
    shop_err e = shop_list_params(q, 1, &c.limit, &c.before, &detail);

    if (e != SHOP_OK) {
        return shop_send_problem(q->r, e, detail);
    }
    return shop_run(q, outbox_dead_work, &c);
}

/* An event id as the outbox writes it: a UUID, 8-4-4-4-12 hex digits. */
static int event_id_valid(const char *s)
{
    int i;

    if (strlen(s) != 36) {
        return 0;
    }
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !apr_isxdigit(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* POST /admin/outbox/dead/{eventId}/redeliver: back to pending. */
int shop_admin_outbox_redeliver(shop_req *q)
{
    shop_lookup l = { .sql = SQL_ADMIN_OUTBOX_REDELIVER, .params = { q->params[0], NULL },
                      .not_found = SHOP_E_EVENT_NOT_FOUND };

    if (!event_id_valid(q->params[0])) {
        return shop_send_problem(q->r, SHOP_E_EVENT_NOT_FOUND,
                                 "event ids are UUIDs");
    }
    return shop_serve_lookup(q, &l);
}
