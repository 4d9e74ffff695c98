/*
 * Unit tests of shop_etag.c: the tag of a body, and which If-None-Match
 * values name it (RFC 9110 13.1.2: weak comparison, lists, "*"), with
 * the suffixes httpd's compressing filters add.
 */
#include "unit.h"

#include "shop_etag.h"

#define TAG "\"0123456789abcdef\""

static void tag_is_a_quoted_hash_of_the_body(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    const char *a = shop_etag_of(p, "{\"id\":1}", 8);

    assert_int_equal(strlen(a), 18);
    assert_true(a[0] == '"' && a[17] == '"');
    assert_string_equal(a, shop_etag_of(p, "{\"id\":1}", 8));
    assert_string_not_equal(a, shop_etag_of(p, "{\"id\":2}", 8));
    /* FNV-1a 64 of "" is its offset basis, of "a" the published vector */
    assert_string_equal(shop_etag_of(p, "", 0), "\"cbf29ce484222325\"");
    assert_string_equal(shop_etag_of(p, "a", 1), "\"af63dc4c8601ec8c\"");
}

static void fnv_continues(void **state)
{
    (void)state;
    assert_true(shop_fnv1a64(shop_fnv1a64(SHOP_FNV1A64_INIT, "ab", 2), "cd", 2)
                == shop_fnv1a64(SHOP_FNV1A64_INIT, "abcd", 4));
}

static void these_name_the_tag(void **state)
{
    static const char *const plain[] = {
        TAG, "W/" TAG, "*", " *", "\"x\", " TAG, "\"x\",W/" TAG " ,\"y\"",
        "junk, " TAG, "\"x\"y, " TAG, ",," TAG ",", "\t" TAG "\t",
        "* , \"0123456789abcdef-gzip\"",
    };
    apr_pool_t *p = UNIT_POOL(state);
    apr_size_t i;

    for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        assert_string_equal(shop_etag_match(p, plain[i], TAG), TAG);
        assert_string_equal(shop_etag_match(p, plain[i], "W/" TAG), "W/" TAG);
    }
}

/* What DEFLATE (BROTLI) passed on is named as the client holds it. */
static void coding_suffixes_are_kept(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);

    assert_string_equal(shop_etag_match(p, "\"0123456789abcdef-gzip\"", TAG),
                        "\"0123456789abcdef-gzip\"");
    assert_string_equal(shop_etag_match(p, "W/\"0123456789abcdef-gzip\"", TAG),
                        "\"0123456789abcdef-gzip\"");
    assert_string_equal(shop_etag_match(p, "\"a\", \"0123456789abcdef-br\"", TAG),
                        "\"0123456789abcdef-br\"");
    /* the first member that names it decides */
    assert_string_equal(shop_etag_match(p, "\"0123456789abcdef-br\", " TAG, TAG),
                        "\"0123456789abcdef-br\"");
    assert_string_equal(shop_etag_match(p, TAG ", \"0123456789abcdef-br\"", TAG), TAG);
}

static void these_do_not(void **state)
{
    static const char *const no[] = {
        "", ",", "\"other\"", "W/\"other\"", TAG "x", "\"0123456789abcdef\"-gzip",
        "\"0123456789abcdef-deflate\"", "\"0123456789abcde\"", "\"0123456789abcdef",
        "0123456789abcdef", "w/" TAG, "\"\"", "\"-gzip\"", "W/",
        "\"0123456789abcdef-gzip-gzip\"",
    };
    apr_pool_t *p = UNIT_POOL(state);
    apr_size_t i;

    for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        assert_null(shop_etag_match(p, no[i], TAG));
    }
    assert_null(shop_etag_match(p, NULL, TAG));
    assert_null(shop_etag_match(p, "*", NULL));
    assert_null(shop_etag_match(p, "*", "not quoted"));
    assert_null(shop_etag_match(p, "*", "\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(tag_is_a_quoted_hash_of_the_body),
        UNIT_TEST(fnv_continues),
        UNIT_TEST(these_name_the_tag),
        UNIT_TEST(coding_suffixes_are_kept),
        UNIT_TEST(these_do_not),
    };

    return UNIT_RUN("etag", tests);
}
