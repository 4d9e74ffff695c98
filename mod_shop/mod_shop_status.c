/*
 * What an operator and a load balancer can ask:
 *
 * - GET /health (liveness: the handler answers, no database) and
 *   GET /health/ready (readiness: a pooled connection answers SELECT 1,
 *   else 503), under the API mount;
 * - GET /admin/status: the shop's popular ranking age, outbox backlog,
 *   sold-out campaigns, this child's database pool, the jobs process;
 * - a mod_shop section in mod_status's /server-status (every shop).
 */
#include <http_main.h>
#include <mod_status.h>

#include "mod_shop.h"

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

int shop_health_ready(shop_req *q)
{
    return shop_run(q, SHOP_RUN_READ, ready_work, NULL);
}

/* ---- GET /admin/status ------------------------------------------------------ */

static json_t *pool_doc(void)
{
    return json_pack("{s:i, s:i}", "child_pid", (int)getpid(),
                     "in_use", (int)shop_db_in_use());
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

static shop_dbrc status_work(shop_req *q, void *ctx, shop_resp *out)
{
    PGresult *res;
    shop_dbrc rc = shop_db_exec(q->db, SQL_STATUS_OUTBOX, NULL, &res);
    json_t *doc;

    (void)ctx;
    if (rc != SHOP_DB_OK) {
        return rc;
    }
    doc = json_pack("{s:o, s:{s:o, s:o, s:s?, s:b}, s:i, s:o, s:i}",
                    "popular", popular_doc(q->r->pool, q->sc->site),
                    "outbox",
                      "pending", shop_json_i64(PQgetvalue(res, 0, 0)),
                      "oldest_pending_age_seconds", shop_json_i64(PQgetvalue(res, 0, 1)),
                      "last_error", PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2),
                      "platform_configured", q->sc->platform_url != NULL,
                    "sold_out_campaigns", shop_soldout_count(q->sc->site),
                    "db_pool", pool_doc(),
                    "jobs_pid", (int)shop_jobs_pid());
    shop_resp_ok(out, 200, shop_json_own(q->r->pool, doc));
    return SHOP_DB_OK;
}

int shop_admin_status(shop_req *q)
{
    return shop_run(q, SHOP_RUN_READ, status_work, NULL);
}

/* ---- mod_status ------------------------------------------------------------- */

/* The outbox line of one shop, or why there is none. */
static const char *outbox_line(request_rec *r, const shop_site *site,
                               apr_int64_t *pending, apr_int64_t *oldest)
{
    shop_db *db = NULL;
    PGresult *res = NULL;
    const char *error = NULL;

    *pending = *oldest = -1;
    if (shop_db_open_for(r, site->s, &db) != SHOP_DB_OK) {
        return "database unavailable";
    }
    if (shop_db_exec(db, SQL_STATUS_OUTBOX, NULL, &res) != SHOP_DB_OK) {
        error = "query failed";
    }
    else {
        *pending = apr_atoi64(PQgetvalue(res, 0, 0));
        *oldest = apr_atoi64(PQgetvalue(res, 0, 1));
    }
    shop_db_close(db);
    return error;
}

static void status_site(request_rec *r, const shop_site *site, int short_report)
{
    apr_time_t at = shop_popular_generated_at(site);
    apr_int64_t age = at ? apr_time_sec(apr_time_now() - at) : -1;
    apr_int64_t pending, oldest;
    const char *error = outbox_line(r, site, &pending, &oldest);
    int soldout = shop_soldout_count(site);

    if (short_report) {
        ap_rprintf(r, "ShopPopularAge%d: %" APR_INT64_T_FMT "\n"
                   "ShopOutboxPending%d: %" APR_INT64_T_FMT "\n"
                   "ShopOutboxOldestAge%d: %" APR_INT64_T_FMT "\n"
                   "ShopSoldOutCampaigns%d: %d\n",
                   site->index, age, site->index, pending, site->index, oldest,
                   site->index, soldout);
        return;
    }
    ap_rprintf(r, "<tr><td>%d</td><td>%s</td><td>%" APR_INT64_T_FMT " s</td>"
               "<td>%s</td><td>%d</td></tr>\n", site->index,
               ap_escape_html(r->pool, site->s->server_hostname
                                       ? site->s->server_hostname : ""),
               age,
               error ? error : apr_psprintf(r->pool, "%" APR_INT64_T_FMT
                                            " pending, oldest %" APR_INT64_T_FMT " s",
                                            pending, oldest),
               soldout);
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
    }
    else {
        ap_rprintf(r, "<hr />\n<h2>mod_shop</h2>\n<p>jobs process: %d; this "
                   "child (%d): %u pooled connections in use</p>\n<table border=\"0\">"
                   "<tr><th>shop</th><th>server</th><th>popular ranking age</th>"
                   "<th>outbox</th><th>sold-out campaigns</th></tr>\n",
                   (int)shop_jobs_pid(), (int)getpid(), shop_db_in_use());
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
