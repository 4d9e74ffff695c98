/*
 * A circuit breaker per shop and child process.
 *
 * While PostgreSQL is unreachable, asking mod_dbd's pool for a connection
 * costs a connection attempt and two error-log lines per request, and
 * hammers a database that is coming back.  So the first failure opens
 * the breaker: requests answer 503 at once without asking the pool, and
 * one request per ShopDBProbeInterval (with jitter) probes the database
 * with PQping (no session, no log line), whose success closes it.
 *
 * The log gets one line when it opens, one summary per SUMMARY_EVERY
 * while it stays open, and one when it closes.  A child whose probe finds
 * the database back tells the others through shared memory, so every
 * child serves again at once, not each at its own next probe.
 */
#include <apr_atomic.h>

#include "mod_shop.h"

#define SUMMARY_EVERY apr_time_from_sec(10)
#define PROBE_TIMEOUT "2"       /* seconds: connect_timeout of a probe */

void shop_breaker_child_init(apr_pool_t *pchild)
{
    apr_array_header_t *sites = shop_sites();
    int i;

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

/* With the lock held: one line per SUMMARY_EVERY while open. */
static void summarize(request_rec *r, shop_breaker *b, apr_time_t now)
{
    if (now < b->next_summary) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "mod_shop: database still "
                  "unreachable after %" APR_TIME_T_FMT " s: %u requests answered "
                  "503 in the last %" APR_TIME_T_FMT " s", apr_time_sec(now - b->opened_at),
                  b->refused, apr_time_sec(SUMMARY_EVERY));
    b->refused = 0;
    b->next_summary = now + SUMMARY_EVERY;
}

static void close_breaker(request_rec *r, shop_site *site, shop_breaker *b,
                          apr_time_t now)
{
    if (site->reachable_at) {
        apr_atomic_xchg64(site->reachable_at, (apr_uint64_t)now);
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, "mod_shop: database reachable "
                  "again after %" APR_TIME_T_FMT " ms; %" APR_UINT64_T_FMT
                  " requests were answered 503 meanwhile",
                  apr_time_as_msec(now - b->opened_at), b->refused_total);
    apr_atomic_set32(&b->open, 0);
}

int shop_breaker_allow(request_rec *r, shop_site *site)
{
    shop_breaker *b = site ? &site->breaker : NULL;
    apr_time_t now;
    int probe = 0, ok;

    if (b == NULL || b->lock == NULL || !apr_atomic_read32(&b->open)) {
        return 1;
    }
    now = apr_time_now();
    apr_thread_mutex_lock(b->lock);
    if (b->open && site->reachable_at
        && (apr_time_t)apr_atomic_read64(site->reachable_at) > b->opened_at) {
        close_breaker(r, site, b, now);     /* another child found it back */
    }
    if (b->open && !b->probing && now >= b->next_probe) {
        b->probing = probe = 1;
        b->next_probe = next_probe(b, now);
    }
    else if (b->open) {
        b->refused++;
        b->refused_total++;
        summarize(r, b, now);
    }
    ok = !b->open;
    apr_thread_mutex_unlock(b->lock);
    if (!probe) {
        return ok;
    }
    ok = database_answers(site);
    apr_thread_mutex_lock(b->lock);
    b->probing = 0;
    if (ok && b->open) {
        close_breaker(r, site, b, apr_time_now());
    }
    else if (!ok) {
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
    apr_thread_mutex_lock(b->lock);
    if (!b->open) {
        b->opened_at = now;
        b->next_probe = next_probe(b, now);
        b->next_summary = now + SUMMARY_EVERY;
        b->refused = 0;
        b->refused_total = 0;
        apr_atomic_set32(&b->open, 1);
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "mod_shop: database "
                      "unreachable (%s): answering 503 at once, checking every %"
                      APR_TIME_T_FMT " ms whether it is back", why,
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
