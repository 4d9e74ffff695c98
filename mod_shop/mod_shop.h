/*
 * mod_shop private header: the module, its log ids, its configuration and
 * its shops.  Every glue file (mod_shop_*.c) includes it; the interfaces
 * between the glue files each have a header of their own (mod_shop_db.h,
 * mod_shop_http.h, mod_shop_tx.h, ...), so libpq, mod_dbd and jansson
 * reach only the files that use them.
 */
#ifndef MOD_SHOP_H
#define MOD_SHOP_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>

#include "mod_shop_directives.h"

APLOG_USE_MODULE(shop);

/* Every log message has a stable id, as httpd's own do with APLOGNO:
 * "SHOP00012: ...".  scripts/logno gives new calls the next free number;
 * docs/log-messages.md says what each means and what to do about it. */
#define SHOPLOGNO(n) "SHOP" #n ": "
extern module AP_MODULE_DECLARE_DATA shop_module;

#define SHOP_HANDLER "shop"              /* the API */
#define SHOP_ADMIN_HANDLER "shop-admin"  /* the admin routes, nowhere else */

/* ---- configuration (mod_shop_config.c, mod_shop_directives.h) ---------- */

#define SHOP_UNSET -1
#define SHOP_PLATFORM_CONNECTIONS_MAX 256  /* ShopPlatformConnections */

typedef enum { SHOP_AUTH_UNSET = -1, SHOP_AUTH_NONE = 0, SHOP_AUTH_REMOTE_USER } shop_auth_mode;

typedef struct shop_site shop_site;

/* What the read caches hold (mod_shop_cache.c): the kinds of key, and the
 * tables they are in. */
typedef enum {
    SHOP_CACHE_PRODUCT = 1,     /* GET /products/{id}: catalog */
    SHOP_CACHE_COUPON,          /* GET /coupons/{id}: catalog */
    SHOP_CACHE_PAGE,            /* a page of GET /products: pages */
    SHOP_CACHE_BALANCE          /* GET /users/{id}/points: balances */
} shop_cache_kind;
typedef enum {
    SHOP_CACHE_CATALOG, SHOP_CACHE_PAGES, SHOP_CACHE_BALANCES, SHOP_CACHE__TABLES
} shop_cache_table_id;

/* The fields of the directives (mod_shop_directives.h), one per directive. */
#define SHOP_FIELD_VALUE(name, field, kind, min, max, dflt, help) SHOP_TYPE_##kind field;
#define SHOP_FIELD_SETTER(name, field, type, args, setter, unset, dflt, help) type field;
#define SHOP_FIELD_DIR(name, field, type, args, setter, unset, help) type field;

typedef struct {
    SHOP_SRV_DIRECTIVES(SHOP_FIELD_VALUE, SHOP_FIELD_SETTER)
    apr_table_t *set_at;        /* directive name -> "file:line" it was set at */
    /* Found when the configuration is checked (mod_shop_sites.c): */
    shop_site *site;            /* the shop this server belongs to, or NULL */
    apr_array_header_t *mounts; /* shop_mount: the <Location>s of the handlers */
} shop_srv_cfg;

typedef struct {
    SHOP_DIR_DIRECTIVES(SHOP_FIELD_DIR)     /* mount: NULL, found per request */
} shop_dir_cfg;

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
#define SHOP_SCHEMA_DETAIL 512
typedef struct {
    apr_uint64_t unreachable_at;    /* a child last found it unreachable */
    apr_uint64_t reachable_at;      /* the prober last found it answering */
    apr_uint64_t probed_at;         /* the prober's last tick: it is alive */
    /* Does the schema match the module (mod_shop_schema.c)?  Written by
     * the jobs process's schema check, read by every request. */
    apr_uint32_t schema;            /* shop_schema_state (shop_schema.h) */
    apr_uint32_t schema_seq;        /* odd while schema_detail is written */
    apr_uint64_t schema_suspect_at; /* a request met a missing table */
    char schema_detail[SHOP_SCHEMA_DETAIL];     /* what differs */
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
    const char *name;           /* ShopName, else the ServerName of its first
                                 * server: status keys and log lines */
    server_rec *s;
    const char *conninfo;       /* ShopJobDBParams, else DBDParams */
    const char *probe_conninfo; /* DBDParams: what the circuit breaker pings */
    const char *key;            /* a hash of conninfo: names its shared memory */
    void *popular;              /* shop_popular_block in shared memory */
    volatile apr_uint64_t *soldout;
    volatile shop_dbstate *dbstate;         /* shared by the children and
                                               the jobs process */
    struct shop_cache *cache[SHOP_CACHE__TABLES];   /* NULL: that cache is off */
    struct shop_catalog_sync *catalog_sync;         /* the sync job's progress */
    shop_breaker breaker;
    struct shop_gate *writes;   /* this child's write admission (mod_shop_gate.c) */
    struct shop_batch *issues;  /* this child's coupon issues, batched
                                   (mod_shop_coupons.c); NULL: one by one */
    volatile apr_uint64_t writes_shared_at;     /* when its share was last set */
};

/* check_config: reads the configuration tree, fills sc->site and sc->mounts. */
int shop_sites_configure(apr_pool_t *pconf, server_rec *s);
apr_array_header_t *shop_sites(void);       /* shop_site *, in index order */
/* The longest mount of r->server of a kind under which r->uri lies, or NULL. */
const shop_mount *shop_mount_of(request_rec *r, int kind);

#endif
