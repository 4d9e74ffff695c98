/*
 * mod_shop: an e-commerce JSON API as an httpd module.
 *
 * This file holds the module record, the hooks and the request dispatch:
 * route → path ids → who may act → body → handler.  Each handler then
 * reads like its sequence diagram: validate → one unit of work → respond.
 */
#include <ap_config.h>
#include <http_core.h>

#include "mod_shop.h"

static int method_bit(const request_rec *r)
{
    switch (r->method_number) {
    case M_GET:   return SHOP_METHOD_GET;       /* HEAD too */
    case M_POST:  return SHOP_METHOD_POST;
    case M_PATCH: return SHOP_METHOD_PATCH;
    default:      return SHOP_METHOD_OTHER;
    }
}

/* r->uri below the mount ("/api/products/1" → "/products/1"), or NULL. */
static const char *relative_path(const request_rec *r, const char *mount)
{
    apr_size_t n = mount ? strlen(mount) : 0;

    while (n > 0 && mount[n - 1] == '/') {
        n--;
    }
    if (n > 0 && strncmp(r->uri, mount, n) != 0) {
        return NULL;
    }
    return r->uri[n] == '/' ? r->uri + n : NULL;
}

static int route_not_found(request_rec *r)
{
    return shop_send_problem(r, SHOP_E_NOT_FOUND,
        apr_psprintf(r->pool, "no route for %s %s", r->method,
                     ap_escape_html(r->pool, r->uri)));
}

/* Path ids, remote-user, Idempotency-Key and body: everything but the work. */
static int prepare_request(shop_req *q, const shop_route_entry *e)
{
    request_rec *r = q->r;
    const char *key = apr_table_get(r->headers_in, "Idempotency-Key");
    const char *detail = NULL;
    shop_err err;

    if (e->user_scoped && !shop_parse_id(q->params[0], &q->user_id)) {
        return shop_send_problem(r, SHOP_E_USER_NOT_FOUND,
                                 "user ids are positive integers");
    }
    if (e->user_scoped && q->dc->user_auth == SHOP_AUTH_REMOTE_USER && !r->user) {
        return shop_send_problem(r, SHOP_E_UNAUTHENTICATED,
                                 "this route needs an authenticated user");
    }
    if (key && r->method_number == M_POST) {
        if (!shop_idem_key_valid(key)) {
            return shop_send_problem(r, SHOP_E_INVALID_REQUEST,
                "Idempotency-Key must be 1..255 printable ASCII characters");
        }
        q->idem_key = key;
    }
    if (e->body != SHOP_BODY_NONE) {
        err = shop_read_json_body(q, e->body == SHOP_BODY_REQUIRED, &detail);
        if (err != SHOP_OK) {
            return shop_send_problem(r, err, detail);
        }
    }
    return DECLINED;    /* ready for the handler */
}

/*
 * The mount is the <Location> whose SetHandler made this request ours.
 * httpd does not tell a handler that, so post_config maps each <Location>
 * SetHandler expression to the section's path, and a request finds its
 * mount through the expression its merged configuration carries (nested
 * sections such as <Location /api/admin> inherit it from /api).  Any
 * other place a handler can be set (regex sections, <Directory>) needs
 * ShopMount.
 */
static apr_hash_t *handler_mounts;

static void map_handler_mounts(apr_pool_t *pconf, server_rec *s)
{
    server_rec *vs;
    int i;

    handler_mounts = apr_hash_make(pconf);
    for (vs = s; vs; vs = vs->next) {
        core_server_config *csc = ap_get_core_module_config(vs->module_config);
        ap_conf_vector_t **sections = (ap_conf_vector_t **)csc->sec_url->elts;

        for (i = 0; i < csc->sec_url->nelts; i++) {
            core_dir_config *dc = ap_get_core_module_config(sections[i]);
            if (dc->expr_handler && dc->d && !dc->r) {
                apr_hash_set(handler_mounts, apr_pmemdup(pconf, &dc->expr_handler,
                             sizeof(dc->expr_handler)), sizeof(dc->expr_handler),
                             dc->d);
            }
        }
    }
}

static const char *request_mount(const shop_req *q)
{
    core_dir_config *dc;

    if (q->dc->mount) {
        return q->dc->mount;
    }
    dc = ap_get_core_module_config(q->r->per_dir_config);
    return dc->expr_handler ? apr_hash_get(handler_mounts, &dc->expr_handler,
                                           sizeof(dc->expr_handler)) : NULL;
}

/* Will core's fixup make this request ours?  (Its SetHandler, evaluated
 * early: the Location walk has run, r->handler is not set yet.) */
static int is_shop_request(request_rec *r)
{
    core_dir_config *dc = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL, *handler;

    if (dc->expr_handler == NULL) {
        return 0;
    }
    handler = ap_expr_str_exec(r, dc->expr_handler, &err);
    return err == NULL && handler && strcasecmp(handler, SHOP_HANDLER) == 0;
}

/*
 * The API is not files: core's directory walk (a stat and an .htaccess
 * probe per path segment) is skipped for it, as mod_proxy does for its
 * requests; <Location> access control still applies.  translate_name still
 * sees the Location configuration (map_to_storage runs with the server
 * defaults), so the decision is taken there and remembered.
 */
static int shop_translate_name(request_rec *r)
{
    if (is_shop_request(r)) {
        ap_set_module_config(r->request_config, &shop_module, r);
    }
    return DECLINED;
}

static int shop_map_to_storage(request_rec *r)
{
    return ap_get_module_config(r->request_config, &shop_module) ? OK : DECLINED;
}

/*
 * Marks mod_shop's requests with X-Request-Id before authentication runs,
 * so httpd's own 401/403 answers on the API carry it too.
 */
static int shop_header_parser(request_rec *r)
{
    if (is_shop_request(r)) {
        apr_table_setn(r->err_headers_out, "X-Request-Id", shop_request_id(r));
    }
    return DECLINED;
}

/* Finds the route of the path below the mount. */
static shop_route_result find_route(shop_req *q, const char **path,
                                    shop_route_match *m)
{
    const char *mount = request_mount(q);

    if (mount == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, q->r, "mod_shop: cannot tell "
                      "where the API is mounted: set ShopMount");
        return SHOP_ROUTE_NO_PATH;
    }
    *path = relative_path(q->r, mount);
    if (*path == NULL) {
        return SHOP_ROUTE_NO_PATH;
    }
    return shop_route_find(q->r->pool, shop_routes, shop_routes_count,
                           sizeof(shop_route_entry), method_bit(q->r), *path, m);
}

static int shop_handler(request_rec *r)
{
    shop_req *q;
    shop_route_match m;
    const shop_route_entry *e;
    const char *path = NULL;
    int rv, i;

    if (r->handler == NULL || strcmp(r->handler, SHOP_HANDLER) != 0) {
        return DECLINED;
    }
    q = apr_pcalloc(r->pool, sizeof(*q));
    q->r = r;
    q->sc = ap_get_module_config(r->server->module_config, &shop_module);
    q->dc = ap_get_module_config(r->per_dir_config, &shop_module);
    apr_table_setn(r->err_headers_out, "X-Request-Id", shop_request_id(r));

    switch (find_route(q, &path, &m)) {
    case SHOP_ROUTE_NO_PATH:
        return route_not_found(r);
    case SHOP_ROUTE_NO_METHOD:
        apr_table_setn(r->err_headers_out, "Allow",
                       shop_route_allow_header(r->pool, m.allowed));
        return shop_send_problem(r, SHOP_E_METHOD_NOT_ALLOWED,
            apr_psprintf(r->pool, "%s is not allowed here", r->method));
    case SHOP_ROUTE_MATCHED:
        break;
    }
    e = &shop_routes[m.index];
    for (i = 0; i < m.nparams; i++) {
        q->params[i] = m.params[i];
    }
    q->route_key = apr_pstrcat(r->pool, r->method, " ", path, NULL);
    if ((rv = prepare_request(q, e)) != DECLINED) {
        return rv;
    }
    return e->handler(q);
}

static int shop_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;

    (void)plog; (void)ptemp;
    if (!shop_db_init()) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     "mod_shop: mod_dbd is not loaded (LoadModule dbd_module)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (vs = s; vs; vs = vs->next) {
        shop_srv_cfg_defaults(ap_get_module_config(vs->module_config,
                                                   &shop_module));
    }
    map_handler_mounts(pconf, s);
    /* Shared memory and jobs belong to the real start, not the dry run
     * httpd makes of the configuration first. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    if (shop_shm_create(pconf, s) != APR_SUCCESS
        || shop_expiry_start(pconf, s) != APR_SUCCESS
        || shop_popular_start(pconf, s) != APR_SUCCESS
        || shop_relay_start(pconf, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void shop_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* Before mod_watchdog's post_config (APR_HOOK_LAST), which starts the
     * callbacks registered by then. */
    ap_hook_post_config(shop_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(shop_translate_name, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_map_to_storage(shop_map_to_storage, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_header_parser(shop_header_parser, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(shop_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA shop_module = {
    STANDARD20_MODULE_STUFF,
    shop_create_dir_cfg,
    shop_merge_dir_cfg,
    shop_create_srv_cfg,
    shop_merge_srv_cfg,
    shop_cmds,
    shop_register_hooks,
    AP_MODULE_FLAG_NONE
};
