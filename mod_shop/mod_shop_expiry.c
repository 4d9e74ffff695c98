/*
 * The housekeeping job: expires unpaid orders past ShopOrderHold (their
 * stock goes back) and forgets Idempotency-Keys past ShopIdempotencyTTL.
 */
#include "mod_shop.h"

#define EXPIRY_INTERVAL apr_time_from_msec(500)
#define EXPIRY_BATCH "500"
#define PURGE_EVERY apr_time_from_sec(60)


static void expire_orders(shop_job *job)
{
    const char *params[1] = { EXPIRY_BATCH };
    PGresult *res = shop_job_query(job, "SELECT shop_expire_orders($1::int)",
                                   1, params);

    if (res && strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, job->s,
                     SHOPLOGNO(00010) "expired %s unpaid orders", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
}

static void purge_idempotency_keys(shop_job *job, apr_pool_t *p)
{
    apr_time_t *last_purge = job->data;
    const char *params[1] = { shop_i64(p, job->sc->idem_ttl) };

    if (apr_time_now() - *last_purge < PURGE_EVERY) {
        return;
    }
    *last_purge = apr_time_now();
    PQclear(shop_job_query(job, "DELETE FROM idempotency_keys WHERE"
                           " created_at < now() - $1::bigint * interval"
                           " '1 microsecond'", 1, params));
}

static void expiry_run(shop_job *job, apr_pool_t *p)
{
    expire_orders(job);
    purge_idempotency_keys(job, p);
}

void shop_expiry_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs)
{
    shop_job *job = apr_pcalloc(p, sizeof(*job));

    job->name = "expiry";
    job->interval = EXPIRY_INTERVAL;
    job->run = expiry_run;
    job->site = site;
    job->s = site->s;
    job->sc = ap_get_module_config(site->s->module_config, &shop_module);
    job->data = apr_pcalloc(p, sizeof(apr_time_t));     /* the last purge */
    APR_ARRAY_PUSH(jobs, shop_job *) = job;
}
