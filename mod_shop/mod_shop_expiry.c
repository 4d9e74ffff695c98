/*
 * The housekeeping job: expires unpaid orders past ShopOrderHold (their
 * stock goes back), and purges what only grows (issue 13): Idempotency-Keys
 * past ShopIdempotencyTTL, delivered outbox events past ShopOutboxRetention
 * (never an undelivered one), sales ledger lines past ShopSalesRetention,
 * catalog change log rows past an hour.
 *
 * A purge deletes in batches of PURGE_BATCH rows, each batch one statement
 * and so one short transaction, through the index on the time it purges by
 * (sql/migrations/005_flat_cost.sql), at most PURGE_BATCHES batches or
 * PURGE_BUDGET per table per tick.  A table that still has more to purge
 * (a backlog, say when retention is first enabled on a big table) is
 * purged again on the next tick; else the purge waits PURGE_EVERY (less
 * with short retention settings).
 */
#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_jobs.h"

#define EXPIRY_INTERVAL apr_time_from_msec(500)
#define EXPIRY_BATCH "500"
#define PURGE_EVERY apr_time_from_sec(60)
#define PURGE_EVERY_MIN apr_time_from_sec(1)
#define PURGE_BATCH 1000
#define PURGE_BATCHES 20
#define PURGE_BUDGET apr_time_from_msec(250)
/* The catalog sync reads seconds of its log (mod_shop_catalog.c). */
#define CATALOG_CHANGES_KEPT apr_time_from_sec(3600)

typedef struct {
    apr_time_t last_purge;
    int backlog;                /* the last purge left rows behind */
} expiry_state;

static void expire_orders(shop_job *job)
{
    const char *params[1] = { EXPIRY_BATCH };
    PGresult *res = shop_job_query(job, SQL_JOB_EXPIRE, params);

    if (res && strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
        /* their stock is back: pages show it within ShopCatalogMaxAge */
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, job->s,
                     SHOPLOGNO(00010) "shop %s: expired %s unpaid orders",
                     job->site->name, PQgetvalue(res, 0, 0));
    }
    PQclear(res);
}

/* One table's purge: batches until caught up or out of batches / time.
 * Returns 1 when rows are left. */
static int purge_table(shop_job *job, apr_pool_t *p, shop_sql sql,
                       const char *table, apr_interval_time_t older)
{
    const char *params[2] = { shop_i64(p, older), apr_itoa(p, PURGE_BATCH) };
    apr_time_t started = apr_time_now();
    apr_int64_t total = 0;
    int batches = 0, n = PURGE_BATCH;

    while (n == PURGE_BATCH && batches < PURGE_BATCHES
           && apr_time_now() - started < PURGE_BUDGET) {
        PGresult *res = shop_job_query(job, sql, params);

        if (res == NULL) {
            return 0;           /* logged; the next purge tries again */
        }
        n = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
        total += n;
        batches++;
    }
    if (total > 0) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, job->s, SHOPLOGNO(00035) "shop %s: purged %"
                     APR_INT64_T_FMT " rows of %s in %d batches (%" APR_TIME_T_FMT
                     " us)%s", job->site->name, total, table, batches, apr_time_now() - started,
                     n == PURGE_BATCH ? ", more left" : "");
    }
    return n == PURGE_BATCH;
}

static void purge(shop_job *job, apr_pool_t *p)
{
    expiry_state *st = job->data;
    const shop_srv_cfg *sc = job->sc;
    apr_interval_time_t every = sc->idem_ttl;
    int left = 0;

    if (sc->outbox_retention < every) every = sc->outbox_retention;
    if (sc->sales_retention < every) every = sc->sales_retention;
    every /= 4;                 /* rows outlive their retention by 1/4 at most */
    every = every > PURGE_EVERY ? PURGE_EVERY
          : every < PURGE_EVERY_MIN ? PURGE_EVERY_MIN : every;
    if (!st->backlog && apr_time_now() - st->last_purge < every) {
        return;
    }
    st->last_purge = apr_time_now();
    left |= purge_table(job, p, SQL_JOB_PURGE_IDEMPOTENCY, "idempotency_keys",
                        sc->idem_ttl);
    left |= purge_table(job, p, SQL_JOB_PURGE_OUTBOX, "outbox", sc->outbox_retention);
    left |= purge_table(job, p, SQL_JOB_PURGE_SALES, "sales", sc->sales_retention);
    left |= purge_table(job, p, SQL_JOB_PURGE_CATALOG_CHANGES, "catalog_changes",
                        CATALOG_CHANGES_KEPT);
    st->backlog = left;
}

static void expiry_run(shop_job *job, apr_pool_t *p)
{
    expire_orders(job);
    purge(job, p);
}

void shop_expiry_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs)
{
    shop_job *job = shop_job_add(p, site, jobs, "expiry", expiry_run,
                                 apr_pcalloc(p, sizeof(expiry_state)));

    job->interval = EXPIRY_INTERVAL;
}
