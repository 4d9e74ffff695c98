/*
 * Request and response plumbing: request ids, JSON bodies with their size
 * and type checks, and every response mod_shop writes.
 */
#include <http_protocol.h>
#include <http_core.h>
#include <http_log.h>
#include <apr_lib.h>

#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_http.h"
#include "shop_etag.h"
#include "shop_validate.h"

#define JSON_TYPE "application/json; charset=utf-8"

/*
 * httpd's own 400 for a bad request line or header is answered before
 * post_read_request, where mod_unique_id sets UNIQUE_ID.  Its log id hook
 * makes one on demand (and UNIQUE_ID reuses r->log_id when it runs later),
 * so the request still gets a UNIQUE_ID and its error log lines the same.
 */
static const char *generated_log_id(request_rec *r)
{
    const char *id = NULL;

    if (r->log_id == NULL && ap_run_generate_log_id(r->connection, r, &id) == OK
        && id != NULL) {
        r->log_id = id;
    }
    return r->log_id;
}

const char *shop_request_id(request_rec *r)
{
    const char *id = apr_table_get(r->subprocess_env, "UNIQUE_ID");

    if (id == NULL) {
        id = generated_log_id(r);
    }
    if (id == NULL) {
        id = apr_psprintf(r->pool, "%" APR_PID_T_FMT "-%" APR_TIME_T_FMT "-%ld",
                          getpid(), r->request_time, r->connection->id);
    }
    return id;
}

/*
 * HTTP caching (RFC 9111).  The dispatcher leaves the Cache-Control of a
 * shared route's success in a request note (the handler may refine it:
 * popular's max-age); a response without it is private.  The 200 of a
 * shared route is validated by a hash of its body, so a 304 costs what
 * producing the body costs, and nothing when the body comes from memory
 * (popular, the read cache).
 */
#define SHARED_NOTE "shop-cache-control"
#define PRIVATE_CACHE_CONTROL "private, no-store"

static const char *catalog_cache_control(request_rec *r)
{
    const shop_srv_cfg *sc = ap_get_module_config(r->server->module_config, &shop_module);
    apr_int64_t max_age = (apr_int64_t)apr_time_sec(sc->catalog_http_max_age);
    apr_int64_t stale = (apr_int64_t)apr_time_sec(sc->catalog_stale_while_revalidate);

    if (max_age == 0 && stale == 0) {
        return "public, max-age=0, must-revalidate";    /* the spec's default */
    }
    if (stale == 0) {
        return apr_psprintf(r->pool, "public, max-age=%" APR_INT64_T_FMT, max_age);
    }
    return apr_psprintf(r->pool, "public, max-age=%" APR_INT64_T_FMT
                        ", stale-while-revalidate=%" APR_INT64_T_FMT, max_age, stale);
}

void shop_http_cacheable(request_rec *r, shop_cc cc)
{
    if (cc == SHOP_CC_CATALOG) {
        apr_table_setn(r->notes, SHARED_NOTE, catalog_cache_control(r));
    }
    else if (cc == SHOP_CC_POPULAR) {
        apr_table_setn(r->notes, SHARED_NOTE, "public, max-age=0");
    }
}

void shop_http_max_age(request_rec *r, apr_int64_t seconds)
{
    if (apr_table_get(r->notes, SHARED_NOTE) != NULL) {     /* shared routes only */
        apr_table_setn(r->notes, SHARED_NOTE, apr_psprintf(r->pool, "public, max-age=%"
                                                           APR_INT64_T_FMT, seconds));
    }
}

/*
 * Is httpd's own mod_cache, in this server, about to store this response
 * (its CACHE_SAVE filter is in the chain: a miss, or its revalidation of
 * a stale entry)?  It then gets the body, never a 304: mod_cache_socache
 * (2.4.71) stores an entry that a 304 refreshed without its body, and
 * serves that empty body as a 200 from then on (docs/deploy.md).  In the
 * same process a 304 would save nothing anyway.
 */
static int mod_cache_saving(const request_rec *r)
{
    const ap_filter_t *f;

    for (f = r->output_filters; f != NULL; f = f->next) {
        if (f->frec && f->frec->name && strcasecmp(f->frec->name, "cache_save") == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * A shared success: its validator and freshness; 1 when the client (or a
 * cache in front) already holds it, by If-None-Match.  A client that holds
 * it as httpd's DEFLATE filter passed it on revalidates with the "-gzip"
 * tag DEFLATE made; its 304 names that tag, as DEFLATE would have done if
 * it saw 304s (mod_filter, behind AddOutputFilterByType, passes it only
 * 200s; and DEFLATE leaves a response with no body alone).
 */
static int not_modified(request_rec *r, const char *cache_control, const char *text,
                        apr_size_t len)
{
    const char *etag = shop_etag_of(r->pool, text, len);
    const char *held;

    apr_table_setn(r->headers_out, "ETag", etag);
    apr_table_setn(r->headers_out, "Cache-Control", cache_control);
    if (r->method_number != M_GET || mod_cache_saving(r)
        || (held = shop_etag_match(r->pool, apr_table_get(r->headers_in, "If-None-Match"),
                                   etag)) == NULL) {
        return 0;
    }
    if (held != etag) {
        apr_table_setn(r->headers_out, "ETag", held);
        apr_table_mergen(r->headers_out, "Vary", "Accept-Encoding");
    }
    return 1;
}

/*
 * The body goes down the filter chain as one pool bucket, a FLUSH and EOS:
 * no copy into ap_rwrite's buffer, and the response leaves while the
 * worker still holds the connection.  Without the flush the event MPM
 * writes it after the request ends, finds no next request yet and parks
 * the connection with the listener: an epoll and a thread hand-off per
 * keep-alive request (seen with strace: ~5 futex calls per request).
 * A 304 is the same without the body.
 */
int shop_send_json(request_rec *r, int status, const char *text)
{
    apr_size_t len = strlen(text);
    const char *shared = status == HTTP_OK ? apr_table_get(r->notes, SHARED_NOTE) : NULL;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, ba);

    r->status = status;
    ap_set_content_type(r, status >= 400 ? SHOP_PROBLEM_TYPE : JSON_TYPE);
    if (shared == NULL) {
        apr_table_setn(r->headers_out, "Cache-Control", PRIVATE_CACHE_CONTROL);
    }
    else if (not_modified(r, shared, text, len)) {
        r->status = HTTP_NOT_MODIFIED;
    }
    if (r->status != HTTP_NOT_MODIFIED) {
        ap_set_content_length(r, (apr_off_t)len);
        if (!r->header_only) {
            APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(text, len, r->pool, ba));
        }
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(ba));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(ba));
    return ap_pass_brigade(r->output_filters, bb) == APR_SUCCESS ? OK : AP_FILTER_ERROR;
}

int shop_send_problem(request_rec *r, shop_err e, const char *detail)
{
    json_t *doc = shop_problem_doc(r->pool, e, detail);

    if (shop_err_retry_after(e)) {
        apr_table_setn(r->headers_out, "Retry-After", "1");
    }
    return shop_send_json(r, shop_err_get(e)->status,
                          shop_json_dump(r->pool, doc));
}

void shop_resp_ok(shop_resp *out, int status, json_t *doc)
{
    out->status = status;
    out->doc = doc;
    out->err = SHOP_OK;
    out->commit = 1;
}

void shop_resp_err(shop_resp *out, request_rec *r, shop_err e, const char *detail)
{
    out->status = shop_err_get(e)->status;
    out->doc = shop_problem_doc(r->pool, e, detail);
    out->err = e;
    out->commit = 0;
}

int shop_send_resp(shop_req *q, const shop_resp *resp)
{
    if (shop_err_retry_after(resp->err)) {
        apr_table_setn(q->r->headers_out, "Retry-After", "1");
    }
    return shop_send_json(q->r, resp->status, shop_json_dump(q->r->pool, resp->doc));
}

/* "application/json", any case, optionally followed by parameters. */
static int is_json_type(const char *ct)
{
    static const char json[] = "application/json";
    apr_size_t n = sizeof(json) - 1;

    if (ct == NULL || strncasecmp(ct, json, n) != 0) {
        return 0;
    }
    return ct[n] == '\0' || ct[n] == ';' || apr_isspace(ct[n]);
}

/* Reads at most max bytes; *too_big when the client sent more. */
static apr_status_t read_body(request_rec *r, apr_off_t max, char **buf,
                              apr_size_t *len, int *too_big)
{
    apr_size_t cap = 1024, used = 0;
    char *data = apr_palloc(r->pool, cap);
    long n;

    *too_big = 0;
    for (;;) {
        if (used == cap) {
            char *bigger;
            if ((apr_off_t)cap > max) {
                *too_big = 1;
                return APR_SUCCESS;
            }
            bigger = apr_palloc(r->pool, cap * 2);
            memcpy(bigger, data, used);
            data = bigger;
            cap *= 2;
        }
        n = ap_get_client_block(r, data + used, cap - used);
        if (n < 0) {
            return APR_EGENERAL;
        }
        if (n == 0) {
            break;
        }
        used += (apr_size_t)n;
        if ((apr_off_t)used > max) {
            *too_big = 1;
            return APR_SUCCESS;
        }
    }
    *buf = data;
    *len = used;
    return APR_SUCCESS;
}

/*
 * Reads and parses the JSON body into q->body.  A body is optional when
 * !required (an empty POST), but one that is sent must still be JSON.
 */
shop_err shop_read_json_body(shop_req *q, int required, const char **detail)
{
    request_rec *r = q->r;
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    const char *te = apr_table_get(r->headers_in, "Transfer-Encoding");
    int has_body = te != NULL || (cl != NULL && strcmp(cl, "0") != 0);
    /* httpd's LimitRequestBody, when it is the smaller limit, is ours too. */
    apr_off_t core_limit = ap_get_limit_req_body(r);
    apr_off_t limit = core_limit > 0 && core_limit < q->sc->max_body
                      ? core_limit : q->sc->max_body;
    char *buf = NULL;
    apr_size_t len = 0;
    int too_big = 0;
    shop_err e;

    if (!has_body && !required) {
        return SHOP_OK;
    }
    if (has_body && !is_json_type(apr_table_get(r->headers_in, "Content-Type"))) {
        r->connection->keepalive = AP_CONN_CLOSE;
        *detail = "send the body as Content-Type: application/json";
        return SHOP_E_UNSUPPORTED_MEDIA_TYPE;
    }
    if (cl != NULL && apr_strtoi64(cl, NULL, 10) > limit) {
        too_big = 1;
    }
    else if (ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK) != OK
             || read_body(r, limit, &buf, &len, &too_big) != APR_SUCCESS) {
        r->connection->keepalive = AP_CONN_CLOSE;
        *detail = "the request body could not be read";
        return SHOP_E_INVALID_REQUEST;
    }
    if (too_big) {
        /* Not reading the rest: close rather than drain a huge body. */
        r->connection->keepalive = AP_CONN_CLOSE;
        *detail = apr_psprintf(r->pool, "the body limit is %" APR_OFF_T_FMT
                               " bytes", limit);
        return SHOP_E_PAYLOAD_TOO_LARGE;
    }
    e = shop_json_parse_object(r->pool, buf, len, &q->body, detail);
    if (e == SHOP_OK) {
        q->raw_body = buf;
        q->raw_len = len;
    }
    return e;
}

/* A bigint column (text from libpq) as a JSON integer; NULL for "". */
json_t *shop_json_i64(const char *decimal)
{
    if (decimal == NULL || *decimal == '\0') {
        return json_null();
    }
    return json_integer((json_int_t)apr_strtoi64(decimal, NULL, 10));
}

/*
 * ?limit= and ?cursor= of list routes.  *after is the id to continue
 * after (the smallest possible for ascending lists, the largest for
 * descending ones).
 */
shop_err shop_list_params(shop_req *q, int descending, int *limit,
                          apr_int64_t *after, const char **detail)
{
    request_rec *r = q->r;
    int bad = 0;
    const char *lim = shop_query_get(r->pool, r->args, "limit", &bad);
    const char *cur = bad ? NULL : shop_query_get(r->pool, r->args, "cursor", &bad);

    if (bad || !shop_parse_limit(lim, limit)) {
        *detail = "limit must be a whole number from 1 to 100";
        return SHOP_E_INVALID_REQUEST;
    }
    *after = descending ? APR_INT64_MAX : 0;
    if (cur && !shop_cursor_decode(r->pool, cur, after)) {
        *detail = "cursor is not one this API returned";
        return SHOP_E_INVALID_REQUEST;
    }
    return SHOP_OK;
}

json_t *shop_next_cursor(apr_pool_t *p, PGresult *res, int rows, int limit)
{
    if (rows <= limit) {
        return json_null();
    }
    return json_string(shop_cursor_encode(p,
               apr_strtoi64(PQgetvalue(res, limit - 1, 0), NULL, 10)));
}

/*
 * A page of (id, json) rows read with limit + 1, already JSON from the
 * database: concatenated, not re-parsed.  A single row with a NULL json
 * is an empty page (the LEFT JOIN LATERAL shape of the list statements).
 */
void shop_resp_page(shop_req *q, PGresult *res, int limit, shop_resp *out)
{
    apr_pool_t *p = q->r->pool;
    int rows = PQgetisnull(res, 0, 1) ? 0 : PQntuples(res);
    const char *next = shop_json_dump(p, shop_json_own(p,
                                      shop_next_cursor(p, res, rows, limit)));
    apr_array_header_t *parts = apr_array_make(p, 2 * limit + 3, sizeof(char *));
    int i;

    APR_ARRAY_PUSH(parts, const char *) = "{\"items\":[";
    for (i = 0; i < rows && i < limit; i++) {
        APR_ARRAY_PUSH(parts, const char *) = i ? "," : "";
        APR_ARRAY_PUSH(parts, const char *) = PQgetvalue(res, i, 1);
    }
    APR_ARRAY_PUSH(parts, const char *) = "],\"next_cursor\":";
    APR_ARRAY_PUSH(parts, const char *) = next;
    APR_ARRAY_PUSH(parts, const char *) = "}";
    shop_resp_text(q, out, 200, apr_array_pstrcat(p, parts, 0));
}

void shop_resp_text(shop_req *q, shop_resp *out, int status, const char *text)
{
    out->status = status;
    out->text = shop_json_compact(q->r->pool, text);
    out->err = SHOP_OK;
    out->commit = 1;
}

/*
 * The (outcome, detail) row of a shop_* SQL function as a response: OK
 * sends the detail as the body; any other outcome is the API error of
 * that name, with the detail's fields added to the problem document.
 */
shop_dbrc shop_resp_outcome(shop_req *q, PGresult *res, int ok_status,
                            shop_resp *out)
{
    /* The statement says whether its refusal keeps what it wrote (a FAILED
     * order is recorded): the third column, commits. */
    int commits = PQnfields(res) > 2 && strcmp(PQgetvalue(res, 0, 2), "t") == 0;

    return shop_resp_outcome_text(q, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                                  commits, ok_status, out);
}

shop_dbrc shop_resp_outcome_text(shop_req *q, const char *outcome, const char *detail,
                                 int commits, int ok_status, shop_resp *out)
{
    shop_err e = shop_err_from_code(outcome);
    json_t *extra;

    if (strcmp(outcome, "OK") == 0) {
        shop_resp_text(q, out, ok_status, detail);
        return SHOP_DB_OK;
    }
    if (e == SHOP_E_INTERNAL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, q->r,
                      SHOPLOGNO(00011) "unknown outcome '%s'", outcome);
        return SHOP_DB_FAIL;    /* a bug: never stored as an answer */
    }
    shop_resp_err(out, q->r, e, NULL);
    out->commit = commits;
    if (*detail && (extra = json_loads(detail, 0, NULL)) != NULL) {
        json_t *why = json_object_get(extra, "detail");
        json_object_update_missing(out->doc, extra);
        if (json_is_string(why)) {
            json_object_set(out->doc, "detail", why);  /* the database's words */
        }
        json_decref(extra);
    }
    return SHOP_DB_OK;
}

/* The body of a response, stored for Idempotency-Key replays. */
const char *shop_resp_body(apr_pool_t *p, const shop_resp *resp)
{
    return resp->text ? resp->text : shop_json_dump(p, resp->doc);
}
