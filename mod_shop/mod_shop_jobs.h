/*
 * Scheduled jobs (mod_shop_jobs.c): the jobs process, a job's own
 * PostgreSQL connection, and the kinds of job, each defined in its own
 * file and listed in the jobs table (mod_shop_routes.c).  Connections
 * and results are libpq's (struct pg_conn, struct pg_result: PGconn,
 * PGresult), for the job files that include libpq-fe.h.
 */
#ifndef MOD_SHOP_JOBS_H
#define MOD_SHOP_JOBS_H

#include "mod_shop.h"
#include "mod_shop_sql.h"

struct pg_conn;
struct pg_result;

/*
 * A job is one kind of scheduled work for one shop.  Each runs in its own
 * thread of the jobs process, with its own PostgreSQL connection.
 */
typedef struct shop_job shop_job;
struct shop_job {
    const char *name;
    apr_interval_time_t interval;
    void (*run)(shop_job *job, apr_pool_t *p);  /* one tick */
    const shop_site *site;
    const shop_srv_cfg *sc;     /* the shop's settings */
    server_rec *s;
    struct pg_conn *conn;       /* the job's own, used by its thread only */
    apr_time_t reconnect_at;    /* after a failed connect: not before */
    void *data;                 /* the job's own state */
    int any_schema;             /* runs whatever the schema (the schema check,
                                 * the prober); the others wait for one that
                                 * has every migration (mod_shop_schema.c) */
};

/* A kind of job: appends its jobs for one shop to jobs (shop_job *). */
typedef void (*shop_jobs_fn)(apr_pool_t *p, const shop_site *site,
                             apr_array_header_t *jobs);

/* A job that ticks often (the catalog's) waits this long after a failed
 * statement before the next: each failure is logged (SHOP00013), and a
 * database that is away or not migrated would otherwise have it logged
 * tens of times a second. */
#define SHOP_JOB_RETRY_AFTER_FAILURE apr_time_from_sec(1)

/* A job of `site` named `name`, pushed on jobs: its site, server and
 * settings filled in, its interval and flags left to the caller (most
 * derive them from job->sc). */
shop_job *shop_job_add(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs,
                       const char *name, void (*run)(shop_job *job, apr_pool_t *p),
                       void *data);

/* Every kind of job the jobs process runs (mod_shop_routes.c). */
extern const shop_jobs_fn shop_job_kinds[];
extern const apr_size_t shop_job_kinds_count;

/* post_config: forks the jobs process of this configuration generation,
 * which runs the kinds of job it is handed, for every shop. */
apr_status_t shop_jobs_start(apr_pool_t *pconf, server_rec *s,
                             const shop_jobs_fn *kinds, apr_size_t nkinds);
pid_t shop_jobs_pid(void);
/* child_init: the parent's SIGCHLD handler is not the children's. */
void shop_parent_sigchld_reset(void);
struct pg_conn *shop_job_conn(shop_job *job);
/* A statement (mod_shop_sql.c) on the job's connection; NULL (logged) on
 * any failure. */
struct pg_result *shop_job_query(shop_job *job, shop_sql id,
                                 const char *const *params);
/* BEGIN, COMMIT, ROLLBACK on the job's connection; 0 on failure. */
int shop_job_control(shop_job *job, const char *command);

/* ---- the kinds of job (mod_shop_expiry.c, mod_shop_popular.c,
 *      mod_shop_relay.c, mod_shop_breaker.c, mod_shop_catalog.c,
 *      mod_shop_catalog_refresh.c, mod_shop_schema.c) --------------------------------------------------- */

void shop_expiry_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs);
void shop_popular_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs);
void shop_relay_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs);
void shop_breaker_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs);
void shop_catalog_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs);
void shop_catalog_refresh_jobs(apr_pool_t *p, const shop_site *site,
                               apr_array_header_t *jobs);
void shop_schema_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs);

#endif
