/*
 * GET /admin/status: what an operator needs at a glance — the popular
 * ranking's age, the outbox backlog, and this child's database pool.
 * Guarded like every admin route, by httpd's Require.
 */
#include <http_main.h>

#include "mod_shop.h"

static json_t *pool_doc(request_rec *r)
{
    const dbd_cfg_t *cfg = shop_dbd_cfg(r->server);

    return json_pack("{s:i, s:i, s:i}", "child_pid", (int)getpid(),
                     "in_use", (int)shop_db_in_use(),
                     "max", cfg ? cfg->nmax : -1);
}

static json_t *popular_doc(apr_pool_t *p)
{
    apr_time_t at = shop_popular_generated_at();

    if (at == 0) {
        return json_pack("{s:n, s:n}", "generated_at", "age_seconds");
    }
    return json_pack("{s:s, s:I}", "generated_at", shop_rfc3339(p, at),
                     "age_seconds", (json_int_t)apr_time_sec(apr_time_now() - at));
}

/* The jobs run with the main server's settings, whatever vhost answers. */
static const shop_srv_cfg *main_cfg(void)
{
    return ap_get_module_config(ap_server_conf->module_config, &shop_module);
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
    doc = json_pack("{s:o, s:{s:o, s:o, s:s?, s:b}, s:o}",
                    "popular", popular_doc(q->r->pool),
                    "outbox",
                      "pending", shop_json_i64(PQgetvalue(res, 0, 0)),
                      "oldest_pending_age_seconds", shop_json_i64(PQgetvalue(res, 0, 1)),
                      "last_error", PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2),
                      "platform_configured", main_cfg()->platform_url != NULL,
                    "db_pool", pool_doc(q->r));
    shop_resp_ok(out, 200, shop_json_own(q->r->pool, doc));
    return SHOP_DB_OK;
}

int shop_admin_status(shop_req *q)
{
    return shop_run(q, SHOP_RUN_READ, status_work, NULL);
}
