/*
 * What an operator and a load balancer can ask:
 *
 * - GET /health (liveness: the handler answers, no database) and
 *   GET /health/ready (readiness: the schema check found the module's
 *   migrations, no fewer and no others, and a pooled connection answers
 *   SELECT 1; else 503), under the API mount;
 * - GET /admin/status: the shop's popular ranking age, outbox backlog
 *   and dead letters, sold-out campaigns, this child's database pool, the jobs process;
 * - a mod_shop section in mod_status's /server-status (every shop).
 */
#include <http_protocol.h>
#include <http_main.h>
#include <mod_status.h>

#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_breaker.h"
#include "mod_shop_cache.h"
#include "mod_shop_db.h"
#include "mod_shop_gate.h"
#include "mod_shop_jobs.h"
#include "mod_shop_popular.h"
#include "mod_shop_routes.h"
#include "mod_shop_schema.h"
#include "mod_shop_shm.h"
#include "mod_shop_status.h"
#include "mod_shop_tx.h"
#include "shop_batch.h"

/* ---- health ----------------------------------------------------------------- */

int shop_health_live(shop_req *q)
{
    return shop_send_json(q->r, 200, "{\"status\":\"ok\"}");
}

static shop_dbrc ready_work(shop_req *q, void *ctx, shop_resp *out)
{
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_HEALTH, NULL, &res);

    (void)ctx;
    if (rc == SHOP_DB_OK) {
        shop_resp_text(q, out, 200, "{\"status\":\"ready\"}");
    }
    return rc;
}

/* Ready: the database answers and holds exactly the module's migrations
 * (a newer schema still serves the data routes, but is not ready). */
int shop_health_ready(shop_req *q)
{
    shop_schema_state schema = shop_schema_now(q->sc->site);

    if (schema != SHOP_SCHEMA_UNKNOWN && schema != SHOP_SCHEMA_MATCH) {
        return shop_schema_refuse(q->r, q->sc->site);
    }
    return shop_run(q, ready_work, NULL);
}

/* ---- GET /admin/status ------------------------------------------------------ */

/* This child's pool, and every live child's (from shared memory). */
static json_t *pool_doc(void)
{
    shop_child_use kids[64];
    int i, n = shop_children_list(kids, 64);
    json_t *list = json_array();

    for (i = 0; i < n; i++) {
        json_array_append_new(list, json_pack("{s:i, s:i, s:i}", "pid", (int)kids[i].pid,
                                              "in_use", (int)kids[i].in_use,
                                              "peak", (int)kids[i].peak));
    }
    return json_pack("{s:i, s:i, s:o}", "child_pid", (int)getpid(),
                     "in_use", (int)shop_db_in_use(), "children", list);
}

static json_t *popular_doc(apr_pool_t *p, const shop_site *site)
{
    apr_time_t at = shop_popular_generated_at(site);

    if (at == 0) {
        return json_pack("{s:n, s:n}", "generated_at", "age_seconds");
    }
    return json_pack("{s:s, s:I}", "generated_at", shop_rfc3339(p, at),
                     "age_seconds", (json_int_t)apr_time_sec(apr_time_now() - at));
}

/* This child's circuit breaker for the shop's database. */
static json_t *database_doc(shop_site *site)
{
    apr_uint64_t refused;
    apr_time_t since = shop_breaker_open_since(site, &refused);

    if (since == 0) {
        return json_pack("{s:s}", "breaker", "closed");
    }
    return json_pack("{s:s, s:f, s:I}", "breaker", "open",
                     "open_seconds", (double)(apr_time_now() - since) / APR_USEC_PER_SEC,
                     "answered_503", (json_int_t)refused);
}

/* This child's write admission for the shop (ShopWriteConcurrency), its
 * share of ShopServerWriteConcurrency counted again if stale. */
static void writes_stats(shop_site *site, shop_gate_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (site && site->writes) {
        shop_writes_share_out(site);
        shop_gate_stats_get(site->writes, st);
    }
}

static json_t *writes_doc(shop_site *site)
{
    const shop_srv_cfg *sc = site ? ap_get_module_config(site->s->module_config,
                                                         &shop_module) : NULL;
    shop_gate_stats st;

    writes_stats(site, &st);
    return json_pack("{s:i, s:i, s:i, s:i, s:I, s:I}", "limit", st.limit,
                     "server_limit", sc ? sc->server_write_concurrency : 0,
                     "inside", st.inside, "waiting", st.waiting,
                     "entered", (json_int_t)st.entered, "refused_busy", (json_int_t)st.refused);
}

/* This child's coupon issue batches (ShopIssueBatch); max 1: off. */
static json_t *issue_batches_doc(shop_site *site)
{
    shop_batch_stats st;

    memset(&st, 0, sizeof(st));
    st.max = 1;
    if (site && site->issues) {
        shop_batch_stats_get(site->issues, &st);
    }
    return json_pack("{s:i, s:I, s:I, s:I}", "max", st.max,
                     "batches", (json_int_t)st.batches, "issues", (json_int_t)st.items,
                     "timeouts_busy", (json_int_t)st.timeouts);
}

/* outbox: the backlog, or null while the database cannot tell. */
static json_t *status_doc(shop_req *q, json_t *outbox)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:i}",
                     "shop", q->sc->site ? q->sc->site->name : "",
                     "schema", shop_schema_word(shop_schema_now(q->sc->site)),
                     "popular", popular_doc(q->r->pool, q->sc->site),
                     "outbox", outbox ? outbox : json_null(),
                     "sold_out_campaigns", shop_soldout_count(q->sc->site),
                     "database", database_doc(q->sc->site),
                     "db_pool", pool_doc(),
                     "writes", writes_doc(q->sc->site),
                     "issue_batches", issue_batches_doc(q->sc->site),
                     "caches", shop_cache_status_doc(q->sc->site),
                     "jobs_pid", (int)shop_jobs_pid());
}

static shop_dbrc status_work(shop_req *q, void *ctx, shop_resp *out)
{
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_STATUS_OUTBOX, NULL, &res);
    json_t *outbox;

    (void)ctx;
    if (rc != SHOP_DB_OK) {
        return rc;
    }
    outbox = json_pack("{s:o, s:o, s:s?, s:o, s:b}",
                       "pending", shop_json_i64(PQgetvalue(res, 0, 0)),
                       "oldest_pending_age_seconds", shop_json_i64(PQgetvalue(res, 0, 1)),
                       "last_error", PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2),
                       "dead", shop_json_i64(PQgetvalue(res, 0, 3)),
                       "platform_configured", q->sc->platform_url != NULL);
    shop_resp_ok(out, 200, shop_json_own(q->r->pool, status_doc(q, outbox)));
    return SHOP_DB_OK;
}

/* While the breaker is open, or the schema lacks migrations, the view
 * still answers, from memory. */
int shop_admin_status(shop_req *q)
{
    apr_uint64_t refused;

    if (shop_breaker_open_since(q->sc->site, &refused) != 0
        || !shop_schema_serves(shop_schema_now(q->sc->site))) {
        json_t *doc = shop_json_own(q->r->pool, status_doc(q, NULL));
        return shop_send_json(q->r, 200, shop_json_dump(q->r->pool, doc));
    }
    return shop_run(q, status_work, NULL);
}

/* ---- mod_status ------------------------------------------------------------- */

/* The outbox line of one shop, or why there is none. */
static const char *outbox_line(request_rec *r, const shop_site *site,
                               apr_int64_t *pending, apr_int64_t *oldest,
                               apr_int64_t *dead)
{
    shop_db *db = NULL;
    PGresult *res = NULL;
    const char *error = NULL;

    *pending = *oldest = *dead = -1;
    if (shop_db_open_for(r, site->s, &db) != SHOP_DB_OK) {
        return "database unavailable";
    }
    if (shop_db_exec(db, SQL_STATUS_OUTBOX, NULL, &res) != SHOP_DB_OK) {
        error = "query failed";
    }
    else {
        *pending = apr_atoi64(PQgetvalue(res, 0, 0));
        *oldest = apr_atoi64(PQgetvalue(res, 0, 1));
        *dead = apr_atoi64(PQgetvalue(res, 0, 3));
    }
    shop_db_close(db);
    return error;
}

static void status_site(request_rec *r, shop_site *site, int short_report)
{
    apr_time_t at = shop_popular_generated_at(site);
    apr_int64_t age = at ? apr_time_sec(apr_time_now() - at) : -1;
    apr_uint64_t refused;
    apr_time_t open_since = shop_breaker_open_since(site, &refused);
    apr_int64_t open_for = open_since ? apr_time_sec(apr_time_now() - open_since) : -1;
    apr_int64_t pending = -1, oldest = -1, dead = -1;
    const char *error = open_since ? "database unreachable"
                                   : outbox_line(r, site, &pending, &oldest, &dead);
    int soldout = shop_soldout_count(site);
    shop_gate_stats w;

    writes_stats(site, &w);
    /* Keys by the shop's name (ShopName, else ServerName), which adding a
     * site does not change. */
    if (short_report) {
        const char *n = site->name;
        ap_rprintf(r, "ShopWritesInside.%s: %d\nShopWritesWaiting.%s: %d\n"
                   "ShopWritesRefusedBusy.%s: %" APR_UINT64_T_FMT "\n",
                   n, w.inside, n, w.waiting, n, w.refused);
        ap_rprintf(r, "ShopPopularAge.%s: %" APR_INT64_T_FMT "\n"
                   "ShopOutboxPending.%s: %" APR_INT64_T_FMT "\n"
                   "ShopOutboxOldestAge.%s: %" APR_INT64_T_FMT "\n"
                   "ShopOutboxDead.%s: %" APR_INT64_T_FMT "\n"
                   "ShopSoldOutCampaigns.%s: %d\n"
                   "ShopBreakerOpenSeconds.%s: %" APR_INT64_T_FMT "\n"
                   "ShopSchema.%s: %s\n",
                   n, age, n, pending, n, oldest, n, dead, n, soldout, n, open_for,
                   n, shop_schema_word(shop_schema_now(site)));
        shop_cache_status_lines(r, site, apr_pstrcat(r->pool, ".", n, NULL));
        return;
    }
    ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%" APR_INT64_T_FMT " s</td>"
               "<td>%s</td><td>%d</td><td>%s</td></tr>\n",
               ap_escape_html(r->pool, site->name),
               ap_escape_html(r->pool, site->s->server_hostname
                                       ? site->s->server_hostname : ""),
               age,
               error ? error : apr_psprintf(r->pool, "%" APR_INT64_T_FMT
                                            " pending, oldest %" APR_INT64_T_FMT " s, %"
                                            APR_INT64_T_FMT " dead",
                                            pending, oldest, dead),
               soldout,
               open_since ? apr_psprintf(r->pool, "open for %" APR_INT64_T_FMT " s",
                                         open_for) : "closed");
}

/* Pooled connections in use per child: what each child's pool holds now
 * and the most it held at once. */
static void status_children(request_rec *r, int short_report)
{
    shop_child_use kids[64];
    int i, n = shop_children_list(kids, 64);

    if (!short_report) {
        ap_rputs("<table border=\"0\"><tr><th>child</th><th>pooled connections"
                 " in use</th><th>most at once</th></tr>\n", r);
    }
    for (i = 0; i < n; i++) {
        if (short_report) {
            ap_rprintf(r, "ShopChildPool%u: %u %u\n", kids[i].pid, kids[i].in_use,
                       kids[i].peak);
        }
        else {
            ap_rprintf(r, "<tr><td>%u</td><td>%u</td><td>%u</td></tr>\n",
                       kids[i].pid, kids[i].in_use, kids[i].peak);
        }
    }
    if (!short_report) {
        ap_rputs("</table>\n", r);
    }
}

static int shop_status_hook(request_rec *r, int flags)
{
    apr_array_header_t *sites = shop_sites();
    int i, short_report = flags & AP_STATUS_SHORT;

    if (sites == NULL || sites->nelts == 0) {
        return OK;
    }
    if (short_report) {
        ap_rprintf(r, "ShopJobsPid: %d\nShopPoolInUse: %u\n", (int)shop_jobs_pid(),
                   shop_db_in_use());
        status_children(r, 1);
    }
    else {
        ap_rprintf(r, "<hr />\n<h2>mod_shop</h2>\n<p>jobs process: %d</p>\n",
                   (int)shop_jobs_pid());
        status_children(r, 0);
        ap_rputs("<table border=\"0\">"
                   "<tr><th>shop</th><th>server</th><th>popular ranking age</th>"
                   "<th>outbox</th><th>sold-out campaigns</th>"
                 "<th>database breaker (this child)</th></tr>\n", r);
    }
    for (i = 0; i < sites->nelts; i++) {
        status_site(r, APR_ARRAY_IDX(sites, i, shop_site *), short_report);
    }
    if (!short_report) {
        ap_rputs("</table>\n", r);
    }
    return OK;
}

void shop_status_register(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, shop_status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
