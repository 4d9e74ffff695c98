/*
 * Scheduled jobs: one mod_watchdog singleton callback, so exactly one
 * child runs them at a time.  It keeps its own PostgreSQL connection
 * (through the shared pool it would starve under load, since mod_dbd's
 * pool has no acquire timeout) with the same parameters as DBDParams.
 *
 * Jobs: expire unpaid orders past ShopOrderHold; purge Idempotency-Keys
 * past ShopIdempotencyTTL.
 */
#include <mod_watchdog.h>

#include "mod_shop.h"

#define JOBS_WATCHDOG "_mod_shop_jobs_"
#define JOBS_INTERVAL apr_time_from_msec(500)
#define EXPIRE_BATCH "500"
#define PURGE_EVERY apr_time_from_sec(60)

/* mod_dbd keeps its server config private; its first member is the
 * dbd_cfg_t that mod_dbd.h publishes (stable since httpd 2.2). */
typedef struct {
    dbd_cfg_t *cfg;
} dbd_svr_cfg;

typedef struct {
    server_rec *s;
    const char *conninfo;
    PGconn *conn;               /* used only by the watchdog thread */
    apr_time_t last_purge;
} jobs_state;

static const char *dbd_params(server_rec *s)
{
    module *dbd = ap_find_linked_module("mod_dbd.c");
    dbd_svr_cfg *svr = dbd ? ap_get_module_config(s->module_config, dbd) : NULL;

    return svr && svr->cfg && svr->cfg->params ? svr->cfg->params : NULL;
}

/* A live connection, reconnecting when needed; NULL while PG is down. */
static PGconn *jobs_conn(jobs_state *js)
{
    if (js->conn && PQstatus(js->conn) == CONNECTION_OK) {
        return js->conn;
    }
    if (js->conn) {
        PQreset(js->conn);
    }
    else {
        js->conn = PQconnectdb(js->conninfo);
    }
    if (PQstatus(js->conn) != CONNECTION_OK) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, js->s,
                     "mod_shop: jobs: database unavailable: %s",
                     PQerrorMessage(js->conn));
        return NULL;
    }
    return js->conn;
}

/* Runs one job statement; returns the first value, or NULL on failure. */
static const char *run_job(jobs_state *js, apr_pool_t *p, const char *sql,
                           int nparams, const char *const *params)
{
    PGconn *conn = jobs_conn(js);
    PGresult *res;
    const char *value = NULL;

    if (conn == NULL) {
        return NULL;
    }
    res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) {
        value = apr_pstrdup(p, PQgetvalue(res, 0, 0));
    }
    else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, js->s,
                     "mod_shop: jobs: %s", PQresultErrorMessage(res));
    }
    PQclear(res);
    return value;
}

static void expire_orders(jobs_state *js, apr_pool_t *p)
{
    const char *params[1] = { EXPIRE_BATCH };
    const char *n = run_job(js, p, "SELECT shop_expire_orders($1::int)", 1, params);

    if (n && strcmp(n, "0") != 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, js->s,
                     "mod_shop: jobs: expired %s unpaid orders", n);
    }
}

static void purge_idempotency_keys(jobs_state *js, apr_pool_t *p)
{
    const shop_srv_cfg *sc = ap_get_module_config(js->s->module_config,
                                                  &shop_module);
    const char *params[1] = { shop_i64(p, sc->idem_ttl) };

    if (apr_time_now() - js->last_purge < PURGE_EVERY) {
        return;
    }
    js->last_purge = apr_time_now();
    run_job(js, p, "WITH gone AS (DELETE FROM idempotency_keys WHERE created_at"
            " < now() - $1::bigint * interval '1 microsecond' RETURNING 1)"
            " SELECT count(*) FROM gone", 1, params);
}

static apr_status_t jobs_tick(int state, void *data, apr_pool_t *pool)
{
    jobs_state *js = data;

    /* STARTING runs before mod_dbd's child_init: no DB work there. */
    if (state == AP_WATCHDOG_STATE_RUNNING) {
        expire_orders(js, pool);
        purge_idempotency_keys(js, pool);
    }
    else if (state == AP_WATCHDOG_STATE_STOPPING && js->conn) {
        PQfinish(js->conn);
        js->conn = NULL;
    }
    return APR_SUCCESS;         /* anything else would disable the job */
}

apr_status_t shop_jobs_register(apr_pool_t *pconf, server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_callback =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    ap_watchdog_t *wd;
    jobs_state *js;
    apr_status_t rv;

    if (!get_instance || !register_callback) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_shop: mod_watchdog is not available");
        return APR_ENOTIMPL;
    }
    js = apr_pcalloc(pconf, sizeof(*js));
    js->s = s;
    js->conninfo = dbd_params(s);
    if (js->conninfo == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_shop: DBDParams is not set for the main server");
        return APR_EINVAL;
    }
    rv = get_instance(&wd, JOBS_WATCHDOG, 0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = register_callback(wd, JOBS_INTERVAL, js, jobs_tick);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "mod_shop: cannot register the scheduled jobs");
    }
    return rv;
}
