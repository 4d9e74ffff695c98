/*
 * Directives.  Every value is checked when the configuration is read, so
 * `apachectl -t` names a bad value instead of a request failing later.
 * Settings live per server (main or virtual host) in shop_srv_cfg; only
 * the mount is per <Location>.  ShopUserAuth is per server on purpose: a
 * per-<Location> value could be walked around through another mount.
 */
#include "mod_shop.h"
#include "mod_shop_config.h"
#include "shop_duration.h"

#define SEC APR_USEC_PER_SEC
#define DAY (86400 * APR_USEC_PER_SEC)

/* Which field a shared setter writes, with its bounds. */
typedef enum { KIND_INT, KIND_INT64, KIND_DURATION, KIND_SIZE } value_kind;

typedef struct {
    value_kind kind;
    apr_size_t offset;
    apr_int64_t min;
    apr_int64_t max;
} value_spec;

#define SRV(field) APR_OFFSETOF(shop_srv_cfg, field)

static const value_spec spec_max_body     = {KIND_SIZE, SRV(max_body), 1024, 16 * 1024 * 1024};
static const value_spec spec_charge_max   = {KIND_INT64, SRV(charge_max), 1, 9007199254740991LL};
static const value_spec spec_balance_max  = {KIND_INT64, SRV(balance_max), 1, 9007199254740991LL};
static const value_spec spec_db_retries   = {KIND_INT, SRV(db_retries), 0, 20};
static const value_spec spec_idem_ttl     = {KIND_DURATION, SRV(idem_ttl), SEC, 30 * DAY};
static const value_spec spec_order_hold   = {KIND_DURATION, SRV(order_hold), SEC, 30 * DAY};
static const value_spec spec_top_n        = {KIND_INT, SRV(popular_top_n), 1, 100};
static const value_spec spec_window       = {KIND_DURATION, SRV(popular_window), SEC, 365 * DAY};
static const value_spec spec_outbox_ret  = {KIND_DURATION, SRV(outbox_retention), SEC, 3650 * DAY};
static const value_spec spec_sales_ret   = {KIND_DURATION, SRV(sales_retention), SEC, 3650 * DAY};
static const value_spec spec_refresh      = {KIND_DURATION, SRV(popular_refresh), 100000, DAY};
static const value_spec spec_pf_timeout   = {KIND_DURATION, SRV(platform_timeout), 1000, 600 * SEC};
static const value_spec spec_pf_retry_max = {KIND_DURATION, SRV(platform_retry_max), SEC, DAY};
static const value_spec spec_pf_dead_after = {KIND_INT, SRV(platform_dead_after), 1, 100};
static const value_spec spec_pf_connections = {KIND_INT, SRV(platform_connections), 1, SHOP_PLATFORM_CONNECTIONS_MAX};
static const value_spec spec_read_cache  = {KIND_DURATION, SRV(read_cache_ttl), 0, 3600 * SEC};
static const value_spec spec_db_probe     = {KIND_DURATION, SRV(db_probe_interval), 10000, 60 * SEC};

void *shop_create_srv_cfg(apr_pool_t *p, server_rec *s)
{
    shop_srv_cfg *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->max_body = SHOP_UNSET;
    c->charge_max = SHOP_UNSET;
    c->balance_max = SHOP_UNSET;
    c->db_retries = SHOP_UNSET;
    c->idem_ttl = SHOP_UNSET;
    c->order_hold = SHOP_UNSET;
    c->popular_top_n = SHOP_UNSET;
    c->popular_window = SHOP_UNSET;
    c->popular_refresh = SHOP_UNSET;
    c->outbox_retention = SHOP_UNSET;
    c->sales_retention = SHOP_UNSET;
    c->platform_timeout = SHOP_UNSET;
    c->platform_retry_max = SHOP_UNSET;
    c->platform_dead_after = SHOP_UNSET;
    c->platform_connections = SHOP_UNSET;
    c->read_cache_ttl = SHOP_UNSET;
    c->db_probe_interval = SHOP_UNSET;
    c->user_auth = SHOP_AUTH_UNSET;
    c->db_prepare = SHOP_UNSET;
    return c;
}

#define MERGE(f) c->f = add->f != SHOP_UNSET ? add->f : base->f

void *shop_merge_srv_cfg(apr_pool_t *p, void *basev, void *addv)
{
    shop_srv_cfg *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));

    MERGE(max_body);
    MERGE(charge_max);
    MERGE(balance_max);
    MERGE(db_retries);
    MERGE(idem_ttl);
    MERGE(order_hold);
    MERGE(popular_top_n);
    MERGE(popular_window);
    MERGE(popular_refresh);
    MERGE(outbox_retention);
    MERGE(sales_retention);
    MERGE(platform_timeout);
    MERGE(platform_retry_max);
    MERGE(platform_dead_after);
    MERGE(platform_connections);
    MERGE(read_cache_ttl);
    MERGE(db_probe_interval);
    MERGE(user_auth);
    MERGE(db_prepare);
    c->platform_url = add->platform_url ? add->platform_url : base->platform_url;
    c->job_db_params = add->job_db_params ? add->job_db_params : base->job_db_params;
    return c;
}

#define DEFAULT(f, v) if (c->f == SHOP_UNSET) c->f = (v)

/* Called once per server after the configuration is read. */
void shop_srv_cfg_defaults(shop_srv_cfg *c)
{
    DEFAULT(max_body, 64 * 1024);
    DEFAULT(charge_max, 1000000);
    DEFAULT(balance_max, 10000000);
    DEFAULT(db_retries, 3);
    DEFAULT(idem_ttl, DAY);
    DEFAULT(order_hold, 600 * SEC);
    DEFAULT(popular_top_n, 5);
    DEFAULT(popular_window, 3 * DAY);
    DEFAULT(popular_refresh, 60 * SEC);
    DEFAULT(outbox_retention, 7 * DAY);
    DEFAULT(sales_retention, 2 * c->popular_window);   /* after the window's */
    DEFAULT(platform_timeout, 5 * SEC);
    DEFAULT(platform_retry_max, 300 * SEC);
    DEFAULT(platform_dead_after, 5);
    DEFAULT(platform_connections, 64);
    DEFAULT(read_cache_ttl, 0);
    DEFAULT(db_probe_interval, 250000);
    DEFAULT(user_auth, SHOP_AUTH_NONE);
    DEFAULT(db_prepare, 1);
}

/* Settings that depend on each other, after the defaults: NULL or why not. */
const char *shop_srv_cfg_check(apr_pool_t *p, const shop_srv_cfg *c)
{
    if (c->sales_retention < c->popular_window) {
        return apr_psprintf(p, "ShopSalesRetention (%" APR_INT64_T_FMT " s) must be at"
                            " least ShopPopularWindow (%" APR_INT64_T_FMT " s): the"
                            " ranking reads the sales of its whole window",
                            (apr_int64_t)apr_time_sec(c->sales_retention),
                            (apr_int64_t)apr_time_sec(c->popular_window));
    }
    return NULL;
}

void *shop_create_dir_cfg(apr_pool_t *p, char *dir)
{
    shop_dir_cfg *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    return c;
}

void *shop_merge_dir_cfg(apr_pool_t *p, void *basev, void *addv)
{
    shop_dir_cfg *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));

    c->mount = add->mount ? add->mount : base->mount;
    return c;
}

static const char *set_value(cmd_parms *cmd, void *dummy, const char *arg)
{
    const value_spec *spec = cmd->info;
    shop_srv_cfg *c = ap_get_module_config(cmd->server->module_config,
                                           &shop_module);
    char *field = (char *)c + spec->offset;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    apr_int64_t v = 0;
    apr_interval_time_t d = 0;
    apr_off_t size = 0;

    (void)dummy;
    if (err) {
        return err;
    }
    switch (spec->kind) {
    case KIND_INT:
        err = shop_parse_int64(arg, spec->min, spec->max, &v);
        *(int *)field = (int)v;
        break;
    case KIND_INT64:
        err = shop_parse_int64(arg, spec->min, spec->max, &v);
        *(apr_int64_t *)field = v;
        break;
    case KIND_DURATION:
        err = shop_parse_duration(arg, spec->min, spec->max, &d);
        *(apr_interval_time_t *)field = d;
        break;
    case KIND_SIZE:
        err = shop_parse_size(arg, spec->min, spec->max, &size);
        *(apr_off_t *)field = size;
        break;
    }
    if (err) {
        return apr_psprintf(cmd->pool, "%s '%s' %s (allowed: %" APR_INT64_T_FMT
                            " to %" APR_INT64_T_FMT "%s)", cmd->cmd->name, arg,
                            err, spec->min, spec->max,
                            spec->kind == KIND_DURATION ? " microseconds" : "");
    }
    return NULL;
}

static const char *set_platform_url(cmd_parms *cmd, void *dummy, const char *arg)
{
    shop_srv_cfg *c = ap_get_module_config(cmd->server->module_config,
                                           &shop_module);

    (void)dummy;
    if (strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0) {
        return "ShopPlatformURL must be an http:// or https:// URL";
    }
    c->platform_url = arg;
    return NULL;
}

static shop_srv_cfg *srv_cfg(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &shop_module);
}

static const char *set_user_auth(cmd_parms *cmd, void *dummy, const char *arg)
{
    shop_srv_cfg *c = srv_cfg(cmd);

    (void)dummy;
    if (strcasecmp(arg, "none") == 0) {
        c->user_auth = SHOP_AUTH_NONE;
    }
    else if (strcasecmp(arg, "remote-user") == 0) {
        c->user_auth = SHOP_AUTH_REMOTE_USER;
    }
    else {
        return "ShopUserAuth must be 'none' or 'remote-user'";
    }
    return NULL;
}

static const char *set_db_prepare(cmd_parms *cmd, void *dummy, int on)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);

    (void)dummy;
    if (err) {
        return err;
    }
    srv_cfg(cmd)->db_prepare = on ? 1 : 0;
    return NULL;
}

static const char *set_job_db_params(cmd_parms *cmd, void *dummy, const char *arg)
{
    (void)dummy;
    if (*arg == '\0') {
        return "ShopJobDBParams must not be empty";
    }
    srv_cfg(cmd)->job_db_params = arg;
    return NULL;
}

static const char *set_mount(cmd_parms *cmd, void *dirv, const char *arg)
{
    shop_dir_cfg *d = dirv;

    (void)cmd;
    if (arg[0] != '/') {
        return "ShopMount must be a URL path starting with '/'";
    }
    d->mount = arg;
    return NULL;
}

#define VALUE(name, spec, help) \
    AP_INIT_TAKE1(name, set_value, (void *)&spec, RSRC_CONF, help)

const command_rec shop_cmds[] = {
    VALUE("ShopMaxBody", spec_max_body, "largest request body in bytes (k/M suffix), default 64k"),
    VALUE("ShopChargeMax", spec_charge_max, "largest single charge, default 1000000"),
    VALUE("ShopBalanceMax", spec_balance_max, "largest balance, default 10000000"),
    VALUE("ShopDBRetries", spec_db_retries, "retries of a transaction after a serialization failure or deadlock, default 3"),
    VALUE("ShopIdempotencyTTL", spec_idem_ttl, "how long an Idempotency-Key is remembered, default 24h"),
    VALUE("ShopOrderHold", spec_order_hold, "how long an unpaid order holds its stock, default 10m"),
    VALUE("ShopPopularTopN", spec_top_n, "size of the popular ranking, default 5"),
    VALUE("ShopPopularWindow", spec_window, "sales window of the popular ranking, default 3d"),
    VALUE("ShopPopularRefresh", spec_refresh, "refresh interval of the popular ranking, default 60s"),
    VALUE("ShopOutboxRetention", spec_outbox_ret, "how long delivered outbox events are kept, default 7d"),
    VALUE("ShopSalesRetention", spec_sales_ret, "how long sales ledger lines are kept, at least ShopPopularWindow, default twice ShopPopularWindow"),
    VALUE("ShopPlatformTimeout", spec_pf_timeout, "timeout of one delivery to the data platform, default 5s"),
    VALUE("ShopPlatformRetryMax", spec_pf_retry_max, "longest backoff between deliveries, default 5m"),
    VALUE("ShopPlatformDeadAfter", spec_pf_dead_after, "permanent refusals (HTTP 4xx but 408/429) of an event before it is parked as dead, default 5"),
    VALUE("ShopReadCacheTTL", spec_read_cache, "0 (off, the default) or how long a cached product or balance may be served at most; writes through this httpd invalidate at once"),
    VALUE("ShopPlatformConnections", spec_pf_connections, "events the relay sends at once, each on its own keep-alive connection, 1-256, default 64"),
    VALUE("ShopDBProbeInterval", spec_db_probe, "while the database is unreachable, how often each child checks whether it is back, default 250ms"),
    AP_INIT_TAKE1("ShopPlatformURL", set_platform_url, NULL, RSRC_CONF,
                  "URL that receives order events; unset keeps them in the outbox"),
    AP_INIT_TAKE1("ShopUserAuth", set_user_auth, NULL, RSRC_CONF,
                  "none (default) or remote-user: r->user must be the login of {userId};"
                  " per server or virtual host, never per <Location>"),
    AP_INIT_FLAG("ShopDBPrepare", set_db_prepare, NULL, RSRC_CONF,
                  "on (default): server-side named prepared statements per pooled"
                  " connection; off: unnamed statements (PQexecParams), for a"
                  " transaction-pooling PgBouncer in front of PostgreSQL"),
    AP_INIT_TAKE1("ShopJobDBParams", set_job_db_params, NULL, RSRC_CONF,
                  "libpq connection string of the background jobs; default: the DBDParams"
                  " of the server or virtual host"),
    AP_INIT_TAKE1("ShopMount", set_mount, NULL, ACCESS_CONF,
                  "URL path the API routes are relative to; default: the <Location> that sets SetHandler shop"),
    {NULL}
};
