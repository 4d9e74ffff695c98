/*
 * The outbox relay: delivers ORDER_PAID and ORDER_CANCELLED events to
 * ShopPlatformURL, at least once, in the background.
 *
 * Events are written in the payment's own transaction (sql/), so none is
 * lost.  The relay leases a batch (next_attempt_at pushed past the time a
 * send can take, FOR UPDATE SKIP LOCKED, so two relays never share an
 * event), POSTs them, up to ShopPlatformConnections at once, each with
 * `Idempotency-Key: <event_id>`, and marks them delivered, or schedules a
 * retry with capped exponential backoff.  If
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

#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_jobs.h"

#define RELAY_TICK apr_time_from_msec(250)
#define RELAY_BATCH 200            /* events per lease */
/* Relay threads per shop, each with its own database connection and its
 * share of ShopPlatformConnections.  The lease keeps them apart (SKIP
 * LOCKED) and keeps each order's events in order across them.  Under a
 * load that saturates the machine each step of a batch (lease, sends,
 * record) waits for a share of the CPU, so workers overlap those waits:
 * at 64 busy connections on 2 cores one worker delivered 0.6 x the
 * payment rate, two about 1.4 x, four about 1.75 x. */
#define RELAY_WORKERS 4

static size_t discard_body(char *data, size_t size, size_t n, void *ctx)
{
    (void)data; (void)ctx;
    return size * n;
}

typedef struct {
    shop_job job;               /* first: the job callbacks get this */
    CURLM *multi;               /* its connection cache keeps them alive */
    int connections;            /* its share of ShopPlatformConnections */
    CURL *easy[SHOP_PLATFORM_CONNECTIONS_MAX];
} relay_job;

/* One send in flight: its row in the lease's result and its headers. */
typedef struct {
    int row;                    /* -1: the handle is free */
    struct curl_slist *headers;
} relay_send;

/* The batch being sent. */
typedef struct {
    relay_job *rj;
    apr_pool_t *p;
    const shop_srv_cfg *sc;
    PGresult *leased;
    relay_send sends[SHOP_PLATFORM_CONNECTIONS_MAX];
    int next;                   /* the next row to send */
    int active;
    int transport_failed;       /* no answer: the receiver is likely down */
    apr_array_header_t *ids;    /* delivered: ids and HTTP statuses */
    apr_array_header_t *statuses;
} relay_batch_state;

/* A refusal that a retry will not change: 4xx but 408 and 429. */
static int permanent_refusal(long status)
{
    return status >= 400 && status < 500 && status != 408 && status != 429;
}

/*
 * A failed send: backoff of 1 s doubling per failed attempt, capped at
 * ShopPlatformRetryMax, and dead after ShopPlatformDeadAfter permanent
 * refusals.
 */
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
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, job->s, SHOPLOGNO(00031) "shop %s:"
                     " event %s parked as dead after %s permanent refusals (last: %s);"
                     " POST /admin/outbox/dead/%s/redeliver sends it again",
                     job->site->name, event_id, PQgetvalue(res, 0, 1), error, event_id);
    }
    PQclear(res);
}

/* Numbers (strings) as a PostgreSQL array literal: {1,2,3}. */
static const char *pg_array(apr_pool_t *p, const apr_array_header_t *values)
{
    return apr_pstrcat(p, "{", apr_array_pstrcat(p, values, ','), "}", NULL);
}

/*
 * Deliveries not yet recorded, as PostgreSQL array literals of ids and
 * HTTP statuses ("{}" when none).  A full batch leaves its deliveries to
 * the next batch's lease statement, which records them; anything else
 * records them at once.
 */
typedef struct {
    const char *ids;
    const char *statuses;
} relay_carry;

static const relay_carry no_deliveries = { "{}", "{}" };

/* Deliveries in one statement: one commit, not one per event. */
static void record_carried(shop_job *job, relay_carry *carry)
{
    const char *params[2] = { carry->ids, carry->statuses };

    if (strcmp(carry->ids, "{}") != 0) {
        PQclear(shop_job_query(job, SQL_JOB_RELAY_DELIVERED, params));
    }
    *carry = no_deliveries;
}

static relay_carry batch_deliveries(const relay_batch_state *b)
{
    relay_carry c;

    c.ids = pg_array(b->p, b->ids);
    c.statuses = pg_array(b->p, b->statuses);
    return c;
}

/*
 * What is left of the batch.  After a transport failure (the receiver is
 * likely down) it waits for its lease to run out, a backoff.  Left because
 * the sending time of the lease was used up (a slow receiver), it is due
 * again at once: waiting out the lease would idle the relay for seconds.
 */
static void release_unsent(relay_batch_state *b)
{
    apr_array_header_t *ids;
    const char *params[1];
    int row, n = PQntuples(b->leased);

    if (b->transport_failed || b->next >= n) {
        return;
    }
    ids = apr_array_make(b->p, n - b->next, sizeof(const char *));
    for (row = b->next; row < n; row++) {
        APR_ARRAY_PUSH(ids, const char *) = PQgetvalue(b->leased, row, 0);
    }
    params[0] = pg_array(b->p, ids);
    PQclear(shop_job_query(&b->rj->job, SQL_JOB_RELAY_RELEASE, params));
}

/* Starts the POST of the batch's next event on free handle k. */
static int start_send(relay_batch_state *b, int k)
{
    relay_job *rj = b->rj;
    CURL *curl = rj->easy[k] ? rj->easy[k] : (rj->easy[k] = curl_easy_init());
    relay_send *send = &b->sends[k];
    long timeout_ms = (long)apr_time_as_msec(b->sc->platform_timeout);

    if (curl == NULL) {
        return 0;
    }
    send->row = b->next++;
    send->headers = curl_slist_append(NULL, "Content-Type: application/json");
    send->headers = curl_slist_append(send->headers, apr_pstrcat(b->p,
                        "Idempotency-Key: ", PQgetvalue(b->leased, send->row, 1), NULL));
    curl_easy_setopt(curl, CURLOPT_URL, b->sc->platform_url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, send->headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, PQgetvalue(b->leased, send->row, 2));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(curl, CURLOPT_PRIVATE, (void *)&b->sends[k]);
    if (curl_multi_add_handle(rj->multi, curl) != CURLM_OK) {
        curl_slist_free_all(send->headers);
        send->row = -1;
        return 0;
    }
    b->active++;
    return 1;
}

/* A send has ended: a delivery to record with the batch, or a failure now. */
static void finish_send(relay_batch_state *b, CURL *curl, CURLcode rc)
{
    relay_send *send = NULL;
    long status = 0;
    const char *error = NULL;
    int row;

    curl_easy_getinfo(curl, CURLINFO_PRIVATE, (char **)&send);
    curl_multi_remove_handle(b->rj->multi, curl);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(send->headers);
    row = send->row;
    send->row = -1;
    b->active--;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status < 300) {
            APR_ARRAY_PUSH(b->ids, const char *) = PQgetvalue(b->leased, row, 0);
            APR_ARRAY_PUSH(b->statuses, const char *) = apr_ltoa(b->p, status);
            return;
        }
        error = apr_psprintf(b->p, "HTTP %ld", status);
    }
    else {
        error = apr_pstrdup(b->p, curl_easy_strerror(rc));
        b->transport_failed = 1;
    }
    record_failure(&b->rj->job, b->p, PQgetvalue(b->leased, row, 0),
                   PQgetvalue(b->leased, row, 1), error, status);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, b->rj->job.s, SHOPLOGNO(00022) "shop %s:"
                 " event %s not delivered: %s", b->rj->job.site->name,
                 PQgetvalue(b->leased, row, 1), error);
}

/* Fills the free handles while events are left and sends may start. */
static void start_sends(relay_batch_state *b, apr_time_t started)
{
    int k, n = PQntuples(b->leased);

    /* ShopPlatformConnections sends in flight at once, each on its own
     * keep-alive connection: a batch never holds two events of one order,
     * so they may overlap. */
    for (k = 0; k < b->rj->connections; k++) {
        if (b->next >= n || b->transport_failed
            || apr_time_now() - started >= b->sc->platform_timeout) {
            return;
        }
        if (b->sends[k].row < 0 && !start_send(b, k)) {
            return;
        }
    }
}

/*
 * Sends one leased batch; returns how many events it leased (0: nothing
 * due), or -1 when it had to stop early.  The lease statement first
 * records *carry, the previous full batch's deliveries.  Sends start only
 * during the first timeout of the lease, so each ends before the lease
 * does and a crashed relay's events come back within seconds.  The
 * deliveries are recorded together after the sends (by the next lease when
 * this batch was full): a relay that dies before that sends them again,
 * which the receiver's Idempotency-Key check absorbs, as for any retry.  A
 * batch never holds two events of one order (the lease takes an order's
 * next event only once the one before it is recorded delivered), so
 * sending them at once and recording them later keeps each order's order.
 */
static int relay_batch(relay_job *rj, apr_pool_t *p, const shop_srv_cfg *sc,
                       relay_carry *carry)
{
    const char *params[4] = { APR_STRINGIFY(RELAY_BATCH),
                              shop_i64(p, 2 * sc->platform_timeout + apr_time_from_sec(2)),
                              carry->ids, carry->statuses };
    apr_time_t started = apr_time_now();
    relay_batch_state b;
    CURLMsg *msg;
    int k, left, running, n;

    memset(&b, 0, sizeof(b));
    if ((b.leased = shop_job_query(&rj->job, SQL_JOB_RELAY_LEASE, params)) == NULL) {
        record_carried(&rj->job, carry);    /* the lease failed, maybe not the record */
        return -1;
    }
    *carry = no_deliveries;
    n = PQntuples(b.leased);
    b.rj = rj;
    b.p = p;
    b.sc = sc;
    b.ids = apr_array_make(p, n ? n : 1, sizeof(const char *));
    b.statuses = apr_array_make(p, n ? n : 1, sizeof(const char *));
    for (k = 0; k < SHOP_PLATFORM_CONNECTIONS_MAX; k++) {
        b.sends[k].row = -1;
    }
    for (start_sends(&b, started); b.active > 0; start_sends(&b, started)) {
        curl_multi_perform(rj->multi, &running);
        while ((msg = curl_multi_info_read(rj->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE) {
                finish_send(&b, msg->easy_handle, msg->data.result);
            }
        }
        if (b.active > 0) {
            curl_multi_poll(rj->multi, NULL, 0, 100, NULL);
        }
    }
    *carry = batch_deliveries(&b);
    if (n < RELAY_BATCH || b.next < n) {
        record_carried(&rj->job, carry);
        release_unsent(&b);
    }
    PQclear(b.leased);
    return b.next < n ? -1 : n;
}

/* Full batches follow each other for up to a second, then the tick ends. */
static void relay_run(shop_job *job, apr_pool_t *p)
{
    const shop_srv_cfg *sc = job->sc;
    apr_time_t started = apr_time_now();
    relay_carry carry = no_deliveries;
    int leased;

    if (sc->platform_url == NULL) {
        return;
    }
    do {
        leased = relay_batch((relay_job *)job, p, sc, &carry);
    } while (leased == RELAY_BATCH
             && apr_time_now() - started < apr_time_from_sec(1));
    record_carried(job, &carry);    /* the last full batch's */
}

/* Runs in the jobs process before its threads start (curl_global_init
 * is not thread-safe). */
void shop_relay_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs)
{
    static int curl_ready;
    const shop_srv_cfg *sc = ap_get_module_config(site->s->module_config, &shop_module);
    int w, workers = sc->platform_connections < RELAY_WORKERS
                     ? sc->platform_connections : RELAY_WORKERS;

    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, site->s,
                         SHOPLOGNO(00023) "curl_global_init failed: no relay");
            return;
        }
        curl_ready = 1;
    }
    for (w = 0; w < workers; w++) {
        relay_job *rj = apr_pcalloc(p, sizeof(*rj));

        if ((rj->multi = curl_multi_init()) == NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, site->s,
                         SHOPLOGNO(00037) "shop %s: curl_multi_init failed: no relay",
                         site->name);
            return;
        }
        rj->job.name = "relay";
        rj->job.interval = RELAY_TICK;
        rj->job.run = relay_run;
        rj->job.site = site;
        rj->job.s = site->s;
        rj->job.sc = sc;
        /* ShopPlatformConnections in all, shared out among the workers */
        rj->connections = sc->platform_connections / workers
                          + (w < sc->platform_connections % workers);
        curl_multi_setopt(rj->multi, CURLMOPT_MAXCONNECTS, (long)rj->connections);
        APR_ARRAY_PUSH(jobs, shop_job *) = &rj->job;
    }
}
