/*
 * The router: a linear walk over a small table.  With a dozen routes this
 * beats any tree, and it keeps the 404/405 rules in one readable place.
 */
#include <string.h>

#include <apr_strings.h>

#include "shop_route.h"

/* Compares one pattern with the path, capturing placeholder segments. */
static int pattern_matches(apr_pool_t *p, const char *pat, const char *path,
                           shop_route_match *m)
{
    int n = 0;

    while (*pat && *path) {
        const char *pat_end, *path_end;
        apr_size_t pat_len, path_len;

        if (*pat != '/' || *path != '/') {
            return 0;
        }
        pat++;
        path++;
        pat_end = strchr(pat, '/');
        path_end = strchr(path, '/');
        pat_len = pat_end ? (apr_size_t)(pat_end - pat) : strlen(pat);
        path_len = path_end ? (apr_size_t)(path_end - path) : strlen(path);
        if (path_len == 0) {
            return 0;
        }
        if (pat[0] == '{') {
            if (n == SHOP_ROUTE_MAX_PARAMS) {
                return 0;
            }
            m->params[n++] = apr_pstrmemdup(p, path, path_len);
        }
        else if (pat_len != path_len || strncmp(pat, path, pat_len) != 0) {
            return 0;
        }
        pat += pat_len;
        path += path_len;
    }
    m->nparams = n;
    return *pat == '\0' && *path == '\0';
}

shop_route_result shop_route_find(apr_pool_t *p, const void *table,
                                  apr_size_t count, apr_size_t stride,
                                  int method, const char *path,
                                  shop_route_match *m)
{
    shop_route_match hit;
    int allowed = 0, found = -1;
    apr_size_t i;

    memset(&hit, 0, sizeof(hit));
    for (i = 0; i < count; i++) {
        const shop_route *rt = (const shop_route *)
                               ((const char *)table + i * stride);
        shop_route_match cand;

        memset(&cand, 0, sizeof(cand));
        if (!pattern_matches(p, rt->pattern, path, &cand)) {
            continue;
        }
        allowed |= rt->method;
        if (found < 0 && rt->method == method) {
            found = (int)i;
            hit = cand;
        }
    }
    *m = hit;
    m->index = found;
    m->allowed = allowed;
    if (found >= 0) {
        return SHOP_ROUTE_MATCHED;
    }
    return allowed ? SHOP_ROUTE_NO_METHOD : SHOP_ROUTE_NO_PATH;
}

const char *shop_route_allow_header(apr_pool_t *p, int allowed)
{
    const char *s = NULL;

    if (allowed & SHOP_METHOD_GET) {
        s = "GET, HEAD";
    }
    if (allowed & SHOP_METHOD_POST) {
        s = s ? apr_pstrcat(p, s, ", POST", NULL) : "POST";
    }
    if (allowed & SHOP_METHOD_PATCH) {
        s = s ? apr_pstrcat(p, s, ", PATCH", NULL) : "PATCH";
    }
    return s ? s : "";
}
