/*
 * Scheduled jobs on mod_watchdog.  Each job is a singleton watchdog
 * instance of its own (its own thread, in exactly one child at a time),
 * so a slow popular refresh never delays order expiry, and each keeps
 * its own PostgreSQL connection: through mod_dbd's pool it would starve
 * under load, since that pool has no acquire timeout.  The connection
 * uses the main server's DBDParams.
 */
#include <mod_watchdog.h>

#include "mod_shop.h"

static const char *dbd_params(server_rec *s)
{
    const dbd_cfg_t *cfg = shop_dbd_cfg(s);

    return cfg ? cfg->params : NULL;
}

PGconn *shop_job_conn(shop_job *job)
{
    if (job->conn && PQstatus(job->conn) == CONNECTION_OK) {
        return job->conn;
    }
    if (job->conn) {
        PQreset(job->conn);
    }
    else {
        job->conn = PQconnectdb(job->conninfo);
    }
    if (PQstatus(job->conn) != CONNECTION_OK) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, job->s,
                     "mod_shop: %s: database unavailable: %s", job->name,
                     PQerrorMessage(job->conn));
        return NULL;
    }
    return job->conn;
}

PGresult *shop_job_query(shop_job *job, const char *sql, int nparams,
                         const char *const *params)
{
    PGconn *conn = shop_job_conn(job);
    PGresult *res;

    if (conn == NULL) {
        return NULL;
    }
    res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK
        && PQresultStatus(res) != PGRES_COMMAND_OK) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, job->s, "mod_shop: %s: %s",
                     job->name, PQresultErrorMessage(res));
        PQclear(res);
        return NULL;
    }
    return res;
}

static apr_status_t job_tick(int state, void *data, apr_pool_t *pool)
{
    shop_job *job = data;

    /* STARTING runs before mod_dbd's child_init: no DB work there. */
    if (state == AP_WATCHDOG_STATE_RUNNING) {
        job->run(job, pool);
    }
    else if (state == AP_WATCHDOG_STATE_STOPPING && job->conn) {
        PQfinish(job->conn);
        job->conn = NULL;
    }
    return APR_SUCCESS;         /* anything else would disable the job */
}

apr_status_t shop_job_start(apr_pool_t *pconf, server_rec *s, shop_job *job)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_callback =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    ap_watchdog_t *wd;
    apr_status_t rv;

    job->s = s;
    job->conninfo = dbd_params(s);
    if (!get_instance || !register_callback || job->conninfo == NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "mod_shop: %s needs "
                     "mod_watchdog and DBDParams on the main server", job->name);
        return APR_EINVAL;
    }
    rv = get_instance(&wd, apr_pstrcat(pconf, "_mod_shop_", job->name, NULL),
                      0, 1, pconf);
    if (rv == APR_SUCCESS) {
        rv = register_callback(wd, job->interval, job, job_tick);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     "mod_shop: cannot schedule %s", job->name);
    }
    return rv;
}
