/*
 * mod_shop private header: configuration, the per-request context and the
 * interfaces between the glue files (mod_shop_*.c).
 */
#ifndef MOD_SHOP_H
#define MOD_SHOP_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_dbd.h>        /* before mod_dbd.h, which needs its types */
#include <mod_dbd.h>
#include <libpq-fe.h>
#include <jansson.h>

#include "shop_error.h"
#include "shop_json.h"
#include "shop_route.h"
#include "shop_validate.h"

APLOG_USE_MODULE(shop);

/* Every log message has a stable id, as httpd's own do with APLOGNO:
 * "SHOP00012: ...".  scripts/logno gives new calls the next free number;
 * docs/log-messages.md says what each means and what to do about it. */
#define SHOPLOGNO(n) "SHOP" #n ": "
extern module AP_MODULE_DECLARE_DATA shop_module;

#define SHOP_HANDLER "shop"              /* the API */
#define SHOP_ADMIN_HANDLER "shop-admin"  /* the admin routes, nowhere else */

/* ---- configuration (mod_shop_config.c) -------------------------------- */

#define SHOP_UNSET -1
#define SHOP_PLATFORM_CONNECTIONS_MAX 256  /* ShopPlatformConnections */

typedef enum { SHOP_AUTH_UNSET = -1, SHOP_AUTH_NONE = 0, SHOP_AUTH_REMOTE_USER } shop_auth_mode;

typedef struct shop_site shop_site;

/* The read cache's tables (ShopReadCacheTTL, mod_shop_cache.c). */
typedef enum { SHOP_CACHE_PRODUCT, SHOP_CACHE_BALANCE, SHOP_CACHE__KINDS } shop_cache_kind;

typedef struct {
    apr_off_t max_body;
    apr_int64_t charge_max;
    apr_int64_t balance_max;
    int db_retries;
    apr_interval_time_t idem_ttl;
    apr_interval_time_t order_hold;
    int popular_top_n;
    apr_interval_time_t popular_window;
    apr_interval_time_t popular_refresh;
    apr_interval_time_t outbox_retention;   /* delivered events kept this long */
    apr_interval_time_t sales_retention;    /* sales ledger lines kept this long */
    const char *platform_url;
    apr_interval_time_t platform_timeout;
    apr_interval_time_t platform_retry_max;
    int platform_dead_after;    /* permanent refusals before an event is dead */
    int platform_connections;   /* the relay's sends in flight at once */
    apr_interval_time_t read_cache_ttl;     /* ShopReadCacheTTL, 0: off */
    apr_interval_time_t db_probe_interval;
    shop_auth_mode user_auth;
    int db_prepare;             /* ShopDBPrepare: 1 named server-side statements,
                                 * 0 unnamed (PQexecParams), for transaction
                                 * pooling (PgBouncer) */
    const char *job_db_params;  /* ShopJobDBParams, or NULL: the DBDParams */
    /* Found when the configuration is checked (mod_shop_sites.c): */
    shop_site *site;            /* the shop this server belongs to, or NULL */
    apr_array_header_t *mounts; /* shop_mount: the <Location>s of the handlers */
} shop_srv_cfg;

typedef struct {
    const char *mount;          /* ShopMount, or NULL: found per request */
} shop_dir_cfg;

extern const command_rec shop_cmds[];
void *shop_create_srv_cfg(apr_pool_t *p, server_rec *s);
void *shop_merge_srv_cfg(apr_pool_t *p, void *base, void *add);
void shop_srv_cfg_defaults(shop_srv_cfg *c);
const char *shop_srv_cfg_check(apr_pool_t *p, const shop_srv_cfg *c);
void *shop_create_dir_cfg(apr_pool_t *p, char *dir);
void *shop_merge_dir_cfg(apr_pool_t *p, void *base, void *add);

/* ---- shops and mounts (mod_shop_sites.c) ------------------------------- */

#define SHOP_MOUNT_ANY   -1
#define SHOP_MOUNT_API    0     /* SetHandler shop */
#define SHOP_MOUNT_ADMIN  1     /* SetHandler shop-admin */
#define SHOP_MOUNT_OTHER  2     /* any other handler */

/* A <Location> with a SetHandler. */
typedef struct {
    const char *path;           /* without a trailing '/' ("" for "/") */
    int kind;
} shop_mount;

/*
 * A shop is one database.  Every server (main or virtual host) whose jobs
 * connect to it shares one shop: one set of jobs, one popular ranking, one
 * sold-out set.  The settings of its first server run the jobs.
 */
/* What the children and the jobs process tell each other about a shop's
 * database, in shared memory (apr_time_t values, 0 = never). */
typedef struct {
    apr_uint64_t unreachable_at;    /* a child last found it unreachable */
    apr_uint64_t reachable_at;      /* the prober last found it answering */
    apr_uint64_t probed_at;         /* the prober's last tick: it is alive */
} shop_dbstate;

/* This child's view of a shop's database (mod_shop_breaker.c). */
typedef struct {
    apr_thread_mutex_t *lock;
    volatile apr_uint32_t open;
    int probing;
    apr_uint32_t refused;           /* 503s since the last summary line */
    apr_uint64_t refused_total;     /* 503s since it opened */
    apr_time_t opened_at;
    apr_time_t next_probe;
    apr_time_t next_summary;
    apr_interval_time_t interval;   /* ShopDBProbeInterval */
} shop_breaker;

struct shop_site {
    int index;
    server_rec *s;
    const char *conninfo;       /* ShopJobDBParams, else DBDParams */
    const char *probe_conninfo; /* DBDParams: what the circuit breaker pings */
    const char *key;            /* a hash of conninfo: names its shared memory */
    void *popular;              /* shop_popular_block in shared memory */
    volatile apr_uint64_t *soldout;
    volatile shop_dbstate *dbstate;         /* shared by the children and
                                               the jobs process */
    struct shop_cache_table_s *cache[SHOP_CACHE__KINDS];  /* NULL: no read cache */
    shop_breaker breaker;
};

/* check_config: reads the configuration tree, fills sc->site and sc->mounts. */
int shop_sites_configure(apr_pool_t *pconf, server_rec *s);
apr_array_header_t *shop_sites(void);       /* shop_site *, in index order */
/* The longest mount of r->server of a kind under which r->uri lies, or NULL. */
const shop_mount *shop_mount_of(request_rec *r, int kind);

/* ---- circuit breaker (mod_shop_breaker.c) -------------------------------- */

void shop_breaker_child_init(apr_pool_t *pchild);
/* Before asking mod_dbd's pool: 0 = the database is known down, answer 503. */
int shop_breaker_allow(request_rec *r, shop_site *site);
/* No connection, a connection lost for good, a statement timeout. */
void shop_breaker_failure(request_rec *r, shop_site *site, const char *why);
/* 0 when closed, else when it opened; *refused: 503s since. */
apr_time_t shop_breaker_open_since(shop_site *site, apr_uint64_t *refused);

/* ---- database (mod_shop_db.c, statements in mod_shop_sql.c) ------------ */

typedef enum {
    SHOP_DB_OK = 0,
    SHOP_DB_RETRY,      /* serialization failure, deadlock, lost connection */
    SHOP_DB_DOWN,       /* PostgreSQL unreachable: 503 */
    SHOP_DB_BUSY,       /* a lock or statement timeout: rolled back, 503 BUSY */
    SHOP_DB_FAIL        /* any other error: see shop_db.sqlstate */
} shop_dbrc;

#include "mod_shop_sql.h"

typedef struct shop_conn_state shop_conn_state;

typedef struct {
    request_rec *r;
    server_rec *s;          /* whose pool the connection came from */
    ap_dbd_t *dbd;
    PGconn *conn;
    shop_conn_state *state;
    int in_tx;
    char sqlstate[6];       /* of the last failure, "" if none */
} shop_db;

int shop_db_init(void);     /* post_config: finds mod_dbd */
shop_dbrc shop_db_open(request_rec *r, shop_db **out);
/* A connection from another server's pool (the status views). */
shop_dbrc shop_db_open_for(request_rec *r, server_rec *s, shop_db **out);
void shop_db_close(shop_db *db);
apr_uint32_t shop_db_in_use(void);    /* this child's borrowed connections */
shop_dbrc shop_db_begin(shop_db *db);
shop_dbrc shop_db_commit(shop_db *db);
void shop_db_rollback(shop_db *db);
/* Inside a transaction: mark, and undo back to the mark. */
shop_dbrc shop_db_savepoint(shop_db *db);
shop_dbrc shop_db_undo_to_savepoint(shop_db *db);
/* Runs a prepared statement; *res is released with the request pool. */
shop_dbrc shop_db_exec(shop_db *db, shop_sql id, const char *const *params,
                       PGresult **res);

/* ---- request context and responses (mod_shop_http.c) ------------------ */

typedef struct shop_req shop_req;

typedef struct {
    int status;         /* HTTP status */
    json_t *doc;        /* response body (owned by the request pool) */
    shop_err err;       /* SHOP_OK for a success response */
    int commit;         /* an error that still commits (e.g. a FAILED order) */
    const char *text;   /* a stored body to send as is (idempotent replay) */
} shop_resp;

struct shop_req {
    request_rec *r;
    const shop_srv_cfg *sc;
    const shop_dir_cfg *dc;
    const char *route_key;      /* "POST /users/1/points/charge" */
    const char *params[SHOP_ROUTE_MAX_PARAMS];
    apr_int64_t user_id;        /* path {userId} when the route has one */
    json_t *body;               /* parsed JSON object, or NULL */
    const char *raw_body;
    apr_size_t raw_len;
    const char *idem_key;       /* Idempotency-Key, validated */
    shop_db *db;
    apr_array_header_t *cache_writes;   /* read-cache entries this request
                                         * may change (mod_shop_cache.c) */
};

shop_err shop_read_json_body(shop_req *q, int required, const char **detail);
int shop_send_json(request_rec *r, int status, const char *text);
int shop_send_problem(request_rec *r, shop_err e, const char *detail);
int shop_send_resp(shop_req *q, const shop_resp *resp);
const char *shop_resp_body(apr_pool_t *p, const shop_resp *resp);
void shop_resp_page(shop_req *q, PGresult *res, int limit, shop_resp *out);
/* A success whose body is JSON text built by the database. */
void shop_resp_text(shop_req *q, shop_resp *out, int status, const char *text);
shop_dbrc shop_resp_outcome(shop_req *q, PGresult *res, int ok_status,
                            shop_resp *out);
void shop_resp_ok(shop_resp *out, int status, json_t *doc);
void shop_resp_err(shop_resp *out, request_rec *r, shop_err e, const char *detail);
const char *shop_request_id(request_rec *r);

/* ---- transactions with Idempotency-Key (mod_shop_tx.c) ---------------- */

/*
 * One unit of work.  Returns the database outcome; the API outcome (a
 * success body or a domain error) goes into *out.
 */
typedef shop_dbrc (*shop_work_fn)(shop_req *q, void *ctx, shop_resp *out);

/* Autocommit statements, or one transaction when the request has an
 * Idempotency-Key (the key is claimed and stored with the work). */
int shop_run(shop_req *q, shop_work_fn work, void *ctx);

/* ShopUserAuth remote-user: DECLINED when r->user may act for {userId},
 * else the answer sent (403, or 503 without a database). */
int shop_authorize(shop_req *q);

/* Serves a user-scoped list statement: see mod_shop_tx.c. */
int shop_serve_user_page(shop_req *q, shop_sql sql);

typedef struct {
    shop_sql sql;
    const char *params[2];
    shop_err not_found;
    int page;           /* rows of (id, json), one page, instead of one json */
} shop_lookup;

/* Serves a read of one resource: see mod_shop_tx.c. */
int shop_serve_lookup(shop_req *q, const shop_lookup *l);

/* ---- handlers ----------------------------------------------------------- */

typedef int (*shop_handler_fn)(shop_req *q);

#define SHOP_BODY_NONE     0
#define SHOP_BODY_OPTIONAL 1
#define SHOP_BODY_REQUIRED 2

typedef struct {
    shop_route route;           /* must stay first: see shop_route_find */
    shop_handler_fn handler;
    int user_scoped;            /* params[0] is a {userId} */
    int body;                   /* SHOP_BODY_* */
} shop_route_entry;

/* The API's routes (handler shop) and the admin routes (shop-admin). */
extern const shop_route_entry shop_routes[];
extern const apr_size_t shop_routes_count;
extern const shop_route_entry shop_admin_routes[];
extern const apr_size_t shop_admin_routes_count;

int shop_points_get(shop_req *q);
int shop_points_charge(shop_req *q);
int shop_points_history(shop_req *q);
int shop_products_list(shop_req *q);
int shop_products_get(shop_req *q);
int shop_admin_user_create(shop_req *q);
int shop_admin_product_create(shop_req *q);
int shop_admin_product_update(shop_req *q);
int shop_admin_coupon_create(shop_req *q);
int shop_admin_status(shop_req *q);
int shop_admin_outbox_dead(shop_req *q);
int shop_admin_outbox_redeliver(shop_req *q);
int shop_orders_create(shop_req *q);
int shop_orders_list(shop_req *q);
int shop_orders_get(shop_req *q);
int shop_orders_coupons(shop_req *q);
int shop_orders_pay(shop_req *q);
int shop_orders_cancel(shop_req *q);
int shop_coupons_get(shop_req *q);
int shop_coupons_issue(shop_req *q);
int shop_coupons_list(shop_req *q);

/* ---- shared memory (mod_shop_shm.c) ------------------------------------ */

/* One slot of shared memory (mod_slotmem_shm), zeroed unless persisted;
 * NULL with *rv on failure. */
void *shop_shm_block(apr_pool_t *pconf, const char *name, apr_size_t size,
                     int persist, apr_status_t *rv);
/* Creates the shared memory of this file (every shop's sold-out set and
 * database state, the children's slots); post_config, before the users of
 * shared memory (read cache, popular) attach theirs and the jobs start. */
apr_status_t shop_shm_create(apr_pool_t *pconf, server_rec *s);
int shop_soldout_is(const shop_site *site, apr_int64_t coupon_id);
void shop_soldout_mark(const shop_site *site, apr_int64_t coupon_id);
int shop_soldout_count(const shop_site *site);

/* Each live child's pooled connections in use (and the most seen at once). */
typedef struct {
    apr_uint32_t pid;
    apr_uint32_t in_use;
    apr_uint32_t peak;
} shop_child_use;

void shop_children_claim(void);             /* child_init */
void shop_children_note(apr_uint32_t in_use);
int shop_children_list(shop_child_use *out, int max);

/* ---- scheduled jobs (mod_shop_jobs.c) ----------------------------------- */

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
    PGconn *conn;               /* the job's own, used by its thread only */
    apr_time_t reconnect_at;    /* after a failed connect: not before */
    void *data;                 /* the job's own state */
};

/* A kind of job: appends its jobs for one shop to jobs (shop_job *). */
typedef void (*shop_jobs_fn)(apr_pool_t *p, const shop_site *site,
                             apr_array_header_t *jobs);

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
PGconn *shop_job_conn(shop_job *job);
/* A statement (mod_shop_sql.c) on the job's connection; NULL (logged) on
 * any failure. */
PGresult *shop_job_query(shop_job *job, shop_sql id, const char *const *params);
/* BEGIN, COMMIT, ROLLBACK on the job's connection; 0 on failure. */
int shop_job_control(shop_job *job, const char *command);

/* The jobs of one shop, appended to jobs (shop_job *). */
void shop_expiry_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs);
void shop_popular_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs);
void shop_relay_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs);
void shop_breaker_jobs(apr_pool_t *p, const shop_site *site, apr_array_header_t *jobs);
/* The popular block of a shop in shared memory. */
apr_status_t shop_popular_attach(apr_pool_t *pconf, server_rec *s, shop_site *site);

/* mod_shop_cache.c: ShopReadCacheTTL */
apr_status_t shop_cache_attach(apr_pool_t *pconf, server_rec *s, shop_site *site);
/* 1: answered from the cache; else *version is what a fill is filed under. */
int shop_cache_answer(shop_req *q, shop_cache_kind kind, apr_int64_t id,
                      apr_uint64_t *version);
void shop_cache_fill(shop_req *q, shop_cache_kind kind, apr_int64_t id,
                     apr_uint64_t version, const shop_resp *resp);
/* id 0: every entry of the kind.  shop_run forgets them after its work. */
void shop_cache_note_write(shop_req *q, shop_cache_kind kind, apr_int64_t id);
void shop_cache_forget_noted(shop_req *q);
void shop_cache_forget_site(const shop_site *site, shop_cache_kind kind);
int shop_products_popular(shop_req *q);
apr_time_t shop_popular_generated_at(const shop_site *site);

/* ---- health and status (mod_shop_status.c) ------------------------------ */

int shop_health_live(shop_req *q);
int shop_health_ready(shop_req *q);
void shop_status_register(void);

/* helpers shared by handlers (mod_shop_http.c) */
const char *shop_i64(apr_pool_t *p, apr_int64_t v);
json_t *shop_json_i64(const char *decimal);
/* next_cursor of a page read with limit + 1 rows (ids in column 0). */
json_t *shop_next_cursor(apr_pool_t *p, PGresult *res, int rows, int limit);
shop_err shop_list_params(shop_req *q, int descending, int *limit,
                          apr_int64_t *after, const char **detail);

#endif
