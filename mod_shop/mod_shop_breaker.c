/*
 * A circuit breaker per shop and child process.
 *
 * While PostgreSQL is unreachable, asking mod_dbd's pool for a connection
 * costs a connection attempt and two error-log lines per request, and
 * hammers a database that is coming back.  So the first failure opens
 * the breaker: requests answer 503 at once without asking the pool.
 *
 * Whether the database is back is asked by the jobs process, not by a
 * request: its prober (one per shop) pings it with PQping (no session, no
 * log line) every ShopDBProbeInterval while a child says it is down, and
 * publishes the answer in shared memory, where every child sees it, so no
 * request waits for a probe and the database gets one probe per interval
 * whatever the number of children.  Should the prober be silent (its
 * process restarting), a child probes by itself, at the same interval.
 *
 * The log gets one line when it opens, one summary per SUMMARY_EVERY
 * while it stays open, and one when it closes.
 */
#include <stdlib.h>
#include <unistd.h>

#include <apr_atomic.h>

#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_breaker.h"
#include "mod_shop_jobs.h"

#define SUMMARY_EVERY apr_time_from_sec(10)
#define PROBE_TIMEOUT "2"       /* seconds: connect_timeout of a probe */
/* The prober is alive if it ticked this recently (it ticks every interval). */
#define PROBER_SILENT(interval) ((interval) * 4 > apr_time_from_sec(2) \
                                 ? (interval) * 4 : apr_time_from_sec(2))

void shop_breaker_child_init(apr_pool_t *pchild)
{
    apr_array_header_t *sites = shop_sites();
    int i;

    /* Each child its own jitter (next_probe): random() left unseeded gives
     * every child the same sequence, so their probes would arrive together. */
    srandom((unsigned int)getpid() ^ (unsigned int)apr_time_now());
    for (i = 0; sites && i < sites->nelts; i++) {
        shop_site *site = APR_ARRAY_IDX(sites, i, shop_site *);
        const shop_srv_cfg *sc = ap_get_module_config(site->s->module_config,
                                                      &shop_module);
        apr_thread_mutex_create(&site->breaker.lock, APR_THREAD_MUTEX_DEFAULT, pchild);
        site->breaker.interval = sc->db_probe_interval;
    }
}

/* The interval, ±20 %, so the children's probes do not arrive together. */
static apr_time_t next_probe(const shop_breaker *b, apr_time_t now)
{
    apr_interval_time_t fifth = b->interval / 5;

    return now + b->interval - fifth + (apr_interval_time_t)(random() % (2 * fifth + 1));
}

static int database_answers(const shop_site *site)
{
    const char *const keys[] = { "dbname", "connect_timeout", NULL };
    const char *const values[] = { site->probe_conninfo, PROBE_TIMEOUT, NULL };

    return PQpingParams(keys, values, 1) == PQPING_OK;
}

/* With the lock held: one line per SUMMARY_EVERY while open.  Every line
 * names the shop: one request may touch another shop's database (the
 * status views), and its log is the answering server's. */
static void summarize(request_rec *r, const shop_site *site, shop_breaker *b,
                      apr_time_t now)
{
    if (now < b->next_summary) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SHOPLOGNO(00004) "shop %s: database still "
                  "unreachable after %" APR_TIME_T_FMT " s: %u requests answered "
                  "503 in the last %" APR_TIME_T_FMT " s", site->name,
                  apr_time_sec(now - b->opened_at), b->refused,
                  apr_time_sec(SUMMARY_EVERY));
    b->refused = 0;
    b->next_summary = now + SUMMARY_EVERY;
}

static apr_time_t shared(volatile apr_uint64_t *v)
{
    return (apr_time_t)apr_atomic_read64(v);
}

/* Moves a shared time forward only (several writers). */
static void advance(volatile apr_uint64_t *v, apr_time_t t)
{
    apr_uint64_t seen = apr_atomic_read64(v);

    while (seen < (apr_uint64_t)t) {
        apr_uint64_t was = apr_atomic_cas64(v, (apr_uint64_t)t, seen);
        if (was == seen) {
            break;
        }
        seen = was;
    }
}

static void close_breaker(request_rec *r, shop_site *site, shop_breaker *b,
                          apr_time_t now)
{
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, SHOPLOGNO(00005) "shop %s: database "
                  "reachable again after %" APR_TIME_T_FMT " ms; %" APR_UINT64_T_FMT
                  " requests were answered 503 meanwhile", site->name,
                  apr_time_as_msec(now - b->opened_at), b->refused_total);
    apr_atomic_set32(&b->open, 0);
}

int shop_breaker_allow(request_rec *r, shop_site *site)
{
    shop_breaker *b = site ? &site->breaker : NULL;
    volatile shop_dbstate *st = site ? site->dbstate : NULL;
    apr_time_t now;
    int probe = 0, ok;

    if (b == NULL || b->lock == NULL || st == NULL || !apr_atomic_read32(&b->open)) {
        return 1;
    }
    now = apr_time_now();
    apr_thread_mutex_lock(b->lock);
    if (b->open && shared(&st->reachable_at) > b->opened_at) {
        close_breaker(r, site, b, now);     /* the prober found it back */
    }
    else if (b->open && !b->probing && now >= b->next_probe
             && now - shared(&st->probed_at) > PROBER_SILENT(b->interval)) {
        b->probing = probe = 1;             /* no prober: ask ourselves */
        b->next_probe = next_probe(b, now);
    }
    else if (b->open) {
        b->refused++;
        b->refused_total++;
        summarize(r, site, b, now);
    }
    ok = !b->open;
    apr_thread_mutex_unlock(b->lock);
    if (!probe) {
        return ok;
    }
    ok = database_answers(site);
    apr_thread_mutex_lock(b->lock);
    b->probing = 0;
    if (ok) {
        advance(&st->reachable_at, apr_time_now());
        if (b->open) {
            close_breaker(r, site, b, apr_time_now());
        }
    }
    else {
        b->refused++;
        b->refused_total++;
    }
    apr_thread_mutex_unlock(b->lock);
    return ok;
}

void shop_breaker_failure(request_rec *r, shop_site *site, const char *why)
{
    shop_breaker *b = site ? &site->breaker : NULL;
    apr_time_t now = apr_time_now();

    if (b == NULL || b->lock == NULL) {
        return;
    }
    if (site->dbstate) {
        advance(&site->dbstate->unreachable_at, now);    /* wakes the prober */
    }
    apr_thread_mutex_lock(b->lock);
    if (!b->open) {
        b->opened_at = now;
        b->next_probe = next_probe(b, now);
        b->next_summary = now + SUMMARY_EVERY;
        b->refused = 0;
        b->refused_total = 0;
        apr_atomic_set32(&b->open, 1);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, SHOPLOGNO(00006) "shop %s: database "
                      "unreachable (%s): answering 503 at once, checking every %"
                      APR_TIME_T_FMT " ms whether it is back", site->name, why,
                      apr_time_as_msec(b->interval));
    }
    apr_thread_mutex_unlock(b->lock);
}

apr_time_t shop_breaker_open_since(shop_site *site, apr_uint64_t *refused)
{
    shop_breaker *b = site ? &site->breaker : NULL;
    apr_time_t since = 0;

    *refused = 0;
    if (b == NULL || b->lock == NULL || !apr_atomic_read32(&b->open)) {
        return 0;
    }
    apr_thread_mutex_lock(b->lock);
    if (b->open) {
        since = b->opened_at;
        *refused = b->refused_total;
    }
    apr_thread_mutex_unlock(b->lock);
    return since;
}

/* ---- in the jobs process: the prober of one shop ------------------------- */

/* While some child says the database is down, ask it every interval. */
static void prober_run(shop_job *job, apr_pool_t *p)
{
    volatile shop_dbstate *st = job->site->dbstate;
    apr_time_t now = apr_time_now();

    (void)p;
    if (st == NULL) {
        return;
    }
    advance(&st->probed_at, now);
    if (shared(&st->unreachable_at) > shared(&st->reachable_at)
        && database_answers(job->site)) {
        advance(&st->reachable_at, apr_time_now());
    }
}

void shop_breaker_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs)
{
    shop_job *job = shop_job_add(p, site, jobs, "prober", prober_run, NULL);

    job->interval = job->sc->db_probe_interval;
    job->any_schema = 1;
}
