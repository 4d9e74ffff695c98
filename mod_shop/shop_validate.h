/*
 * Validation of everything a client sends: path ids, JSON fields, query
 * parameters, cursors, Idempotency-Key values, logins.
 *
 * httpd-free: unit-tested and fuzzable on its own.
 */
#ifndef SHOP_VALIDATE_H
#define SHOP_VALIDATE_H

#include <apr_pools.h>
#include <jansson.h>

#include "shop_error.h"

/* Largest integer a JSON client can send without losing precision. */
#define SHOP_JSON_INT_MAX 9007199254740991LL /* 2^53 - 1 */

#define SHOP_LIMIT_DEFAULT 20
#define SHOP_LIMIT_MAX 100
#define SHOP_IDEM_KEY_MAX 255
#define SHOP_LOGIN_MAX 64
#define SHOP_NAME_MAX 200

/* A positive 64-bit id in canonical decimal ("7", not "07" or "+7"). */
int shop_parse_id(const char *s, apr_int64_t *out);

/*
 * Reads an integer field of a JSON object.  Returns SHOP_OK, or
 * SHOP_E_INVALID_REQUEST with *detail set when the field is missing (and
 * required), not a JSON integer, or outside [0, 2^53-1] in magnitude.
 * An absent optional field leaves *present at 0.
 */
shop_err shop_json_int(apr_pool_t *p, const json_t *obj, const char *key,
                       int required, int *present, apr_int64_t *out,
                       const char **detail);

/* A string field of 1..max_len bytes of valid UTF-8 (jansson checks it). */
shop_err shop_json_string(apr_pool_t *p, const json_t *obj, const char *key,
                          int required, apr_size_t max_len,
                          const char **out, const char **detail);

/* A boolean field. */
shop_err shop_json_bool(apr_pool_t *p, const json_t *obj, const char *key,
                        int required, int *present, int *out,
                        const char **detail);

/* ?limit=: NULL means the default; else 1..SHOP_LIMIT_MAX. */
int shop_parse_limit(const char *s, int *out);

/* Opaque list cursors: they carry the last id seen, nothing else. */
const char *shop_cursor_encode(apr_pool_t *p, apr_int64_t last_id);
int shop_cursor_decode(apr_pool_t *p, const char *cursor, apr_int64_t *last_id);

/* Idempotency-Key: 1..255 printable ASCII characters. */
int shop_idem_key_valid(const char *key);

/* Login: 1..64 of [A-Za-z0-9._@-]. */
int shop_login_valid(const char *login);

/* An RFC 3339 date-time ("2026-11-24T10:00:00Z", "...T10:00:00.5+09:00"),
 * every field in range; nothing else (no "now", "infinity", "epoch"). */
int shop_rfc3339_valid(const char *s);

/*
 * Finds `name` in a query string (a=1&b=2), URL-decoded.  NULL when absent.
 * A parameter given twice, or one that does not decode, sets *bad.
 */
const char *shop_query_get(apr_pool_t *p, const char *args, const char *name,
                           int *bad);

#endif
