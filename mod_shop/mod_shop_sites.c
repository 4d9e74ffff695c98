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
 * Servers with different databases are independent shops.
 *
 * Mounts are the <Location> sections with a SetHandler: shop, shop-admin,
 * or another handler (which takes its part of the URL space back).  A virtual host sees its own and the main server's, as
 * httpd's section merging does.
 */
#include <apr_hash.h>

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

static shop_site *site_for(apr_pool_t *p, apr_hash_t *by_conninfo,
                           server_rec *s, const char *conninfo)
{
    shop_site *site = apr_hash_get(by_conninfo, conninfo, APR_HASH_KEY_STRING);

    if (site == NULL) {
        site = apr_pcalloc(p, sizeof(*site));
        site->index = sites->nelts;
        site->s = s;
        site->conninfo = conninfo;
        site->key = apr_psprintf(p, "%08x", apr_hashfunc_default(
                                 conninfo, &(apr_ssize_t){APR_HASH_KEY_STRING}));
        apr_hash_set(by_conninfo, conninfo, APR_HASH_KEY_STRING, site);
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
    apr_hash_t *by_conninfo = apr_hash_make(p);
    server_scan *main_scan = scan_of(scans, main_s);
    server_rec *s;

    for (s = main_s; s; s = s->next) {
        server_scan *scan = scan_of(scans, s);
        shop_srv_cfg *sc = cfg_of(s);
        const char *conninfo = job_conninfo(s, main_s, scan, main_scan);
        const char *differs;

        sc->mounts = s == main_s ? scan->mounts
                   : apr_array_append(p, scan->mounts, main_scan->mounts);
        sc->site = conninfo ? site_for(p, by_conninfo, s, conninfo) : NULL;
        if (sc->site && sc->site->s == s) {
            /* The breaker probes what the request path uses: DBDParams. */
            sc->site->probe_conninfo = scan->dbd_params ? scan->dbd_params
                                     : main_scan->dbd_params ? main_scan->dbd_params
                                     : conninfo;
        }
        if (sc->site && sc->site->s != s
            && (differs = job_setting_differs(cfg_of(sc->site->s), sc))) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL,
                         SHOPLOGNO(00028) "%s uses the database of %s but sets %s "
                         "differently; servers sharing a database share its "
                         "jobs, so give it its own DBDParams (or "
                         "ShopJobDBParams) or the same %s",
                         server_name(p, s), server_name(p, sc->site->s),
                         differs, differs);
            return 0;
        }
    }
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
