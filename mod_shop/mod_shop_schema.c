/*
 * The schema check: does a shop's database hold the migrations this module
 * was built for (sql/migrations, compiled in by Makefile.apxs as
 * mod_shop_migrations.h), no fewer and no others?
 *
 * A module on a database that mod-shop-migrate has not (fully) migrated
 * fails every statement with "relation does not exist", and a database a
 * newer module migrated may have moved on.  Neither is a 500: the answer
 * is 503 SCHEMA_MISMATCH naming the migrations that differ, on readiness
 * and on the data routes, until the schema matches.
 *
 * No request pays a query for it.  The jobs process asks each shop's
 * database at start and every CHECK_EVERY (an operator may migrate after
 * Apache started, or roll back), and at once when a request meets an
 * undefined table or function (42P01, 42883); it publishes the verdict
 * and its text in the shop's database state in shared memory, where every
 * child reads it.  While the database lacks migrations, the shop's other
 * jobs skip their ticks, and the log gets one line per LOG_EVERY with the
 * hint to run mod-shop-migrate, not one per failing statement.
 *
 * What a database lacks stops the data routes (the module's statements
 * need all of it); what it has beyond the module does not (migrations
 * add), but readiness says so: one module version should not serve
 * another's schema for long.
 */
#include <http_protocol.h>

#include <apr_atomic.h>

#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_http.h"
#include "mod_shop_jobs.h"
#include "mod_shop_migrations.h"
#include "mod_shop_schema.h"

#define CHECK_EVERY apr_time_from_sec(2)
#define TICK apr_time_from_msec(100)        /* how soon a suspicion is seen */
#define LOG_EVERY apr_time_from_sec(60)
#define READ_TRIES 1000

static const char *const module_migrations[] = { SHOP_MIGRATIONS };
#define MODULE_MIGRATIONS (sizeof(module_migrations) / sizeof(module_migrations[0]))

/* ---- the shared verdict (a sequence lock around the text) ---------------- */

shop_schema_state shop_schema_now(const shop_site *site)
{
    if (site == NULL || site->dbstate == NULL) {
        return SHOP_SCHEMA_UNKNOWN;
    }
    return (shop_schema_state)apr_atomic_read32(&site->dbstate->schema);
}

/* The verdict and its text as one consistent pair (one writer: the check). */
static shop_schema_state schema_read(const shop_site *site, char *detail, apr_size_t len)
{
    volatile shop_dbstate *st = site ? site->dbstate : NULL;
    int i;

    detail[0] = '\0';
    for (i = 0; st && i < READ_TRIES; i++) {
        apr_uint32_t seq = apr_atomic_read32(&st->schema_seq);
        shop_schema_state state;

        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        state = (shop_schema_state)apr_atomic_read32(&st->schema);
        apr_cpystrn(detail, (const char *)st->schema_detail,
                    len < SHOP_SCHEMA_DETAIL ? len : SHOP_SCHEMA_DETAIL);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (!(seq & 1) && seq == apr_atomic_read32(&st->schema_seq)) {
            return state;
        }
    }
    detail[0] = '\0';
    return shop_schema_now(site);
}

static void schema_publish(const shop_site *site, shop_schema_state state,
                           const char *detail)
{
    volatile shop_dbstate *st = site->dbstate;

    apr_atomic_inc32(&st->schema_seq);              /* odd: being written */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    apr_cpystrn((char *)st->schema_detail, detail, SHOP_SCHEMA_DETAIL);
    apr_atomic_set32(&st->schema, (apr_uint32_t)state);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    apr_atomic_inc32(&st->schema_seq);              /* even: consistent */
}

void shop_schema_suspect(const shop_site *site)
{
    if (site && site->dbstate) {
        apr_atomic_set64(&site->dbstate->schema_suspect_at, (apr_uint64_t)apr_time_now());
    }
}

int shop_schema_refuse(request_rec *r, const shop_site *site)
{
    char detail[SHOP_SCHEMA_DETAIL];
    shop_schema_state state = schema_read(site, detail, sizeof(detail));

    if (state == SHOP_SCHEMA_UNKNOWN || state == SHOP_SCHEMA_MATCH || detail[0] == '\0') {
        /* A statement met a missing table or function before the check
         * did: the check runs now, and tells the next request. */
        apr_cpystrn(detail, "the database lacks a table or function this module uses "
                    "(is it migrated?); checking its migrations now", sizeof(detail));
    }
    return shop_send_problem(r, SHOP_E_SCHEMA_MISMATCH, detail);
}

/* ---- the check, in the jobs process ---------------------------------------- */

typedef struct {
    apr_time_t checked_at;
    apr_time_t next_check;
    apr_time_t logged_at;
    shop_schema_state logged;       /* what the last line said */
} schema_job;

/* The applied migrations, or NULL when the database cannot tell now. */
static apr_array_header_t *applied_versions(shop_job *job, apr_pool_t *p, int *failed)
{
    apr_array_header_t *versions = apr_array_make(p, 16, sizeof(const char *));
    PGresult *res = shop_job_query(job, SQL_SCHEMA_TABLE, NULL);
    int i, exists = res && PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';

    *failed = res == NULL;
    PQclear(res);
    if (!exists) {
        return *failed ? NULL : versions;
    }
    res = shop_job_query(job, SQL_SCHEMA_VERSIONS, NULL);
    *failed = res == NULL;
    for (i = 0; res && i < PQntuples(res); i++) {
        APR_ARRAY_PUSH(versions, const char *) = apr_pstrdup(p, PQgetvalue(res, i, 0));
    }
    PQclear(res);
    return *failed ? NULL : versions;
}

/* One line per LOG_EVERY while it differs, one when it matches again. */
static void schema_log(shop_job *job, schema_job *sj, shop_schema_state state,
                       const char *detail)
{
    apr_time_t now = apr_time_now();
    int differs = state != SHOP_SCHEMA_MATCH;

    if (differs && (state != sj->logged || now - sj->logged_at >= LOG_EVERY)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, job->s, SHOPLOGNO(00040) "shop %s: the "
                     "database schema does not match this module: %s (readiness "
                     "answers 503 SCHEMA_MISMATCH until it does)", job->site->name, detail);
        sj->logged_at = now;
    }
    else if (!differs && sj->logged != SHOP_SCHEMA_UNKNOWN && sj->logged != state) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, job->s, SHOPLOGNO(00041) "shop %s: the "
                     "database schema matches this module again (%d migrations)",
                     job->site->name, (int)MODULE_MIGRATIONS);
    }
    sj->logged = state;
}

/* 0 when a query failed (logged by shop_job_query): not again for a while. */
static int schema_check(shop_job *job, schema_job *sj, apr_pool_t *p)
{
    char detail[SHOP_SCHEMA_DETAIL];
    int failed = 0;
    apr_array_header_t *applied;
    shop_schema_state state;

    if (shop_job_conn(job) == NULL) {
        return 1;               /* down: the breaker's business, not ours */
    }
    applied = applied_versions(job, p, &failed);
    if (applied == NULL) {
        return 0;
    }
    state = shop_schema_compare(module_migrations, MODULE_MIGRATIONS,
                                (const char *const *)applied->elts,
                                (size_t)applied->nelts, detail, sizeof(detail));
    schema_publish(job->site, state, detail);
    schema_log(job, sj, state, detail);
    return 1;
}

static void schema_run(shop_job *job, apr_pool_t *p)
{
    schema_job *sj = job->data;
    apr_time_t now = apr_time_now();
    apr_time_t suspect = (apr_time_t)apr_atomic_read64(&job->site->dbstate->schema_suspect_at);

    if (now < sj->next_check && suspect <= sj->checked_at) {
        return;
    }
    sj->checked_at = now;
    /* A query that fails (schema_migrations not readable by this role)
     * is tried, and logged, once a minute. */
    sj->next_check = now + (schema_check(job, sj, p) ? CHECK_EVERY : LOG_EVERY);
}

void shop_schema_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs)
{
    shop_job *job;

    if (site->dbstate == NULL) {
        return;
    }
    job = shop_job_add(p, site, jobs, "schema check", schema_run,
                       apr_pcalloc(p, sizeof(schema_job)));
    job->interval = TICK;
    job->any_schema = 1;
}
