/*
 * Which shops this configuration holds, and where their handlers are
 * mounted, read from httpd's configuration tree (ap_conftree, public API)
 * when the configuration is checked, so `apachectl configtest` reports
 * the mistakes below.
 *
 * A server's jobs connect with ShopJobDBParams, else with the DBDParams in
 * its scope (its own, or the main server's).  One database is one shop:
 * servers that share a database share its jobs, its popular ranking and
 * its sold-out set, so they must agree on the settings the jobs use.
 * Servers with different databases are independent shops.  A database is
 * its (host, port, dbname), read from the connection string by libpq:
 * two strings that differ in anything else (sslmode, user, a timeout, the
 * order of the keywords) name the same database, hence the same shop.
 *
 * A shop is named by ShopName, else by the ServerName of its first
 * server: names that do not change when a site is added or the files load
 * in another order, for server-status, its ?auto keys and the log.
 *
 * Mounts are the <Location> sections with a SetHandler: shop, shop-admin,
 * or another handler (which takes its part of the URL space back).  A virtual host sees its own and the main server's, as
 * httpd's section merging does.
 */
#include <apr_hash.h>
#include <apr_lib.h>

#include <libpq-fe.h>

#include "mod_shop.h"

typedef struct {
    server_rec *s;
    const char *dbd_params;     /* DBDParams in this server's own scope */
    apr_array_header_t *mounts; /* shop_mount, own sections only */
} server_scan;

static apr_array_header_t *sites;

apr_array_header_t *shop_sites(void)
{
    return sites;
}

static server_scan *scan_of(apr_hash_t *scans, server_rec *s)
{
    return apr_hash_get(scans, &s, sizeof(s));
}

/* The server a <VirtualHost> node defined: same file, same line. */
static server_rec *vhost_of(server_rec *main_s, const ap_directive_t *d)
{
    server_rec *vs;

    for (vs = main_s->next; vs; vs = vs->next) {
        if (vs->defn_name && d->filename && vs->defn_line_number == (unsigned)d->line_num
            && strcmp(vs->defn_name, d->filename) == 0) {
            return vs;
        }
    }
    return NULL;
}

/* "<Location "/api">" args are `"/api">`: the path, or NULL for a regex. */
static const char *location_path(apr_pool_t *p, const char *args)
{
    const char *end = ap_strrchr_c(args, '>');
    const char *arg = end ? apr_pstrndup(p, args, end - args) : args;
    char *path = ap_getword_conf(p, &arg);
    apr_size_t n = strlen(path);

    if (path[0] != '/') {
        return NULL;            /* "~" regex, or not a URL path */
    }
    while (n > 0 && path[n - 1] == '/') {
        path[--n] = '\0';
    }
    return path;
}

static void add_mount(apr_pool_t *p, server_scan *sc, const char *path,
                      const char *args)
{
    const char *arg = args;
    char *handler = ap_getword_conf(p, &arg);
    shop_mount *m;

    m = apr_array_push(sc->mounts);
    m->path = path;
    m->kind = strcasecmp(handler, SHOP_HANDLER) == 0 ? SHOP_MOUNT_API
            : strcasecmp(handler, SHOP_ADMIN_HANDLER) == 0 ? SHOP_MOUNT_ADMIN
            : SHOP_MOUNT_OTHER;
}

static void walk(apr_pool_t *p, apr_hash_t *scans, server_rec *main_s,
                 const ap_directive_t *d, server_scan *sc, const char *location)
{
    for (; d; d = d->next) {
        const char *name = d->directive;

        if (strcasecmp(name, "<VirtualHost") == 0) {
            server_rec *vs = vhost_of(main_s, d);
            if (vs) {
                walk(p, scans, main_s, d->first_child, scan_of(scans, vs), NULL);
            }
        }
        else if (strcasecmp(name, "<Location") == 0 && location == NULL) {
            const char *path = location_path(p, d->args);
            if (path) {
                walk(p, scans, main_s, d->first_child, sc, path);
            }
        }
        else if (strcasecmp(name, "SetHandler") == 0 && location) {
            add_mount(p, sc, location, d->args);
        }
        else if (strcasecmp(name, "DBDParams") == 0 && location == NULL) {
            const char *arg = d->args;
            sc->dbd_params = ap_getword_conf(p, &arg);     /* the last one wins */
        }
        else if (d->first_child && strncasecmp(name, "<If", 3) == 0) {
            walk(p, scans, main_s, d->first_child, sc, location);
        }
        else if (d->first_child && strncasecmp(name, "<Else", 5) == 0) {
            walk(p, scans, main_s, d->first_child, sc, location);
        }
    }
}

static shop_srv_cfg *cfg_of(server_rec *s)
{
    return ap_get_module_config(s->module_config, &shop_module);
}

/* The settings the jobs of a shop use: those must be equal in its servers. */
static const char *job_setting_differs(const shop_srv_cfg *a, const shop_srv_cfg *b)
{
    if (a->popular_window != b->popular_window) return "ShopPopularWindow";
    if (a->popular_top_n != b->popular_top_n) return "ShopPopularTopN";
    if (a->popular_refresh != b->popular_refresh) return "ShopPopularRefresh";
    if (a->idem_ttl != b->idem_ttl) return "ShopIdempotencyTTL";
    if (a->outbox_retention != b->outbox_retention) return "ShopOutboxRetention";
    if (a->sales_retention != b->sales_retention) return "ShopSalesRetention";
    if (a->platform_timeout != b->platform_timeout) return "ShopPlatformTimeout";
    if (a->platform_retry_max != b->platform_retry_max) return "ShopPlatformRetryMax";
    if (a->platform_dead_after != b->platform_dead_after) return "ShopPlatformDeadAfter";
    if (a->platform_connections != b->platform_connections) return "ShopPlatformConnections";
    if (a->read_cache_ttl != b->read_cache_ttl) return "ShopReadCacheTTL";
    if (a->catalog_cache_size != b->catalog_cache_size) return "ShopCatalogCacheSize";
    if (a->catalog_max_age != b->catalog_max_age) return "ShopCatalogMaxAge";
    if (a->catalog_sync != b->catalog_sync) return "ShopCatalogSync";
    if ((a->platform_url == NULL) != (b->platform_url == NULL)
        || (a->platform_url && strcmp(a->platform_url, b->platform_url) != 0)) {
        return "ShopPlatformURL";
    }
    return NULL;
}

static const char *server_name(apr_pool_t *p, const server_rec *s)
{
    if (!s->is_virtual) {
        return "the main server";
    }
    return apr_psprintf(p, "<VirtualHost> at %s:%u", s->defn_name,
                        s->defn_line_number);
}

/* The value of a keyword in libpq's options, NULL if it has none. */
static const char *option(const PQconninfoOption *o, const char *keyword)
{
    for (; o && o->keyword; o++) {
        if (strcmp(o->keyword, keyword) == 0 && o->val && *o->val) {
            return o->val;
        }
    }
    return NULL;
}

/* A keyword of a parsed connection string, else libpq's default for it
 * (the PG* environment included), else "". */
static const char *conn_value(const PQconninfoOption *opts,
                              const PQconninfoOption *defaults, const char *keyword)
{
    const char *v = option(opts, keyword);

    return v ? v : (v = option(defaults, keyword)) ? v : "";
}

/*
 * "host=... port=... dbname=...": the database a connection string names,
 * or NULL (with *error) if libpq cannot read it.  A missing dbname is the
 * user's name, as libpq has it; a service file is named, not opened.
 */
static const char *database_of(apr_pool_t *p, const char *conninfo, const char **error)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    PQconninfoOption *defaults;
    const char *host, *dbname, *id;

    if (opts == NULL) {
        *error = apr_pstrdup(p, err ? err : "out of memory");
        PQfreemem(err);
        return NULL;
    }
    defaults = PQconndefaults();
    host = conn_value(opts, defaults, "host");
    dbname = conn_value(opts, defaults, "dbname");
    id = apr_psprintf(p, "host=%s port=%s dbname=%s",
                      *host ? host : conn_value(opts, defaults, "hostaddr"),
                      conn_value(opts, defaults, "port"),
                      *dbname ? dbname : conn_value(opts, defaults, "user"));
    if (*conn_value(opts, NULL, "service")) {
        id = apr_pstrcat(p, id, " service=", conn_value(opts, NULL, "service"), NULL);
    }
    PQconninfoFree(defaults);
    PQconninfoFree(opts);
    return id;
}

/* ShopName set in this server itself (not inherited from the main
 * server's: the pointer comparison, as in job_conninfo), or NULL. */
static const char *own_shop_name(server_rec *s, server_rec *main_s)
{
    const char *own = cfg_of(s)->shop_name, *main_name = cfg_of(main_s)->shop_name;

    return own && (s == main_s || own != main_name) ? own : NULL;
}

/* ServerName, with what ShopName would refuse (a ':', a space) as '_'. */
static const char *host_name(apr_pool_t *p, const server_rec *s)
{
    char *name = apr_pstrdup(p, s->server_hostname ? s->server_hostname : "main"), *c;

    for (c = name; *c; c++) {
        if (!apr_isalnum(*c) && *c != '.' && *c != '-' && *c != '_') {
            *c = '_';
        }
    }
    return name;
}

/*
 * A shop's name: a ShopName of its servers, else the main server's name
 * when the main server is one of them, else the least of their
 * ServerNames; the least where several qualify.  httpd lists virtual hosts
 * last-defined first, so "the first server" would change with the order
 * of the files; this does not.
 */
static void name_sites(apr_pool_t *p, server_rec *main_s)
{
    int *rank = apr_pcalloc(p, sizeof(int) * (apr_size_t)(sites->nelts + 1));
    server_rec *s;

    for (s = main_s; s; s = s->next) {
        shop_site *site = cfg_of(s)->site;
        const char *own = own_shop_name(s, main_s);
        const char *name = own ? own : host_name(p, s);
        int r = own ? 3 : s == main_s ? 2 : 1;

        if (site && (r > rank[site->index]
                     || (r == rank[site->index] && strcmp(name, site->name) < 0))) {
            site->name = name;
            rank[site->index] = r;
        }
    }
}

/* The name is the shop's key in ?auto: a second shop of the same name is
 * told apart (and the configuration told to name them). */
static void unique_names(apr_pool_t *p)
{
    int i, j, n;

    for (i = 1; i < sites->nelts; i++) {
        shop_site *site = APR_ARRAY_IDX(sites, i, shop_site *);
        const char *name = site->name;

        for (n = 1, j = 0; j < i; j++) {
            if (strcmp(APR_ARRAY_IDX(sites, j, shop_site *)->name, site->name) == 0) {
                site->name = apr_psprintf(p, "%s-%d", name, ++n);
                j = -1;         /* check the new name against all again */
            }
        }
        if (site->name != name) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, site->s, SHOPLOGNO(00042) "two shops "
                         "are named %s: the one of %s is called %s; set ShopName in each "
                         "for names that do not depend on the order of the files",
                         name, server_name(p, site->s), site->name);
        }
    }
}

static shop_site *site_for(apr_pool_t *p, apr_hash_t *by_database, server_rec *s,
                           const char *conninfo, const char *database)
{
    shop_site *site = apr_hash_get(by_database, database, APR_HASH_KEY_STRING);

    if (site == NULL) {
        site = apr_pcalloc(p, sizeof(*site));
        site->index = sites->nelts;
        site->s = s;
        site->conninfo = conninfo;
        site->key = apr_psprintf(p, "%08x", apr_hashfunc_default(
                                 database, &(apr_ssize_t){APR_HASH_KEY_STRING}));
        apr_hash_set(by_database, database, APR_HASH_KEY_STRING, site);
        APR_ARRAY_PUSH(sites, shop_site *) = site;
    }
    return site;
}

/*
 * ShopJobDBParams, else DBDParams, the nearest scope first: a virtual host
 * with a DBDParams of its own does not take the main server's
 * ShopJobDBParams (merged configurations cannot tell an inherited value
 * from a set one, hence the pointer comparison).
 */
static const char *job_conninfo(server_rec *s, server_rec *main_s,
                                const server_scan *scan, const server_scan *main_scan)
{
    const char *job = cfg_of(s)->job_db_params;
    const char *main_job = cfg_of(main_s)->job_db_params;

    if (job && (s == main_s || job != main_job)) {
        return job;                         /* set in this server */
    }
    if (scan->dbd_params) {
        return scan->dbd_params;
    }
    return main_job ? main_job : main_scan->dbd_params;
}

/* Each server's shop, and its mounts (own first, then the main server's). */
static int assign(apr_pool_t *p, server_rec *main_s, apr_hash_t *scans)
{
    apr_hash_t *by_database = apr_hash_make(p);
    server_scan *main_scan = scan_of(scans, main_s);
    server_rec *s;

    for (s = main_s; s; s = s->next) {
        server_scan *scan = scan_of(scans, s);
        shop_srv_cfg *sc = cfg_of(s);
        const char *conninfo = job_conninfo(s, main_s, scan, main_scan);
        const char *database = NULL, *differs, *error = NULL;

        sc->mounts = s == main_s ? scan->mounts
                   : apr_array_append(p, scan->mounts, main_scan->mounts);
        if (conninfo && (database = database_of(p, conninfo, &error)) == NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL,
                         SHOPLOGNO(00043) "%s: libpq cannot read its connection string (DBDParams "
                         "or ShopJobDBParams): %s", server_name(p, s), error);
            return 0;
        }
        sc->site = database ? site_for(p, by_database, s, conninfo, database) : NULL;
        if (sc->site && sc->site->s == s) {
            /* The breaker probes what the request path uses: DBDParams. */
            sc->site->probe_conninfo = scan->dbd_params ? scan->dbd_params
                                     : main_scan->dbd_params ? main_scan->dbd_params
                                     : conninfo;
        }
        if (sc->site && sc->site->s != s
            && (differs = job_setting_differs(cfg_of(sc->site->s), sc))) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL,
                         SHOPLOGNO(00028) "%s uses the database of %s but sets "
                         "%s differently; servers sharing a database (%s) share "
                         "its jobs, also where their DBDParams differ in sslmode "
                         "or user, so give it a database of its own or the same %s",
                         server_name(p, s), server_name(p, sc->site->s),
                         differs, database, differs);
            return 0;
        }
    }
    name_sites(p, main_s);
    unique_names(p);
    return 1;
}

int shop_sites_configure(apr_pool_t *pconf, server_rec *main_s)
{
    apr_hash_t *scans = apr_hash_make(pconf);
    server_rec *s;

    for (s = main_s; s; s = s->next) {
        server_scan *scan = apr_pcalloc(pconf, sizeof(*scan));
        scan->s = s;
        scan->mounts = apr_array_make(pconf, 4, sizeof(shop_mount));
        apr_hash_set(scans, apr_pmemdup(pconf, &s, sizeof(s)), sizeof(s), scan);
    }
    walk(pconf, scans, main_s, ap_conftree, scan_of(scans, main_s), NULL);
    sites = apr_array_make(pconf, 4, sizeof(shop_site *));
    return assign(pconf, main_s, scans);
}

/* Does uri lie under path, on a segment boundary? */
static int under(const char *uri, const char *path)
{
    apr_size_t n = strlen(path);

    return strncmp(uri, path, n) == 0 && (uri[n] == '/' || uri[n] == '\0');
}

const shop_mount *shop_mount_of(request_rec *r, int kind)
{
    const shop_srv_cfg *sc = cfg_of(r->server);
    const shop_mount *best = NULL;
    int i;

    if (sc->mounts == NULL || r->uri == NULL || r->uri[0] != '/') {
        return NULL;
    }
    for (i = 0; i < sc->mounts->nelts; i++) {
        const shop_mount *m = &APR_ARRAY_IDX(sc->mounts, i, shop_mount);
        if ((kind == SHOP_MOUNT_ANY || m->kind == kind) && under(r->uri, m->path)
            && (best == NULL || strlen(m->path) > strlen(best->path))) {
            best = m;
        }
    }
    return best;
}
