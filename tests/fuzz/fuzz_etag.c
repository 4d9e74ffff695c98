/*
 * If-None-Match (shop_etag.c): any header value against the tag of a body
 * the input also chooses.  The first byte is the body's length (up to 32
 * bytes taken off the input); the rest is the header.  Besides the
 * sanitizers: a match needs "*" or the bare tag in the header, a header
 * that is exactly the tag (or W/ and the tag, or "*") matches, and the
 * weak form of our tag compares the same as the strong one.
 */
#include "fuzz.h"

#include "shop_etag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    size_t n = fuzz_take_u8(&data, &size) % 33;
    const char *body, *tag, *header;
    char bare[17];
    const char *match, *weak;

    n = n < size ? n : size;
    body = apr_pstrmemdup(p, (const char *)data, n);
    header = fuzz_cstr(p, data + n, size - n);
    tag = shop_etag_of(p, body, n);
    memcpy(bare, tag + 1, 16);
    bare[16] = '\0';

    match = shop_etag_match(p, header, tag);
    weak = shop_etag_match(p, header, apr_pstrcat(p, "W/", tag, NULL));
    FUZZ_CHECK((match == NULL) == (weak == NULL));
    FUZZ_CHECK(!match || strchr(header, '*') != NULL || strstr(header, bare) != NULL);
    FUZZ_CHECK(!match || strcmp(match, tag) == 0
               || strcmp(match, apr_pstrcat(p, "\"", bare, "-gzip\"", NULL)) == 0
               || strcmp(match, apr_pstrcat(p, "\"", bare, "-br\"", NULL)) == 0);
    FUZZ_CHECK(shop_etag_match(p, tag, tag) == tag);
    FUZZ_CHECK(shop_etag_match(p, apr_pstrcat(p, "W/", tag, NULL), tag) == tag);
    FUZZ_CHECK(shop_etag_match(p, apr_pstrcat(p, header, ",", tag, NULL), tag) != NULL);
    apr_pool_destroy(p);
    return 0;
}
