/*
 * Entity tags and If-None-Match (RFC 9110 8.8.3, 13.1.2), httpd-free.
 *
 * A representation's tag is a hash of its body (FNV-1a, 64 bits, as 16 hex
 * digits in quotes): strong, since the same bytes always give the same tag,
 * and the same on every node that serves the same body, with no version
 * kept anywhere.
 */
#ifndef SHOP_ETAG_H
#define SHOP_ETAG_H

#include <apr_pools.h>

#define SHOP_FNV1A64_INIT 0xcbf29ce484222325ULL

/* FNV-1a over len bytes, continuing from h (SHOP_FNV1A64_INIT to start). */
apr_uint64_t shop_fnv1a64(apr_uint64_t h, const void *data, apr_size_t len);

/* "\"0123456789abcdef\"": the strong ETag of a body. */
const char *shop_etag_of(apr_pool_t *p, const char *body, apr_size_t len);

/*
 * If an If-None-Match field value names the representation whose tag is
 * `etag`, the tag a 304 should carry; NULL when it names something else.
 * "*" names it; so does any listed tag equal to it under the weak
 * comparison the RFC prescribes for If-None-Match (a W/ prefix on either
 * side is ignored).  A listed tag that ends in "-gzip" or "-br" inside its
 * quotes is our tag as httpd's DEFLATE or BROTLI filter passed it on (with
 * the body compressed); the 304 then names what the client holds, with
 * that suffix.  A malformed member matches nothing; the members after it
 * are still read.
 */
const char *shop_etag_match(apr_pool_t *p, const char *if_none_match, const char *etag);

#endif
