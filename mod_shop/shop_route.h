/*
 * Matching a request path against the route table.
 *
 * Patterns are '/'-separated literals and "{name}" placeholders that match
 * exactly one non-empty segment.  Earlier entries win, so literal routes
 * ("/products/popular") are listed before placeholder ones.
 */
#ifndef SHOP_ROUTE_H
#define SHOP_ROUTE_H

#include <apr_pools.h>

#define SHOP_ROUTE_MAX_PARAMS 3

enum {
    SHOP_METHOD_GET   = 1 << 0,
    SHOP_METHOD_POST  = 1 << 1,
    SHOP_METHOD_PATCH = 1 << 2,
    SHOP_METHOD_OTHER = 1 << 3
};

typedef struct {
    int method;             /* one SHOP_METHOD_* bit */
    const char *pattern;    /* "/users/{userId}/points" */
} shop_route;

typedef enum {
    SHOP_ROUTE_MATCHED,
    SHOP_ROUTE_NO_PATH,     /* 404 */
    SHOP_ROUTE_NO_METHOD    /* 405, see allowed */
} shop_route_result;

typedef struct {
    int index;                                  /* into the table */
    int allowed;                                /* SHOP_METHOD_* bits */
    int nparams;
    const char *params[SHOP_ROUTE_MAX_PARAMS];  /* raw segments */
} shop_route_match;

/*
 * Table entries are `stride` bytes apart and start with a shop_route, so
 * the glue can keep its handler next to each pattern.
 */
shop_route_result shop_route_find(apr_pool_t *p, const void *table,
                                  apr_size_t count, apr_size_t stride,
                                  int method, const char *path,
                                  shop_route_match *m);

/* "GET, HEAD, POST" for an Allow header. */
const char *shop_route_allow_header(apr_pool_t *p, int allowed);

#endif
