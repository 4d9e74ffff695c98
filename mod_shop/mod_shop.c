/*
 * mod_shop: an e-commerce JSON API as an httpd module.
 *
 * This file holds the module record, the hooks and the request dispatch:
 * route → path ids → who may act → body → handler.  Each handler then
 * reads like its sequence diagram: validate → one unit of work → respond.
 */
#include <http_protocol.h>
#include <http_request.h>
#include <ap_config.h>
#include <ap_listen.h>
#include <http_core.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "mod_shop.h"
#include "mod_shop_breaker.h"
#include "mod_shop_cache.h"
#include "mod_shop_config.h"
#include "mod_shop_conn.h"
#include "mod_shop_db.h"
#include "mod_shop_gate.h"
#include "mod_shop_jobs.h"
#include "mod_shop_popular.h"
#include "mod_shop_routes.h"
#include "mod_shop_shm.h"
#include "mod_shop_status.h"
#include "mod_shop_tx.h"
#include "shop_validate.h"

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
    if (e->user_scoped && q->sc->user_auth == SHOP_AUTH_REMOTE_USER) {
        int rv;
        if (!r->user) {
            return shop_send_problem(r, SHOP_E_UNAUTHENTICATED,
                                     "this route needs an authenticated user");
        }
        if ((rv = shop_authorize(q)) != DECLINED) {
            return rv;          /* identity first: before the request is judged */
        }
    }
    if (key && r->method_number == M_POST) {
        /* httpd joins repeated headers with ", ", so that means two keys. */
        if (strstr(key, ", ")) {
            return shop_send_problem(r, SHOP_E_INVALID_REQUEST,
                "one Idempotency-Key header only (a key with \", \" in it reads as two)");
        }
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
 * Where the routes start.  ShopMount says it outright; otherwise the
 * request's mount is the longest <Location> of its handler's kind that
 * holds it (mod_shop_sites.c reads them from the configuration).  The API
 * routes are relative to a shop mount; the admin routes ("/admin/...")
 * to the parent of a shop-admin mount, so <Location /api/admin> serves
 * /api/admin/users as "/admin/users".
 */
static const char *route_path(const shop_req *q, int admin)
{
    request_rec *r = q->r;
    const shop_mount *m;
    const char *rest;

    if (q->dc->mount) {
        return relative_path(r, q->dc->mount);
    }
    m = shop_mount_of(r, admin ? SHOP_MOUNT_ADMIN : SHOP_MOUNT_API);
    if (m == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, SHOPLOGNO(00001) "cannot tell "
                      "where the API is mounted (handler set outside a "
                      "<Location>?): set ShopMount");
        return NULL;
    }
    rest = r->uri + strlen(m->path);
    if (admin) {
        return apr_pstrcat(r->pool, "/admin", rest, NULL);
    }
    return *rest == '/' ? rest : NULL;
}

/* Will this request be ours?  Its longest mount says: the Location walk
 * has not run yet, so r->handler is not known. */
static int is_shop_request(request_rec *r)
{
    const shop_mount *m = shop_mount_of(r, SHOP_MOUNT_ANY);

    return m && m->kind != SHOP_MOUNT_OTHER;
}

static int marked(request_rec *r)
{
    return ap_get_module_config(r->request_config, &shop_module) != NULL;
}

/*
 * The API is not files: core's directory walk (a stat and an .htaccess
 * probe per path segment) is skipped for it, as mod_proxy does for its
 * requests; <Location> access control still applies.
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
    return marked(r) ? OK : DECLINED;
}

/*
 * Marks mod_shop's requests with X-Request-Id before authentication runs,
 * so httpd's own 401/403 answers on the API carry it too.
 */
static int shop_header_parser(request_rec *r)
{
    if (marked(r)) {
        apr_table_setn(r->err_headers_out, "X-Request-Id", shop_request_id(r));
    }
    return DECLINED;
}

/* Finds the route of the path below the mount, in the handler's table. */
static shop_route_result find_route(shop_req *q, int admin, const char **path,
                                    shop_route_match *m)
{
    *path = route_path(q, admin);
    if (*path == NULL) {
        return SHOP_ROUTE_NO_PATH;
    }
    return admin
        ? shop_route_find(q->r->pool, shop_admin_routes, shop_admin_routes_count,
                          sizeof(shop_route_entry), method_bit(q->r), *path, m)
        : shop_route_find(q->r->pool, shop_routes, shop_routes_count,
                          sizeof(shop_route_entry), method_bit(q->r), *path, m);
}

static int shop_handler(request_rec *r)
{
    shop_req *q;
    shop_route_match m;
    const shop_route_entry *e;
    const char *path = NULL;
    int rv, i, admin;

    if (r->handler == NULL) {
        return DECLINED;
    }
    if (strcmp(r->handler, SHOP_HANDLER) == 0) {
        admin = 0;
    }
    else if (strcmp(r->handler, SHOP_ADMIN_HANDLER) == 0) {
        admin = 1;
    }
    else {
        return DECLINED;
    }
    q = apr_pcalloc(r->pool, sizeof(*q));
    q->r = r;
    q->sc = ap_get_module_config(r->server->module_config, &shop_module);
    q->dc = ap_get_module_config(r->per_dir_config, &shop_module);
    apr_table_setn(r->err_headers_out, "X-Request-Id", shop_request_id(r));

    switch (find_route(q, admin, &path, &m)) {
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
    e = admin ? &shop_admin_routes[m.index] : &shop_routes[m.index];
    for (i = 0; i < m.nparams; i++) {
        q->params[i] = m.params[i];
    }
    q->route_key = apr_pstrcat(r->pool, r->method, " ", path, NULL);
    shop_http_cacheable(r, e->cache);
    if ((rv = prepare_request(q, e)) != DECLINED) {
        return rv;
    }
    return e->handler(q);
}

/*
 * httpd's own error answers under a mount (401/403 from Require, 400 for
 * a bad header, 413 from LimitRequestBody...) become problem+json too.
 * The filter is inserted only on that path (insert_error_filter) and
 * replaces httpd's HTML body; headers such as WWW-Authenticate stay.
 */
static ap_filter_rec_t *problem_filter_handle;

/*
 * Titled by what httpd said (its reason phrase: "Forbidden" for a Require
 * or a WAF, "Unauthorized", "Request Entity Too Large"...), never with the
 * title of one of mod_shop's own refusals that shares the code (FORBIDDEN
 * is also "Not allowed to act for this user").
 */
static const char *problem_body(request_rec *r)
{
    const char *line = ap_get_status_line(r->status);
    const char *reason = strchr(line, ' ');
    json_t *doc = shop_problem_doc(r->pool, shop_err_for_status(r->status),
        apr_psprintf(r->pool, "httpd answered %s", line));

    /* The status httpd chose stays, also where no code has it (408, 414...). */
    json_object_set_new(doc, "status", json_integer(r->status));
    json_object_set_new(doc, "title", json_string(reason ? reason + 1 : line));
    return shop_json_dump(r->pool, doc);
}

static apr_status_t problem_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    apr_bucket *eos = APR_BRIGADE_LAST(bb);
    const char *body;

    if (r->status < 400) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }
    if (APR_BRIGADE_EMPTY(bb) || !APR_BUCKET_IS_EOS(eos)) {
        apr_brigade_cleanup(bb);        /* httpd's HTML, dropped */
        return APR_SUCCESS;
    }
    apr_brigade_cleanup(bb);
    body = problem_body(r);
    ap_set_content_type(r, SHOP_PROBLEM_TYPE);
    ap_set_content_length(r, (apr_off_t)strlen(body));
    apr_table_setn(r->headers_out, "X-Request-Id", shop_request_id(r));
    apr_table_setn(r->headers_out, "Cache-Control", "private, no-store");
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_pool_create(body, strlen(body), r->pool,
                                                       r->connection->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    ap_remove_output_filter(f);
    return ap_pass_brigade(f->next, bb);
}

static void shop_insert_error_filter(request_rec *r)
{
    if (marked(r) || (r->uri && is_shop_request(r))) {
        ap_add_output_filter_handle(problem_filter_handle, NULL, r, r->connection);
    }
}

/* Runs for `configtest` too: every mistake found here stops it. */
static int shop_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                             apr_pool_t *ptemp, server_rec *s)
{
    server_rec *vs;

    (void)plog; (void)ptemp;
    shop_srv_cfg_unshare(pconf, s);
    for (vs = s; vs; vs = vs->next) {
        shop_srv_cfg *c = ap_get_module_config(vs->module_config, &shop_module);
        const char *err, *at;

        shop_srv_cfg_defaults(c);
        if ((err = shop_srv_cfg_check(ptemp, c, &at)) != NULL) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL,
                         SHOPLOGNO(00034) "%s%s%s", err,
                         at ? " (set at " : vs->is_virtual ? " in the <VirtualHost> at " : "",
                         at ? apr_pstrcat(ptemp, at, ")", NULL)
                         : vs->is_virtual ? apr_psprintf(ptemp, "%s:%u", vs->defn_name,
                                                         vs->defn_line_number) : "");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return shop_sites_configure(pconf, s) ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static int loopback(const apr_sockaddr_t *a)
{
    if (a->family == APR_INET) {
        return (ntohl(a->sa.sin.sin_addr.s_addr) >> 24) == 127;
    }
#if APR_HAVE_IPV6
    if (a->family == APR_INET6) {
        return IN6_IS_ADDR_LOOPBACK(&a->sa.sin6.sin6_addr);
    }
#endif
    return 0;
}

/* The address a server answers on that is not loopback, or NULL. */
static const apr_sockaddr_t *public_address(server_rec *s)
{
    ap_listen_rec *lr;
    server_addr_rec *sa;

    if (s->is_virtual) {
        for (sa = s->addrs; sa; sa = sa->next) {
            if (!loopback(sa->host_addr)) {
                return sa->host_addr;
            }
        }
        return NULL;
    }
    for (lr = ap_listeners; lr; lr = lr->next) {
        if (!loopback(lr->bind_addr)) {
            return lr->bind_addr;
        }
    }
    return NULL;
}

/* ShopUserAuth none is for development: say so when others can reach it. */
static void warn_open_user_auth(apr_pool_t *p, server_rec *main_s)
{
    server_rec *s;

    for (s = main_s; s; s = s->next) {
        const shop_srv_cfg *sc = ap_get_module_config(s->module_config, &shop_module);
        const apr_sockaddr_t *a;
        char *ip = NULL;

        if (sc->user_auth != SHOP_AUTH_NONE || sc->mounts == NULL
            || sc->mounts->nelts == 0 || (a = public_address(s)) == NULL) {
            continue;
        }
        apr_sockaddr_ip_get(&ip, (apr_sockaddr_t *)a);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, SHOPLOGNO(00002) "ShopUserAuth none "
                     "on %s, which answers on %s:%u: anyone who reaches it may act for "
                     "any user; set ShopUserAuth remote-user behind an authn module",
                     s->server_hostname ? s->server_hostname : "the main server",
                     ip ? ip : "?", (unsigned)a->port);
    }
    (void)p;
}

/* Shared memory, then its users' blocks in it, each shop's: they are
 * attached here so that mod_shop_shm.c knows none of them. */
static apr_status_t shared_memory_create(apr_pool_t *pconf, server_rec *s)
{
    apr_array_header_t *sites = shop_sites();
    apr_status_t rv = shop_shm_create(pconf, s);
    int i;

    for (i = 0; i < sites->nelts && rv == APR_SUCCESS; i++) {
        shop_site *site = APR_ARRAY_IDX(sites, i, shop_site *);

        if ((rv = shop_cache_attach(pconf, s, site)) == APR_SUCCESS) {
            rv = shop_popular_attach(pconf, s, site);
        }
    }
    return rv;
}

static int shop_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                            apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    if (!shop_db_init()) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     SHOPLOGNO(00003) "mod_dbd is not loaded (LoadModule dbd_module)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Shared memory and jobs belong to the real start, not the dry run
     * httpd makes of the configuration first.  The jobs process is forked
     * after the shared memory exists, so it inherits it. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    warn_open_user_auth(ptemp, s);
    if (shared_memory_create(pconf, s) != APR_SUCCESS
        || shop_jobs_start(pconf, s, shop_job_kinds, shop_job_kinds_count) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static void shop_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    shop_parent_sigchld_reset();
    shop_children_claim();
    shop_breaker_child_init(pchild);
    shop_gates_child_init(pchild);
    shop_coupons_child_init(pchild);
}

static void shop_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_child_init(shop_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(shop_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(shop_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(shop_translate_name, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_map_to_storage(shop_map_to_storage, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_header_parser(shop_header_parser, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(shop_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_error_filter(shop_insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    problem_filter_handle = ap_register_output_filter("SHOP_PROBLEM", problem_filter,
                                                      NULL, AP_FTYPE_CONTENT_SET);
    shop_status_register();
    shop_conn_register();
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
