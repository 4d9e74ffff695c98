/*
 * The housekeeping job: expires unpaid orders past ShopOrderHold (their
 * stock goes back) and forgets Idempotency-Keys past ShopIdempotencyTTL.
 */
#include "mod_shop.h"

#define EXPIRY_INTERVAL apr_time_from_msec(500)
#define EXPIRY_BATCH "500"
#define PURGE_EVERY apr_time_from_sec(60)

typedef struct {
    shop_job job;               /* first: the job callbacks get this */
    apr_time_t last_purge;
} expiry_job;

static void expire_orders(shop_job *job)
{
    const char *params[1] = { EXPIRY_BATCH };
    PGresult *res = shop_job_query(job, "SELECT shop_expire_orders($1::int)",
                                   1, params);

    if (res && strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, job->s,
                     "mod_shop: expired %s unpaid orders", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
}

static void purge_idempotency_keys(expiry_job *ej, apr_pool_t *p)
{
    const shop_srv_cfg *sc = ap_get_module_config(ej->job.s->module_config,
                                                  &shop_module);
    const char *params[1] = { shop_i64(p, sc->idem_ttl) };

    if (apr_time_now() - ej->last_purge < PURGE_EVERY) {
        return;
    }
    ej->last_purge = apr_time_now();
    PQclear(shop_job_query(&ej->job, "DELETE FROM idempotency_keys WHERE"
                           " created_at < now() - $1::bigint * interval"
                           " '1 microsecond'", 1, params));
}

static void expiry_run(shop_job *job, apr_pool_t *p)
{
    expire_orders(job);
    purge_idempotency_keys((expiry_job *)job, p);
}

apr_status_t shop_expiry_start(apr_pool_t *pconf, server_rec *s)
{
    expiry_job *ej = apr_pcalloc(pconf, sizeof(*ej));

    ej->job.name = "expiry";
    ej->job.interval = EXPIRY_INTERVAL;
    ej->job.run = expiry_run;
    return shop_job_start(pconf, s, &ej->job);
}
