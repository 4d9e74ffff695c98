/*
 * Directives.  Every value is checked when the configuration is read, so
 * `apachectl -t` names a bad value instead of a request failing later.
 * Settings live per server (main or virtual host) in shop_srv_cfg; only
 * the mount is per <Location>.  ShopUserAuth is per server on purpose: a
 * per-<Location> value could be walked around through another mount.
 *
 * The directives are listed once, in mod_shop_directives.h: the fields,
 * the "unset" values, the merge, the defaults and the command table below
 * are all made from that table.
 */
#include "mod_shop.h"
#include "mod_shop_config.h"
#include "shop_duration.h"

/* Which field a shared setter writes, with its bounds. */
typedef enum { KIND_INT, KIND_INT64, KIND_DURATION, KIND_SIZE } value_kind;

typedef struct {
    value_kind kind;
    apr_size_t offset;
    apr_int64_t min;
    apr_int64_t max;
} value_spec;

#define SPEC(name, field, kind, min, max, dflt, help) \
    static const value_spec spec_##field = \
        {KIND_##kind, APR_OFFSETOF(shop_srv_cfg, field), min, max};
#define NO_SPEC(name, field, type, args, setter, unset, dflt, help)

SHOP_SRV_DIRECTIVES(SPEC, NO_SPEC)

#define UNSET_VALUE(name, field, kind, min, max, dflt, help) c->field = SHOP_UNSET;
#define UNSET_SETTER(name, field, type, args, setter, unset, dflt, help) c->field = unset;

void *shop_create_srv_cfg(apr_pool_t *p, server_rec *s)
{
    shop_srv_cfg *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    SHOP_SRV_DIRECTIVES(UNSET_VALUE, UNSET_SETTER)
    c->set_at = apr_table_make(p, 4);
    return c;
}

#define MERGE_VALUE(name, field, kind, min, max, dflt, help) \
    c->field = add->field != SHOP_UNSET ? add->field : base->field;
#define MERGE_SETTER(name, field, type, args, setter, unset, dflt, help) \
    c->field = add->field != unset ? add->field : base->field;

void *shop_merge_srv_cfg(apr_pool_t *p, void *basev, void *addv)
{
    shop_srv_cfg *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));

    SHOP_SRV_DIRECTIVES(MERGE_VALUE, MERGE_SETTER)
    c->set_at = apr_table_overlay(p, add->set_at, base->set_at);   /* add's first */
    return c;
}

/*
 * httpd creates a module's configuration for a virtual host only when the
 * host uses one of the module's directives; until then the host shares
 * the main server's.  What the configuration check finds per server (its
 * shop, its mounts: mod_shop_sites.c) must not be shared, or the last
 * server written wins for all of them (one host's requests on another's
 * shop and breaker): every virtual host gets its own, as the merge would
 * have made it.
 */
void shop_srv_cfg_unshare(apr_pool_t *p, server_rec *main_s)
{
    void *main_cfg = ap_get_module_config(main_s->module_config, &shop_module);
    server_rec *s;

    for (s = main_s->next; s; s = s->next) {
        if (ap_get_module_config(s->module_config, &shop_module) == main_cfg) {
            ap_set_module_config(s->module_config, &shop_module, shop_merge_srv_cfg(
                p, main_cfg, shop_create_srv_cfg(p, s)));
        }
    }
}

#define DEFAULT_VALUE(name, field, kind, min, max, dflt, help) \
    if (c->field == SHOP_UNSET) c->field = (dflt);
#define DEFAULT_SETTER(name, field, type, args, setter, unset, dflt, help) \
    if (c->field == unset) c->field = (dflt);

/* Called once per server after the configuration is read, in the table's
 * order (a default may follow another's: ShopSalesRetention). */
void shop_srv_cfg_defaults(shop_srv_cfg *c)
{
    SHOP_SRV_DIRECTIVES(DEFAULT_VALUE, DEFAULT_SETTER)
}

/*
 * Settings that depend on each other, after the defaults: NULL or why not,
 * with *at the "file:line" of the directive to change (NULL when neither
 * was written: both defaults).  The retention's default follows the
 * window, so a conflict is in the retention when it was written.
 */
const char *shop_srv_cfg_check(apr_pool_t *p, const shop_srv_cfg *c, const char **at)
{
    *at = NULL;
    if (c->sales_retention < c->popular_window) {
        *at = apr_table_get(c->set_at, "ShopSalesRetention");
        if (*at == NULL) {
            *at = apr_table_get(c->set_at, "ShopPopularWindow");
        }
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

#define MERGE_DIR(name, field, type, args, setter, unset, help) \
    c->field = add->field != unset ? add->field : base->field;

void *shop_merge_dir_cfg(apr_pool_t *p, void *basev, void *addv)
{
    shop_dir_cfg *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));

    SHOP_DIR_DIRECTIVES(MERGE_DIR)
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
    apr_table_setn(c->set_at, cmd->cmd->name, apr_psprintf(cmd->pool, "%s:%d",
                   cmd->directive->filename, cmd->directive->line_num));
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

/* Raw arguments: httpd's TAKE1 would answer `""` with "takes one argument". */
static const char *set_job_db_params(cmd_parms *cmd, void *dummy, const char *args)
{
    const char *arg;

    (void)dummy;
    arg = ap_getword_conf(cmd->pool, &args);
    if (*args != '\0') {
        return "ShopJobDBParams takes one argument, the libpq connection string"
               " (quote it when it has spaces)";
    }
    if (*arg == '\0') {
        return "ShopJobDBParams must not be empty";
    }
    srv_cfg(cmd)->job_db_params = arg;
    return NULL;
}

/* A name that is safe in a mod_status ?auto key ("ShopOutboxPending.<name>"). */
static const char *set_shop_name(cmd_parms *cmd, void *dummy, const char *arg)
{
    (void)dummy;
    if (*arg == '\0' || strlen(arg) > 64 || arg[strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            "abcdefghijklmnopqrstuvwxyz0123456789.-_")] != '\0') {
        return "ShopName must be 1-64 letters, digits, '.', '-' or '_'";
    }
    srv_cfg(cmd)->shop_name = arg;
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

#define CMD_VALUE(name, field, kind, min, max, dflt, help) \
    AP_INIT_TAKE1(#name, set_value, (void *)&spec_##field, RSRC_CONF, help),
#define CMD_SETTER(name, field, type, args, setter, unset, dflt, help) \
    AP_INIT_##args(#name, setter, NULL, RSRC_CONF, help),
#define CMD_DIR(name, field, type, args, setter, unset, help) \
    AP_INIT_##args(#name, setter, NULL, ACCESS_CONF, help),

const command_rec shop_cmds[] = {
    SHOP_SRV_DIRECTIVES(CMD_VALUE, CMD_SETTER)
    SHOP_DIR_DIRECTIVES(CMD_DIR)
    {NULL}
};
