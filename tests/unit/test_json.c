/*
 * Unit tests of shop_json.c: request body parsing, problem+json documents,
 * compact dumps and pool-owned json_t lifetimes.
 *
 * Leak checks: every json_t made here is either handed to a pool or
 * decref'd; LeakSanitizer (detect_leaks=1) fails the binary otherwise.
 */
#include "unit.h"

#include "shop_json.h"

/* ------------------------------------------------------------------ */
/* shop_json_parse_object                                               */

static void test_parse_object_ok(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = (json_t *)1;
    const char *detail = NULL;

    assert_int_equal(shop_json_parse_object(p, "{}", 2, &o, &detail), SHOP_OK);
    assert_non_null(o);
    assert_true(json_is_object(o));
    assert_int_equal(json_object_size(o), 0);
    assert_null(detail);

    assert_int_equal(shop_json_parse_object(p, " {\"amount\": 5, \"note\": \"\\u00e9\"}\n",
                                            strlen(" {\"amount\": 5, \"note\": \"\\u00e9\"}\n"),
                                            &o, &detail),
                     SHOP_OK);
    assert_int_equal(json_object_size(o), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "amount")), 5);
    assert_string_equal(json_string_value(json_object_get(o, "note")), "\xc3\xa9");
}

static void test_parse_object_uses_len_not_nul(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    /* A body buffer is not NUL-terminated: only len bytes count. */
    static const char buf[] = {'{', '}', 'x', 'y', 'z'};
    json_t *o = NULL;
    const char *detail = NULL;

    assert_int_equal(shop_json_parse_object(p, buf, 2, &o, &detail), SHOP_OK);
    assert_true(json_is_object(o));

    o = (json_t *)1;
    assert_int_equal(shop_json_parse_object(p, buf, sizeof(buf), &o, &detail),
                     SHOP_E_INVALID_REQUEST);
    assert_null(o);
    assert_non_null(detail);
}

static void expect_body_rejected(apr_pool_t *p, const char *buf, apr_size_t len,
                                 const char *what)
{
    json_t *o = (json_t *)1;
    const char *detail = NULL;
    shop_err e = shop_json_parse_object(p, buf, len, &o, &detail);

    if (e != SHOP_E_INVALID_REQUEST) {
        fail_msg("body %s: expected SHOP_E_INVALID_REQUEST, got %d", what, (int)e);
    }
    if (o != NULL) {
        fail_msg("body %s: *out not NULL on error", what);
    }
    if (detail == NULL || detail[0] == '\0') {
        fail_msg("body %s: no detail", what);
    }
}

#define REJECT(p, lit, what) expect_body_rejected(p, lit, sizeof(lit) - 1, what)

static void test_parse_object_rejects(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);

    REJECT(p, "[]", "array");
    REJECT(p, "[{}]", "array of object");
    REJECT(p, "1", "number");
    REJECT(p, "\"x\"", "string");
    REJECT(p, "null", "null");
    REJECT(p, "true", "true");
    REJECT(p, "", "empty");
    REJECT(p, " ", "blank");
    REJECT(p, "{", "unterminated");
    REJECT(p, "}", "lone brace");
    REJECT(p, "{\"a\":}", "missing value");
    REJECT(p, "{\"a\":1,}", "trailing comma");
    REJECT(p, "{a:1}", "unquoted key");
    REJECT(p, "{'a':1}", "single quotes");
    REJECT(p, "{\"a\":1,\"a\":2}", "duplicate keys");
    REJECT(p, "{\"a\":1,\"b\":{\"c\":1,\"c\":1}}", "nested duplicate keys");
    REJECT(p, "{}{}", "two objects");
    REJECT(p, "{} x", "trailing garbage");
    REJECT(p, "{}\0", "trailing NUL");
    REJECT(p, "{\"a\":NaN}", "NaN");
    REJECT(p, "{\"a\":Infinity}", "Infinity");
    REJECT(p, "{\"a\":01}", "leading zero");
    REJECT(p, "{\"a\":\"x\\u0000y\"}", "\\u0000 in a string");
    REJECT(p, "{\"a\\u0000\":1}", "\\u0000 in a key");
    REJECT(p, "{\"a\":\"\\ud800\"}", "lone surrogate");
    /* invalid UTF-8 bytes */
    REJECT(p, "{\"a\":\"\xff\"}", "byte 0xff");
    REJECT(p, "{\"a\":\"\xc3\"}", "truncated sequence");
    REJECT(p, "{\"a\":\"\xc0\xaf\"}", "overlong encoding");
    REJECT(p, "{\"a\":\"\xed\xa0\x80\"}", "encoded surrogate");
    REJECT(p, "{\"\xfe\":1}", "bad byte in key");
    REJECT(p, "\xef\xbb\xbf{}", "UTF-8 BOM");
}

static void test_parse_object_huge_integers(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = NULL;
    const char *detail = NULL;

    /* jansson refuses integers beyond json_int_t: a 400, never a crash. */
    REJECT(p, "{\"amount\": 9223372036854775808}", "2^63");
    REJECT(p, "{\"amount\": -9223372036854775809}", "-2^63-1");
    REJECT(p, "{\"amount\": 99999999999999999999999999999}", "1e28 as digits");

    /* 2^63-1 itself parses; its range is shop_json_int's business. */
    assert_int_equal(shop_json_parse_object(p, "{\"amount\": 9223372036854775807}",
                                            strlen("{\"amount\": 9223372036854775807}"),
                                            &o, &detail),
                     SHOP_OK);
    assert_true(json_is_integer(json_object_get(o, "amount")));

    /* A huge real is a real, not an error and not an integer. */
    assert_int_equal(shop_json_parse_object(p, "{\"amount\": 1e300}",
                                            strlen("{\"amount\": 1e300}"), &o, &detail),
                     SHOP_OK);
    assert_true(json_is_real(json_object_get(o, "amount")));
}

static void test_parse_object_detail_says_why(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = NULL;
    const char *detail = NULL;

    assert_int_equal(shop_json_parse_object(p, "{\"a\":1,\"a\":2}", 13, &o, &detail),
                     SHOP_E_INVALID_REQUEST);
    assert_non_null(strstr(detail, "duplicate"));

    detail = NULL;
    assert_int_equal(shop_json_parse_object(p, "[]", 2, &o, &detail),
                     SHOP_E_INVALID_REQUEST);
    assert_non_null(strstr(detail, "object"));
}

static void test_parse_object_deep_nesting(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    apr_size_t depth = 100000, i;
    char *buf = apr_palloc(p, 2 * depth + 16);
    char *c = buf;

    /* {"a":[[[[...]]]]}: jansson's depth limit, not the stack, stops it. */
    memcpy(c, "{\"a\":", 5);
    c += 5;
    for (i = 0; i < depth; i++) *c++ = '[';
    for (i = 0; i < depth; i++) *c++ = ']';
    *c++ = '}';
    expect_body_rejected(p, buf, (apr_size_t)(c - buf), "nested 100000 deep");
}

/* ------------------------------------------------------------------ */
/* pool ownership                                                       */

static void test_own_releases_with_pool(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    apr_pool_t *sub = NULL;
    json_t *j = json_object();

    assert_non_null(j);
    assert_int_equal(apr_pool_create(&sub, p), APR_SUCCESS);
    json_incref(j);                         /* keep one reference to watch */
    assert_ptr_equal(shop_json_own(sub, j), j);
    assert_int_equal(j->refcount, 2);
    apr_pool_destroy(sub);
    assert_int_equal(j->refcount, 1);       /* the pool let its one go */
    json_decref(j);

    assert_null(shop_json_own(p, NULL));
}

static void test_own_nothing_leaks(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    apr_pool_t *sub = NULL;
    int i;

    /* No decref here: LeakSanitizer fails the binary if the pool does not. */
    assert_int_equal(apr_pool_create(&sub, p), APR_SUCCESS);
    for (i = 0; i < 100; i++) {
        json_t *j = shop_json_own(sub, json_pack("{s:i, s:[s,s]}", "i", i,
                                                 "l", "x", "y"));
        assert_non_null(j);
    }
    apr_pool_destroy(sub);
}

static void test_parsed_body_released_with_pool(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    apr_pool_t *sub = NULL;
    json_t *o = NULL;
    const char *detail = NULL;

    assert_int_equal(apr_pool_create(&sub, p), APR_SUCCESS);
    assert_int_equal(shop_json_parse_object(sub, "{\"a\":[1,2,3]}", 13, &o, &detail),
                     SHOP_OK);
    json_incref(o);
    apr_pool_destroy(sub);
    assert_int_equal(o->refcount, 1);
    json_decref(o);

    /* a valid JSON non-object is released too (LeakSanitizer checks) */
    assert_int_equal(apr_pool_create(&sub, p), APR_SUCCESS);
    assert_int_equal(shop_json_parse_object(sub, "[1,2,3,{\"x\":\"y\"}]", 17, &o, &detail),
                     SHOP_E_INVALID_REQUEST);
    assert_null(o);
    apr_pool_destroy(sub);
}

/* ------------------------------------------------------------------ */
/* shop_json_dump                                                       */

static void test_dump_compact(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *j = shop_json_own(p, json_pack("{s:i, s:[b,n], s:s, s:{}}",
                                           "a", 1, "b", 1, "c", "x y", "d"));

    assert_non_null(j);
    assert_string_equal(shop_json_dump(p, j),
                        "{\"a\":1,\"b\":[true,null],\"c\":\"x y\",\"d\":{}}");
    assert_string_equal(shop_json_dump(p, shop_json_own(p, json_object())), "{}");
    assert_string_equal(shop_json_dump(p, shop_json_own(p, json_array())), "[]");
}

/* Idempotency-Key retries compare bodies as JSON values: spacing, member
 * order and escapes must not matter, values must. */
static void test_canonical_ignores_spelling_not_values(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    static const char *same[] = {
        "{\"items\":[{\"product_id\":1,\"quantity\":2}],\"note\":\"caf\u00e9\"}",
        " { \"note\" : \"caf\u00e9\" ,\n \"items\" : [ { \"quantity\" : 2 , \"product_id\" : 1 } ] } ",
        "{\"note\":\"caf\xc3\xa9\",\"items\":[{\"quantity\":2,\"product_id\":1}]}",
    };
    static const char *other[] = {
        "{\"items\":[{\"product_id\":1,\"quantity\":3}],\"note\":\"caf\u00e9\"}",
        "{\"items\":[{\"quantity\":2},{\"product_id\":1}],\"note\":\"caf\u00e9\"}",
        "{\"items\":[{\"product_id\":1,\"quantity\":2}],\"note\":\"cafe\"}",
    };
    const char *want = NULL;
    size_t i;

    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        json_t *j = NULL;
        const char *detail = NULL;
        assert_int_equal(shop_json_parse_object(p, same[i], strlen(same[i]), &j, &detail), SHOP_OK);
        if (want == NULL) {
            want = shop_json_canonical(p, j);
        }
        assert_string_equal(shop_json_canonical(p, j), want);
    }
    for (i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        json_t *j = NULL;
        const char *detail = NULL;
        assert_int_equal(shop_json_parse_object(p, other[i], strlen(other[i]), &j, &detail), SHOP_OK);
        assert_string_not_equal(shop_json_canonical(p, j), want);
    }
}

static void test_dump_escapes(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *j = shop_json_own(p, json_pack("{s:s}", "name", "caf\xc3\xa9 \"q\"\n</"));

    /* ASCII-only output, quotes and control characters escaped */
    assert_string_equal(shop_json_dump(p, j),
                        "{\"name\":\"caf\\u00E9 \\\"q\\\"\\n</\"}");
}

static void test_dump_copy_is_pool_owned(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *j = json_pack("{s:i}", "n", 42);
    const char *s;

    assert_non_null(j);
    s = shop_json_dump(p, j);
    json_decref(j);                 /* the text does not depend on j */
    assert_string_equal(s, "{\"n\":42}");
}

/* ------------------------------------------------------------------ */
/* shop_problem_doc                                                     */

static void test_problem_doc_with_detail(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *doc = shop_problem_doc(p, SHOP_E_SOLD_OUT, "coupon 7 is gone");

    assert_non_null(doc);
    assert_true(json_is_object(doc));
    assert_int_equal(json_object_size(doc), 5);
    assert_string_equal(json_string_value(json_object_get(doc, "type")),
                        "https://errors.mod-shop.dev/sold_out");
    assert_string_equal(json_string_value(json_object_get(doc, "title")),
                        shop_err_get(SHOP_E_SOLD_OUT)->title);
    assert_true(json_is_integer(json_object_get(doc, "status")));
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 409);
    assert_string_equal(json_string_value(json_object_get(doc, "code")), "SOLD_OUT");
    assert_string_equal(json_string_value(json_object_get(doc, "detail")),
                        "coupon 7 is gone");
}

static void test_problem_doc_without_detail(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *doc = shop_problem_doc(p, SHOP_E_NOT_FOUND, NULL);

    assert_non_null(doc);
    assert_int_equal(json_object_size(doc), 5);
    assert_string_equal(shop_json_dump(p, doc),
                        "{\"type\":\"https://errors.mod-shop.dev/not_found\","
                        "\"title\":\"No such route\",\"status\":404,"
                        "\"code\":\"NOT_FOUND\",\"detail\":\"No such route\"}");
}

static void test_problem_doc_every_code(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    int e;

    for (e = SHOP_E_INVALID_REQUEST; e < SHOP_E__COUNT; e++) {
        const shop_err_info *info = shop_err_get((shop_err)e);
        json_t *doc = shop_problem_doc(p, (shop_err)e, "d");

        assert_non_null(doc);
        assert_int_equal(json_integer_value(json_object_get(doc, "status")),
                         info->status);
        assert_string_equal(json_string_value(json_object_get(doc, "code")), info->code);
        assert_string_equal(json_string_value(json_object_get(doc, "title")), info->title);
        assert_string_equal(json_string_value(json_object_get(doc, "type")),
                            shop_err_type_uri(p, (shop_err)e));
    }
    /* out of range: an internal error document */
    {
        json_t *doc = shop_problem_doc(p, (shop_err)SHOP_E__COUNT, NULL);
        assert_int_equal(json_integer_value(json_object_get(doc, "status")), 500);
        assert_string_equal(json_string_value(json_object_get(doc, "code")),
                            "INTERNAL_ERROR");
    }
}

static void test_problem_doc_released_with_pool(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    apr_pool_t *sub = NULL;
    json_t *doc;

    assert_int_equal(apr_pool_create(&sub, p), APR_SUCCESS);
    doc = shop_problem_doc(sub, SHOP_E_OUT_OF_STOCK, "product 3");
    assert_non_null(doc);
    json_incref(doc);
    apr_pool_destroy(sub);
    assert_int_equal(doc->refcount, 1);
    json_decref(doc);
}

static void test_problem_doc_non_ascii_detail(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *doc = shop_problem_doc(p, SHOP_E_INVALID_REQUEST, "caf\xc3\xa9");
    json_t *bad;

    assert_string_equal(json_string_value(json_object_get(doc, "detail")), "caf\xc3\xa9");
    assert_non_null(strstr(shop_json_dump(p, doc), "\"detail\":\"caf\\u00E9\""));

    /* A detail that is not UTF-8 cannot become a JSON string; the document
     * must still be a complete problem (status, code), not NULL. */
    bad = shop_problem_doc(p, SHOP_E_INVALID_REQUEST, "\xff\xfe");
    assert_non_null(bad);
    assert_int_equal(json_integer_value(json_object_get(bad, "status")), 400);
    assert_string_equal(json_string_value(json_object_get(bad, "code")),
                        "INVALID_REQUEST");
    assert_string_equal(json_string_value(json_object_get(bad, "detail")),
                        "Invalid request");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_parse_object_ok),
        UNIT_TEST(test_parse_object_uses_len_not_nul),
        UNIT_TEST(test_parse_object_rejects),
        UNIT_TEST(test_parse_object_huge_integers),
        UNIT_TEST(test_parse_object_detail_says_why),
        UNIT_TEST(test_parse_object_deep_nesting),
        UNIT_TEST(test_own_releases_with_pool),
        UNIT_TEST(test_own_nothing_leaks),
        UNIT_TEST(test_parsed_body_released_with_pool),
        UNIT_TEST(test_dump_compact),
        UNIT_TEST(test_canonical_ignores_spelling_not_values),
        UNIT_TEST(test_dump_escapes),
        UNIT_TEST(test_dump_copy_is_pool_owned),
        UNIT_TEST(test_problem_doc_with_detail),
        UNIT_TEST(test_problem_doc_without_detail),
        UNIT_TEST(test_problem_doc_every_code),
        UNIT_TEST(test_problem_doc_released_with_pool),
        UNIT_TEST(test_problem_doc_non_ascii_detail),
    };

    return UNIT_RUN("shop_json", tests);
}
