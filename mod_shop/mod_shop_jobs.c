/*
 * Scheduled jobs, in a process of their own.
 *
 * The httpd parent forks one jobs process per configuration generation,
 * after the shared memory exists (post_config), the way mod_cgid runs its
 * daemon.  It runs as the children's User/Group, with one thread per job
 * and shop, each thread with its own PostgreSQL connection (through
 * mod_dbd's pool a job would starve under load: it has no acquire
 * timeout).  The MPM's children do no scheduled work at all, so the MPM
 * may start, reap and recycle them freely.
 *
 * Reloads: when a generation's configuration is cleared its jobs process
 * is told to stop (SIGTERM) and reaped (200 ms at most), and the next
 * generation's starts.  An overlap, should the old one still be busy, is
 * safe: the relay leases its events, the expiry sweep skips locked rows,
 * the popular refresh and the purges are idempotent, and the ranking's
 * writers take turns.  A jobs process that dies is started again by the
 * parent, which watches it as an "other child".  The jobs process exits
 * when the parent is gone.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_atomic.h>
#include <apr_signal.h>
#include <apr_thread_proc.h>
#include <ap_listen.h>
#include <http_main.h>
#include <http_core.h>
#include <mod_unixd.h>

#include <libpq-fe.h>

#include "mod_shop.h"
#include "mod_shop_jobs.h"
#include "mod_shop_schema.h"
#include "mod_shop_shm.h"
#include "shop_sqlstate.h"

#define JOBS_POLL apr_time_from_msec(10)    /* how fast a stop is noticed */
#define JOBS_STOP_WAIT apr_time_from_sec(2) /* for ticks in flight, on a stop */
#define JOBS_RESTART_WAIT apr_time_from_msec(200)  /* the same, on a restart */
/* A jobs process that dies this soon after it started, this many times in
 * a row, is not started again in this generation (no fork loop). */
#define JOBS_QUICK_DEATH apr_time_from_sec(1)
#define JOBS_QUICK_DEATHS 5
#define JOBS_RECONNECT apr_time_from_sec(1) /* between connection attempts */

typedef struct {
    apr_proc_t proc;
    apr_pool_t *pconf;          /* its generation's configuration */
    server_rec *s;
    pid_t parent;
    int retired;                /* its generation is over: never restarted */
    apr_time_t started;
    int quick_deaths;           /* in a row, each within JOBS_QUICK_DEATH */
    const shop_jobs_fn *kinds;  /* what it runs, for every shop */
    apr_size_t nkinds;
} jobs_proc;

/* The live jobs process's pid, for the status views of every child (it
 * changes when the parent starts another). */
static volatile apr_uint32_t *live_pid;

/* ---- inside the jobs process --------------------------------------------- */

static volatile sig_atomic_t stop_requested;
static apr_uint32_t jobs_running;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

PGconn *shop_job_conn(shop_job *job)
{
    if (job->conn && PQstatus(job->conn) == CONNECTION_OK) {
        return job->conn;
    }
    if (apr_time_now() < job->reconnect_at) {
        return NULL;            /* a database that is down is not hammered */
    }
    if (job->conn) {
        PQreset(job->conn);
    }
    else {
        job->conn = PQconnectdb(job->site->conninfo);
    }
    if (PQstatus(job->conn) != CONNECTION_OK) {
        job->reconnect_at = apr_time_now() + JOBS_RECONNECT;
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, job->s,
                     SHOPLOGNO(00012) "shop %s, %s: database unavailable: %s",
                     job->site->name, job->name, PQerrorMessage(job->conn));
        return NULL;
    }
    return job->conn;
}

/*
 * A session on a server that went away or turned standby (a failover) is
 * dropped, so the next tick connects again, through PgBouncer or a
 * multi-host ShopJobDBParams to the new primary, instead of sending its
 * writes to a standby tick after tick.  Committing: a job's statement
 * outside a transaction commits by itself.
 */
static void drop_if_gone(shop_job *job, const PGresult *res)
{
    if (shop_sqlstate_session(PQresultErrorField(res, PG_DIAG_SQLSTATE),
                              PQstatus(job->conn) == CONNECTION_BAD, 1)
        != SHOP_SESSION_KEEP) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, job->s,
                     SHOPLOGNO(00046) "%s: session dropped, reconnecting at the next tick", job->name);
        PQfinish(job->conn);
        job->conn = NULL;
    }
}

static PGresult *job_exec(shop_job *job, const char *sql, int nparams,
                          const char *const *params)
{
    PGconn *conn = shop_job_conn(job);
    PGresult *res;

    if (conn == NULL) {
        return NULL;
    }
    res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK
        && PQresultStatus(res) != PGRES_COMMAND_OK) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, job->s, SHOPLOGNO(00013) "shop %s, %s: %s",
                     job->site->name, job->name, PQresultErrorMessage(res));
        drop_if_gone(job, res);
        PQclear(res);
        return NULL;
    }
    return res;
}

shop_job *shop_job_add(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs,
                       const char *name, void (*run)(shop_job *job, apr_pool_t *p),
                       void *data)
{
    shop_job *job = apr_pcalloc(p, sizeof(*job));

    job->name = name;
    job->run = run;
    job->site = site;
    job->s = site->s;
    job->sc = ap_get_module_config(site->s->module_config, &shop_module);
    job->data = data;
    APR_ARRAY_PUSH(jobs, shop_job *) = job;
    return job;
}

/* The jobs' statements live with the others (mod_shop_sql.c); they run
 * unprepared, on connections that only their job uses. */
PGresult *shop_job_query(shop_job *job, shop_sql id, const char *const *params)
{
    const shop_sql_def *def = shop_sql_get(id);

    return job_exec(job, def->text, def->nparams, params);
}

int shop_job_control(shop_job *job, const char *command)
{
    PGresult *res = job_exec(job, command, 0, NULL);

    PQclear(res);
    return res != NULL;
}

/* One job's thread: a tick every interval until the process stops. */
static void *APR_THREAD_FUNC job_thread(apr_thread_t *thread, void *data)
{
    shop_job *job = data;
    apr_pool_t *tick;
    apr_time_t next = apr_time_now();

    (void)thread;
    apr_pool_create_unmanaged_ex(&tick, NULL, NULL);
    while (!stop_requested) {
        apr_time_t now = apr_time_now();
        if (now < next) {
            apr_sleep(next - now < JOBS_POLL ? next - now : JOBS_POLL);
            continue;
        }
        /* On a schema without the module's migrations every statement of
         * the job would fail and log; the schema check says it once. */
        if (job->any_schema || shop_schema_serves(shop_schema_now(job->site))) {
            job->run(job, tick);
        }
        apr_pool_clear(tick);
        next = now + job->interval;
    }
    if (job->conn) {
        PQfinish(job->conn);
    }
    apr_pool_destroy(tick);
    apr_atomic_dec32(&jobs_running);
    return NULL;
}

/* Every kind of job it was handed, for every shop. */
static apr_array_header_t *all_jobs(apr_pool_t *p, const jobs_proc *jp)
{
    apr_array_header_t *sites = shop_sites(), *jobs;
    apr_size_t k;
    int i;

    jobs = apr_array_make(p, 8, sizeof(shop_job *));
    for (i = 0; i < sites->nelts; i++) {
        const shop_site *site = APR_ARRAY_IDX(sites, i, shop_site *);
        for (k = 0; k < jp->nkinds; k++) {
            jp->kinds[k](p, site, jobs);
        }
    }
    return jobs;
}

static void jobs_signals(void)
{
    sigset_t all;

    shop_parent_sigchld_reset();
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    apr_signal(SIGTERM, on_stop_signal);
    apr_signal(SIGINT, on_stop_signal);
    /* httpd signals its whole process group on restarts: not for us. */
    apr_signal(SIGHUP, SIG_IGN);
    apr_signal(SIGUSR1, SIG_IGN);
    apr_signal(SIGWINCH, SIG_IGN);
    apr_signal(SIGPIPE, SIG_IGN);
}

static void start_threads(apr_pool_t *p, server_rec *s, apr_array_header_t *jobs)
{
    int i;

    for (i = 0; i < jobs->nelts; i++) {
        apr_thread_t *t;
        apr_status_t rv;

        apr_atomic_inc32(&jobs_running);
        rv = apr_thread_create(&t, NULL, job_thread,
                               APR_ARRAY_IDX(jobs, i, shop_job *), p);
        if (rv != APR_SUCCESS) {
            apr_atomic_dec32(&jobs_running);
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, SHOPLOGNO(00014) "cannot start "
                         "the %s job", APR_ARRAY_IDX(jobs, i, shop_job *)->name);
        }
    }
}

static void jobs_main(jobs_proc *jp)
{
    apr_pool_t *p;
    apr_array_header_t *jobs;
    apr_time_t deadline;

    jobs_signals();
    ap_close_listeners();       /* the port belongs to the MPM's children */
    if (ap_unixd_setup_child() != 0) {
        _exit(APEXIT_CHILDFATAL);
    }
    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    jobs = all_jobs(p, jp);
    start_threads(p, jp->s, jobs);
    while (!stop_requested && getppid() == jp->parent) {
        apr_sleep(JOBS_POLL);
    }
    stop_requested = 1;
    deadline = apr_time_now() + JOBS_STOP_WAIT;
    while (apr_atomic_read32(&jobs_running) > 0 && apr_time_now() < deadline) {
        apr_sleep(apr_time_from_msec(10));
    }
    _exit(0);                   /* no pool cleanups: they are the parent's */
}

/* ---- in the httpd parent ------------------------------------------------- */

static apr_status_t jobs_fork(jobs_proc *jp);

static void jobs_maint(int reason, void *data, apr_wait_t status)
{
    jobs_proc *jp = data;

    if (reason != APR_OC_REASON_DEATH && reason != APR_OC_REASON_LOST) {
        return;
    }
    apr_proc_other_child_unregister(jp);
    if (jp->retired) {
        return;
    }
    jp->quick_deaths = apr_time_now() - jp->started < JOBS_QUICK_DEATH
                       ? jp->quick_deaths + 1 : 0;
    if (jp->quick_deaths >= JOBS_QUICK_DEATHS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, jp->s, SHOPLOGNO(00036) "jobs process "
                     "died %d times right after starting: no scheduled jobs until the "
                     "next restart (see the lines before this one)", jp->quick_deaths);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, jp->s, SHOPLOGNO(00015) "jobs process "
                 "%" APR_PID_T_FMT " exited (status %d); starting another",
                 jp->proc.pid, (int)status);
    jobs_fork(jp);
}

static apr_status_t jobs_fork(jobs_proc *jp)
{
    apr_status_t rv = apr_proc_fork(&jp->proc, jp->pconf);

    if (rv == APR_INCHILD) {
        jobs_main(jp);          /* does not return */
    }
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, jp->s,
                     SHOPLOGNO(00016) "cannot fork the jobs process");
        return rv;
    }
    jp->started = apr_time_now();
    apr_proc_other_child_register(&jp->proc, jobs_maint, jp, NULL, jp->pconf);
    if (live_pid) {
        apr_atomic_set32(live_pid, (apr_uint32_t)jp->proc.pid);
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, jp->s, SHOPLOGNO(00017) "jobs process %"
                 APR_PID_T_FMT " started", jp->proc.pid);
    return APR_SUCCESS;
}

/*
 * The generation is over (restart or stop): its jobs process stops, and is
 * reaped here, because the module (with jobs_maint) is unloaded after this
 * and its other-child registration goes with the configuration pool.  On a
 * restart the wait is short (the parent accepts nothing meanwhile); a jobs
 * process still busy after it is reaped by the MPM later, which logs it as
 * a "long lost child".
 */
static apr_status_t jobs_retire(void *data)
{
    jobs_proc *jp = data;
    int stopping = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING;
    apr_time_t deadline = apr_time_now() + (stopping ? JOBS_STOP_WAIT : JOBS_RESTART_WAIT);

    if (getpid() != jp->parent) {
        return APR_SUCCESS;     /* a child's copy of the pool */
    }
    jp->retired = 1;
    /* The handler's code goes away with the module too: a SIGCHLD after
     * that would crash the parent. */
    shop_parent_sigchld_reset();
    kill(jp->proc.pid, SIGTERM);
    while (apr_time_now() < deadline && waitpid(jp->proc.pid, NULL, WNOHANG) == 0) {
        apr_sleep(apr_time_from_msec(2));
    }
    return APR_SUCCESS;
}

static void share_pid(apr_pool_t *pconf)
{
    apr_status_t rv;

    live_pid = shop_shm_block(pconf, "mod_shop_jobs", sizeof(apr_uint32_t), SHOP_SHM_ZEROED, &rv);
}

/*
 * On a graceful restart the MPM starts the new generation's children when
 * an old one exits, but it notices exits only between one-second sleeps:
 * the API answered nothing for about a second.  A SIGCHLD handler that
 * does nothing interrupts that sleep, so the MPM reaps at once and starts
 * the new children (measured: the gap went from ~1.05 s to the time an old
 * child takes to finish its requests).  Children and the jobs process go
 * back to the default, and so does the parent before the module is
 * unloaded on a restart (jobs_retire); post_config installs it again.
 */
static void on_sigchld(int sig)
{
    (void)sig;
}

static void parent_sigchld_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigchld;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NOCLDSTOP;     /* no SA_RESTART: the sleep must end */
    sigaction(SIGCHLD, &sa, NULL);
}

void shop_parent_sigchld_reset(void)
{
    apr_signal(SIGCHLD, SIG_DFL);
}

apr_status_t shop_jobs_start(apr_pool_t *pconf, server_rec *s,
                             const shop_jobs_fn *kinds, apr_size_t nkinds)
{
    jobs_proc *jp;

    if (shop_sites()->nelts == 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, SHOPLOGNO(00018) "no DBDParams or "
                     "ShopJobDBParams anywhere: no scheduled jobs will run");
        return APR_SUCCESS;
    }
    share_pid(pconf);
    parent_sigchld_install();
    jp = apr_pcalloc(pconf, sizeof(*jp));
    jp->pconf = pconf;
    jp->s = s;
    jp->parent = getpid();
    jp->kinds = kinds;
    jp->nkinds = nkinds;
    apr_pool_cleanup_register(pconf, jp, jobs_retire, apr_pool_cleanup_null);
    return jobs_fork(jp);
}

pid_t shop_jobs_pid(void)
{
    return live_pid ? (pid_t)apr_atomic_read32(live_pid) : 0;
}
