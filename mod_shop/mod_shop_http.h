/*
 * A request of the API and its response (mod_shop_http.c): the request
 * context every handler gets, JSON bodies in, every response out,
 * (outcome, detail) rows and pages of rows as responses.  Rows are
 * libpq's PGresult (struct pg_result).
 */
#ifndef MOD_SHOP_HTTP_H
#define MOD_SHOP_HTTP_H

#include "mod_shop.h"
#include "mod_shop_db.h"
#include "shop_error.h"
#include "shop_json.h"
#include "shop_route.h"

/* Every problem+json mod_shop sends, its own and httpd's rewritten ones. */
#define SHOP_PROBLEM_TYPE "application/problem+json; charset=utf-8"

typedef struct shop_req shop_req;
typedef struct shop_resp shop_resp;

struct shop_resp {
    int status;         /* HTTP status */
    json_t *doc;        /* response body (owned by the request pool) */
    shop_err err;       /* SHOP_OK for a success response */
    int commit;         /* an error that still commits (e.g. a FAILED order) */
    const char *text;   /* a stored body to send as is (idempotent replay) */
};

struct shop_req {
    request_rec *r;
    const shop_srv_cfg *sc;
    const shop_dir_cfg *dc;
    const char *route_key;      /* "POST /users/1/points/charge" */
    const char *params[SHOP_ROUTE_MAX_PARAMS];
    apr_int64_t user_id;        /* path {userId} when the route has one */
    json_t *body;               /* parsed JSON object, or NULL */
    const char *raw_body;
    apr_size_t raw_len;
    const char *idem_key;       /* Idempotency-Key, validated */
    shop_db *db;
    apr_array_header_t *cache_writes;   /* read-cache entries this request
                                         * may change (mod_shop_cache.c) */
};

/*
 * What caches may do with a route's success (RFC 9111), chosen by its
 * entry in the route table.  Every error, whatever the route, is
 * "private, no-store".
 */
typedef enum {
    SHOP_CC_PRIVATE = 0,    /* user-specific, admin, health: private, no-store */
    SHOP_CC_CATALOG,        /* shared, ETag and 304: ShopCatalogHTTPMaxAge & co. */
    SHOP_CC_POPULAR         /* shared, ETag and 304: max-age until its refresh */
} shop_cc;

/* The dispatcher: the class of the request's route (before its handler). */
void shop_http_cacheable(request_rec *r, shop_cc cc);
/* A shared route's handler: its success is fresh for this long. */
void shop_http_max_age(request_rec *r, apr_int64_t seconds);

shop_err shop_read_json_body(shop_req *q, int required, const char **detail);
/*
 * Every response mod_shop writes goes out here (the read cache's hits
 * too).  A 200 of a shared route gets its ETag and Cache-Control, and is
 * a 304 without a body when If-None-Match names it; anything else is
 * "Cache-Control: private, no-store".
 */
int shop_send_json(request_rec *r, int status, const char *text);
int shop_send_problem(request_rec *r, shop_err e, const char *detail);
int shop_send_resp(shop_req *q, const shop_resp *resp);
const char *shop_resp_body(apr_pool_t *p, const shop_resp *resp);
void shop_resp_page(shop_req *q, struct pg_result *res, int limit, shop_resp *out);
/* A success whose body is JSON text built by the database. */
void shop_resp_text(shop_req *q, shop_resp *out, int status, const char *text);
shop_dbrc shop_resp_outcome(shop_req *q, struct pg_result *res, int ok_status,
                            shop_resp *out);
/* The same from its text: outcome, detail ("" for none), and whether a
 * refusal commits what it wrote. */
shop_dbrc shop_resp_outcome_text(shop_req *q, const char *outcome, const char *detail,
                                 int commits, int ok_status, shop_resp *out);
void shop_resp_ok(shop_resp *out, int status, json_t *doc);
void shop_resp_err(shop_resp *out, request_rec *r, shop_err e, const char *detail);
const char *shop_request_id(request_rec *r);

/* ---- helpers shared by handlers -------------------------------------- */

json_t *shop_json_i64(const char *decimal);
/* next_cursor of a page read with limit + 1 rows (ids in column 0). */
json_t *shop_next_cursor(apr_pool_t *p, struct pg_result *res, int rows, int limit);
shop_err shop_list_params(shop_req *q, int descending, int *limit,
                          apr_int64_t *after, const char **detail);

#endif
