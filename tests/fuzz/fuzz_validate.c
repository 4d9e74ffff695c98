/*
 * Client-supplied scalars (shop_validate.c): path ids, ?limit=, list
 * cursors (decode, and encode/decode round trips), Idempotency-Key values,
 * logins and query-string lookup.  Each input is tried as every kind.
 */
#include "fuzz.h"

#include <apr_lib.h>

#include "shop_validate.h"

static void check_id(apr_pool_t *p, const char *s)
{
    apr_int64_t id = -1;

    if (shop_parse_id(s, &id)) {
        /* Canonical decimal only: printing it back gives the input. */
        FUZZ_CHECK(id >= 1);
        FUZZ_CHECK(strcmp(apr_psprintf(p, "%" APR_INT64_T_FMT, id), s) == 0);
    }
}

static void check_limit(const char *s)
{
    int limit = -1;

    if (shop_parse_limit(s, &limit)) {
        FUZZ_CHECK(limit >= 1 && limit <= SHOP_LIMIT_MAX);
    }
}

static void check_cursor_roundtrip(apr_pool_t *p, apr_int64_t id)
{
    const char *enc = shop_cursor_encode(p, id);
    apr_int64_t back = -1;

    FUZZ_CHECK(enc != NULL);
    FUZZ_CHECK(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                           "0123456789-_") == strlen(enc));
    FUZZ_CHECK(shop_cursor_decode(p, enc, &back));
    FUZZ_CHECK(back == id);
}

static void check_cursor(apr_pool_t *p, const char *s)
{
    apr_int64_t id = -1;

    if (shop_cursor_decode(p, s, &id)) {
        FUZZ_CHECK(id >= 1);
        check_cursor_roundtrip(p, id);
    }
}

static void check_idem(const char *s)
{
    if (shop_idem_key_valid(s)) {
        size_t n = strlen(s), i;

        FUZZ_CHECK(n >= 1 && n <= SHOP_IDEM_KEY_MAX);
        for (i = 0; i < n; i++) {
            FUZZ_CHECK(s[i] >= 0x20 && s[i] <= 0x7e);
        }
    }
}

static void check_login(const char *s)
{
    if (shop_login_valid(s)) {
        size_t n = strlen(s);

        FUZZ_CHECK(n >= 1 && n <= SHOP_LOGIN_MAX);
        FUZZ_CHECK(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                             "0123456789._@-") == n);
    }
}

static void check_query(apr_pool_t *p, const char *args, const char *name)
{
    int bad = 0;
    const char *v = shop_query_get(p, args, name, &bad);

    if (v != NULL) {
        FUZZ_CHECK(bad == 0);
        /* The raw value is at least as long as its decoded form. */
        FUZZ_CHECK(strlen(v) <= strlen(args));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *s = fuzz_cstr(p, data, size);
    char *nl;

    check_id(p, s);
    check_limit(s);
    check_cursor(p, s);
    check_idem(s);
    check_login(s);
    check_query(p, s, "limit");
    check_query(p, s, "cursor");
    /* "name\nargs": a query parameter name of the fuzzer's choosing. */
    if ((nl = strchr(s, '\n')) != NULL) {
        *nl = '\0';
        check_query(p, nl + 1, s);
    }
    /* Any positive id survives a cursor round trip. */
    if (size >= 8) {
        const uint8_t *d = data;
        size_t n = size;
        apr_int64_t id = (apr_int64_t)(fuzz_take_u64(&d, &n) & (uint64_t)APR_INT64_MAX);

        if (id >= 1) {
            check_cursor_roundtrip(p, id);
        }
    }
    {
        int limit = -1;
        FUZZ_CHECK(shop_parse_limit(NULL, &limit) && limit == SHOP_LIMIT_DEFAULT);
    }
    apr_pool_destroy(p);
    return 0;
}
