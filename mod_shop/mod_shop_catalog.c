/*
 * The catalog sync job: carries catalog changes made anywhere (an admin
 * route on another node, psql, a migration) into this node's catalog
 * cache within ShopCatalogSync.
 *
 * The triggers of sql/functions/shop_catalog_changed.sql write a row per
 * changed product or campaign to catalog_changes, numbered by a sequence,
 * in the changing transaction.  Every tick this job reads the rows past
 * the newest it applied and forgets the cached copies they name (a
 * product's also forgets every page).  A plain indexed read: it works
 * through a transaction-pooling PgBouncer, and adds nothing to the order
 * and payment path.
 *
 * Sequence numbers are taken before commit, so a transaction may commit
 * a lower number after a higher one was read.  Each read therefore starts
 * WINDOW numbers below the newest applied (rows of the last few seconds
 * only), and a ring of the numbers applied skips those already done.  A
 * change committed later than that is still bounded by ShopCatalogMaxAge,
 * past which no entry is served.
 *
 * The first read that works after one that failed (the database was
 * away: changes may have been made through a node that reached it) flushes
 * the whole catalog first, and so does a read more than GAP after the last
 * one that worked (the schema check held the jobs, or they were starved),
 * since changes made meanwhile may be past RECENT before it reads them.
 * GAP is half of RECENT, so a jobs process starved for a second on a busy
 * box (a flash sale) does not throw away the catalog its readers live on.
 */
#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_cache.h"
#include "mod_shop_jobs.h"

#define WINDOW 128                  /* re-read below the newest applied */
#define RING 256                    /* > WINDOW: numbers applied, by number */
#define RECENT apr_time_from_sec(5) /* how far back a read looks */
/* Longer than this between two reads that worked: flush (ticks are
 * ShopCatalogSync apart); the rest of RECENT is left for commits that
 * come a while after their change was logged. */
#define GAP (RECENT / 2)

typedef struct {
    apr_int64_t newest;             /* the newest number applied; -1: not known */
    apr_int64_t ring[RING];
    apr_time_t last_read;           /* the last read that worked; 0: none yet */
    apr_time_t retry_at;            /* after a failed read (logged): not before;
                                     * past last_read: a read failed since */
} catalog_state;

static void note(volatile apr_uint64_t *field, apr_uint64_t value)
{
    __atomic_store_n(field, value, __ATOMIC_RELAXED);
}

/* Where to start: where a previous jobs process of this generation left
 * off (it died and was started again; the cache lived on), else the end
 * of the log (the cache starts empty, so older rows are done). */
static int find_newest(shop_job *job, catalog_state *st)
{
    apr_uint64_t left_off = __atomic_load_n(&job->site->catalog_sync->last_seq,
                                            __ATOMIC_RELAXED);
    PGresult *res;

    if (left_off > 0) {
        st->newest = (apr_int64_t)left_off;
        return 1;
    }
    if ((res = shop_job_query(job, SQL_JOB_CATALOG_NEWEST, NULL)) == NULL) {
        return 0;
    }
    st->newest = apr_atoi64(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 1;
}

static void apply_row(shop_job *job, catalog_state *st, PGresult *res, int row)
{
    shop_catalog_sync *sync = job->site->catalog_sync;
    apr_int64_t seq = apr_atoi64(PQgetvalue(res, row, 0));
    apr_uint64_t lag = (apr_uint64_t)apr_atoi64(PQgetvalue(res, row, 3));
    shop_cache_kind kind = strcmp(PQgetvalue(res, row, 1), "coupon") == 0
                           ? SHOP_CACHE_COUPON : SHOP_CACHE_PRODUCT;

    if (st->ring[seq % RING] == seq) {
        return;
    }
    st->ring[seq % RING] = seq;
    shop_cache_forget_site(job->site, kind, apr_atoi64(PQgetvalue(res, row, 2)));
    if (seq > st->newest) {
        st->newest = seq;
    }
    note(&sync->changes, sync->changes + 1);
    note(&sync->lag_last_us, lag);
    if (lag > sync->lag_max_us) {
        note(&sync->lag_max_us, lag);
    }
}

/* The rows past WINDOW below the newest applied, of the last RECENT;
 * NULL (logged) on failure. */
static PGresult *read_changes(shop_job *job, catalog_state *st, apr_pool_t *p)
{
    const char *params[2];

    if (st->newest < 0 && !find_newest(job, st)) {
        return NULL;
    }
    params[0] = shop_i64(p, st->newest > WINDOW ? st->newest - WINDOW : 0);
    params[1] = shop_i64(p, RECENT);
    return shop_job_query(job, SQL_JOB_CATALOG_CHANGES, params);
}

static void catalog_run(shop_job *job, apr_pool_t *p)
{
    catalog_state *st = job->data;
    shop_catalog_sync *sync = job->site->catalog_sync;
    PGresult *res;
    int i;

    if (apr_time_now() < st->retry_at) {
        return;
    }
    if ((res = read_changes(job, st, p)) == NULL) {
        st->retry_at = apr_time_now() + SHOP_JOB_RETRY_AFTER_FAILURE;
        return;
    }
    if (st->last_read != 0 && (st->retry_at > st->last_read
                               || apr_time_now() - st->last_read > GAP)) {
        shop_cache_forget_site(job->site, 0, 0);
        note(&sync->flushes, sync->flushes + 1);
    }
    st->last_read = apr_time_now();
    for (i = 0; i < PQntuples(res); i++) {
        apply_row(job, st, res, i);
    }
    PQclear(res);
    note(&sync->last_seq, (apr_uint64_t)st->newest);
    note(&sync->synced_at, (apr_uint64_t)apr_time_now());
}

void shop_catalog_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs)
{
    shop_job *job;
    catalog_state *st;

    if (site->catalog_sync == NULL || (site->cache[SHOP_CACHE_CATALOG] == NULL
                                       && site->cache[SHOP_CACHE_PAGES] == NULL)) {
        return;
    }
    st = apr_pcalloc(p, sizeof(*st));
    st->newest = -1;
    job = shop_job_add(p, site, jobs, "catalog", catalog_run, st);
    job->interval = job->sc->catalog_sync;
}
