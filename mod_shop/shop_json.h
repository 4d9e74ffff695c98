/*
 * jansson bound to APR pools: a json_t handed to a pool is released with
 * it, so handlers never pair json_decref by hand on every error path.
 */
#ifndef SHOP_JSON_H
#define SHOP_JSON_H

#include <apr_pools.h>
#include <apr_time.h>
#include <jansson.h>

#include "shop_error.h"

/* Ties j's lifetime to p (steals the reference); returns j. */
json_t *shop_json_own(apr_pool_t *p, json_t *j);

/* Compact UTF-8 text of j, allocated from p. */
const char *shop_json_dump(apr_pool_t *p, const json_t *j);
/* One text per JSON value: members sorted, no whitespace, ASCII escapes
 * (so equal values give equal text whatever their spelling). */
const char *shop_json_canonical(apr_pool_t *p, const json_t *j);

/* Parses a request body that must be one JSON object, keys unique. */
shop_err shop_json_parse_object(apr_pool_t *p, const char *buf, apr_size_t len,
                                json_t **out, const char **detail);

/* RFC 9457 body for e; `detail` may be NULL. Owned by p. */
json_t *shop_problem_doc(apr_pool_t *p, shop_err e, const char *detail);

/* JSON text (from PostgreSQL) in the compact ASCII form of every other
 * response, member order kept; the text itself if it does not parse. */
const char *shop_json_compact(apr_pool_t *p, const char *text);

/* RFC 3339 UTC, whole seconds: "2026-11-24T10:00:00Z". */
const char *shop_rfc3339(apr_pool_t *p, apr_time_t t);

#endif
