/*
 * The outbox relay: delivers ORDER_PAID and ORDER_CANCELLED events to
 * ShopPlatformURL, at least once, in the background.
 *
 * Events are written in the payment's own transaction (sql/), so none is
 * lost.  The relay leases a batch (next_attempt_at pushed past the time a
 * send can take, FOR UPDATE SKIP LOCKED, so two relays never share an
 * event), POSTs each with `Idempotency-Key: <event_id>`, and marks it
 * delivered, or schedules a retry with capped exponential backoff.  If
 * the child dies mid-send the lease runs out and the event is sent again:
 * a duplicate is only ever a retry of the same event_id.  No request
 * thread ever waits for the platform.
 *
 * Events of one order go out in order: an event is leased only when no
 * earlier event of its order is still undelivered (dead or not), so an
 * ORDER_CANCELLED never overtakes its ORDER_PAID.  A permanent refusal
 * (HTTP 4xx other than 408 and 429) counts; after ShopPlatformDeadAfter
 * of them the event is parked as dead (dead_at) and never leased again
 * until an admin redelivers it (POST /admin/outbox/dead/{id}/redeliver).
 * Anything else (no answer, 5xx, 408, 429) is retried forever.
 */
#include <curl/curl.h>

#include "mod_shop.h"

#define RELAY_TICK apr_time_from_msec(250)
#define RELAY_BATCH "100"



/*
 * Backoff: 1 s doubling per failed attempt, capped at ShopPlatformRetryMax.
 * $4: the HTTP status (NULL: no answer); $5: a permanent refusal;
 * $6: ShopPlatformDeadAfter.  Returns whether the event is now dead.
 */

static size_t discard_body(char *data, size_t size, size_t n, void *ctx)
{
    (void)data; (void)ctx;
    return size * n;
}

typedef struct {
    shop_job job;               /* first: the job callbacks get this */
    CURL *curl;                 /* kept across sends: keep-alive to the platform */
} relay_job;

/* One POST; NULL on a 2xx, else what went wrong.  *transport: no answer;
 * else *status is the HTTP status. */
static const char *post_event(relay_job *rj, apr_pool_t *p, const shop_srv_cfg *sc,
                              const char *event_id, const char *payload,
                              int *transport, long *status_out)
{
    CURL *curl = rj->curl ? rj->curl : (rj->curl = curl_easy_init());
    struct curl_slist *headers = NULL;
    long status = 0;
    CURLcode rc;

    *transport = 1;
    *status_out = 0;
    if (curl == NULL) {
        return "curl_easy_init failed";
    }
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers,
                                apr_pstrcat(p, "Idempotency-Key: ", event_id, NULL));
    curl_easy_setopt(curl, CURLOPT_URL, sc->platform_url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)apr_time_as_msec(sc->platform_timeout));
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)apr_time_as_msec(sc->platform_timeout));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
    rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        *transport = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        *status_out = status;
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        return apr_pstrdup(p, curl_easy_strerror(rc));
    }
    return status >= 200 && status < 300 ? NULL
           : apr_psprintf(p, "HTTP %ld", status);
}

/* A refusal that a retry will not change: 4xx but 408 and 429. */
static int permanent_refusal(long status)
{
    return status >= 400 && status < 500 && status != 408 && status != 429;
}

/* A failed send: its retry time, or dead after enough refusals. */
static void record_failure(shop_job *job, apr_pool_t *p, const char *id,
                           const char *event_id, const char *error, long status)
{
    const shop_srv_cfg *sc = job->sc;
    const char *http = status ? apr_ltoa(p, status) : NULL;
    const char *failed[6] = { id, error, shop_i64(p, sc->platform_retry_max), http,
                              permanent_refusal(status) ? "1" : "0",
                              apr_itoa(p, sc->platform_dead_after) };
    PGresult *res = shop_job_query(job, SQL_JOB_RELAY_FAILED, failed);

    if (res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, job->s, SHOPLOGNO(00031) "event %s"
                     " parked as dead after %s permanent refusals (last: %s);"
                     " POST /admin/outbox/dead/%s/redeliver sends it again",
                     event_id, PQgetvalue(res, 0, 1), error, event_id);
    }
    PQclear(res);
}

/* The batch's delivered events, as two array literals ({id,...}, {status,...}). */
typedef struct {
    apr_array_header_t *ids;
    apr_array_header_t *statuses;
} deliveries;

static void record_deliveries(shop_job *job, apr_pool_t *p, const deliveries *d)
{
    const char *params[2];

    if (d->ids->nelts == 0) {
        return;
    }
    params[0] = apr_pstrcat(p, "{", apr_array_pstrcat(p, d->ids, ','), "}", NULL);
    params[1] = apr_pstrcat(p, "{", apr_array_pstrcat(p, d->statuses, ','), "}", NULL);
    PQclear(shop_job_query(job, SQL_JOB_RELAY_DELIVERED, params));
}

/*
 * Sends one leased batch; returns how many events it leased (0: nothing
 * due), or -1 when it had to stop early.  Sends start only during the
 * first timeout of the lease, so each ends before the lease does and a
 * crashed relay's events come back within seconds.  The deliveries are
 * recorded together after the sends (one commit, not one per event): a
 * relay that dies before that sends them again, which the receiver's
 * Idempotency-Key check absorbs, as for any retry.  A batch never holds
 * two events of one order (the lease takes an order's next event only
 * once the one before it is delivered), so recording later keeps order.
 */
static int relay_batch(relay_job *rj, apr_pool_t *p, const shop_srv_cfg *sc)
{
    const char *params[2] = { RELAY_BATCH,
                              shop_i64(p, 2 * sc->platform_timeout + apr_time_from_sec(2)) };
    apr_time_t started = apr_time_now();
    PGresult *res = shop_job_query(&rj->job, SQL_JOB_RELAY_LEASE, params);
    deliveries done;
    int i, n, transport = 0;
    long status;

    if (res == NULL) {
        return -1;
    }
    n = PQntuples(res);
    done.ids = apr_array_make(p, n ? n : 1, sizeof(const char *));
    done.statuses = apr_array_make(p, n ? n : 1, sizeof(const char *));
    for (i = 0; i < n && !transport
                && apr_time_now() - started < sc->platform_timeout; i++) {
        const char *error = post_event(rj, p, sc, PQgetvalue(res, i, 1),
                                       PQgetvalue(res, i, 2), &transport, &status);
        if (error == NULL) {
            APR_ARRAY_PUSH(done.ids, const char *) = PQgetvalue(res, i, 0);
            APR_ARRAY_PUSH(done.statuses, const char *) = apr_ltoa(p, status);
            continue;
        }
        record_failure(&rj->job, p, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                       error, status);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, rj->job.s, SHOPLOGNO(00022) "event %s"
                     " not delivered: %s", PQgetvalue(res, i, 1), error);
    }
    record_deliveries(&rj->job, p, &done);
    /* What is left of the batch (after a transport failure: the receiver is
     * likely down) waits for its lease to run out. */
    PQclear(res);
    return i < n ? -1 : n;
}

/* Full batches follow each other for up to a second, then the tick ends. */
static void relay_run(shop_job *job, apr_pool_t *p)
{
    const shop_srv_cfg *sc = job->sc;
    apr_time_t started = apr_time_now();
    int leased;

    if (sc->platform_url == NULL) {
        return;
    }
    do {
        leased = relay_batch((relay_job *)job, p, sc);
    } while (leased == atoi(RELAY_BATCH)
             && apr_time_now() - started < apr_time_from_sec(1));
}

/* Runs in the jobs process before its threads start (curl_global_init
 * is not thread-safe). */
void shop_relay_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs)
{
    static int curl_ready;
    relay_job *rj = apr_pcalloc(p, sizeof(*rj));

    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, site->s,
                         SHOPLOGNO(00023) "curl_global_init failed: no relay");
            return;
        }
        curl_ready = 1;
    }
    rj->job.name = "relay";
    rj->job.interval = RELAY_TICK;
    rj->job.run = relay_run;
    rj->job.site = site;
    rj->job.s = site->s;
    rj->job.sc = ap_get_module_config(site->s->module_config, &shop_module);
    APR_ARRAY_PUSH(jobs, shop_job *) = &rj->job;
}
