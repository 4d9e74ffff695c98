/*
 * Unit tests of shop_validate.c: ids, JSON fields, ?limit=, cursors,
 * Idempotency-Key, logins and query strings.
 */
#include "unit.h"

#include <apr_base64.h>

#include "shop_json.h"
#include "shop_validate.h"

#define SENTINEL ((apr_int64_t)-4242)

/* Parses text the way a client body is parsed; released with the pool. */
static json_t *load(apr_pool_t *p, const char *text, size_t flags)
{
    json_error_t err;
    json_t *j = json_loads(text, flags, &err);

    if (j == NULL) {
        fail_msg("test JSON does not parse: %s: %s", text, err.text);
    }
    return shop_json_own(p, j);
}

/* Unpadded url-safe base64, the cursor alphabet. */
static const char *b64url_raw(apr_pool_t *p, const char *plain, int len)
{
    char *enc = apr_palloc(p, apr_base64_encode_len(len));
    char *c;

    apr_base64_encode(enc, plain, len);
    for (c = enc; *c; c++) {
        if (*c == '+') *c = '-';
        else if (*c == '/') *c = '_';
        else if (*c == '=') { *c = '\0'; break; }
    }
    return enc;
}

static const char *b64url(apr_pool_t *p, const char *plain)
{
    return b64url_raw(p, plain, (int)strlen(plain));
}

/* ------------------------------------------------------------------ */
/* shop_parse_id                                                        */

static void test_parse_id_accepts_canonical(void **state)
{
    apr_int64_t v = SENTINEL;

    (void)state;
    assert_true(shop_parse_id("1", &v));
    assert_int_equal(v, 1);
    assert_true(shop_parse_id("7", &v));
    assert_int_equal(v, 7);
    assert_true(shop_parse_id("10", &v));
    assert_int_equal(v, 10);
    assert_true(shop_parse_id("1234567890", &v));
    assert_int_equal(v, 1234567890);
    assert_true(shop_parse_id("9223372036854775807", &v));
    assert_true(v == APR_INT64_MAX);
    assert_true(shop_parse_id("9223372036854775806", &v));
    assert_true(v == APR_INT64_MAX - 1);
}

static void test_parse_id_rejects(void **state)
{
    static const char *const bad[] = {
        "0", "-1", "+1", "01", "00", "abc", "1a", "a1", "", " 1", "1 ",
        "1.0", "1e3", "0x10", "9223372036854775808",
        "9223372036854775809", "9999999999999999999",
        "99999999999999999999", "10000000000000000000",
        "18446744073709551616", "1\n", "\xd9\xa1", /* ARABIC-INDIC ONE */
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apr_int64_t v = SENTINEL;
        if (shop_parse_id(bad[i], &v)) {
            fail_msg("shop_parse_id accepted \"%s\"", bad[i]);
        }
        if (v != SENTINEL) {
            fail_msg("shop_parse_id wrote *out for \"%s\"", bad[i]);
        }
    }
    {
        apr_int64_t v = SENTINEL;
        assert_false(shop_parse_id(NULL, &v));
        assert_true(v == SENTINEL);
    }
}

/* ------------------------------------------------------------------ */
/* shop_json_int                                                        */

static void test_json_int_accepts_integer(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = load(p, "{\"amount\": 1000, \"zero\": 0}", 0);
    const char *detail = NULL;
    apr_int64_t v = SENTINEL;
    int present = -1;

    assert_int_equal(shop_json_int(p, o, "amount", 1, &present, &v, &detail),
                     SHOP_OK);
    assert_int_equal(present, 1);
    assert_int_equal(v, 1000);
    assert_null(detail);

    present = -1;
    assert_int_equal(shop_json_int(p, o, "zero", 0, &present, &v, &detail),
                     SHOP_OK);
    assert_int_equal(present, 1);
    assert_int_equal(v, 0);
}

static void test_json_int_present_may_be_null(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = load(p, "{\"amount\": 5}", 0);
    const char *detail = NULL;
    apr_int64_t v = SENTINEL;

    assert_int_equal(shop_json_int(p, o, "amount", 1, NULL, &v, &detail),
                     SHOP_OK);
    assert_int_equal(v, 5);
}

static void expect_int_rejected(apr_pool_t *p, const char *text)
{
    json_t *o = load(p, text, 0);
    const char *detail = NULL;
    apr_int64_t v = SENTINEL;
    int present = -1;
    shop_err e = shop_json_int(p, o, "amount", 1, &present, &v, &detail);

    if (e != SHOP_E_INVALID_REQUEST) {
        fail_msg("%s: expected SHOP_E_INVALID_REQUEST, got %d", text, (int)e);
    }
    if (detail == NULL || strstr(detail, "amount") == NULL) {
        fail_msg("%s: detail does not name the field: %s", text,
                 detail ? detail : "(null)");
    }
    if (v != SENTINEL) {
        fail_msg("%s: *out written on error", text);
    }
    if (present != 0) {
        fail_msg("%s: present=%d on error", text, present);
    }
    /* Optional does not relax the type rule. */
    detail = NULL;
    e = shop_json_int(p, o, "amount", 0, &present, &v, &detail);
    if (e != SHOP_E_INVALID_REQUEST || detail == NULL) {
        fail_msg("%s: optional field of a wrong type accepted", text);
    }
}

static void test_json_int_rejects_non_integers(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);

    /* jansson parses these as reals, as a client body would be parsed. */
    expect_int_rejected(p, "{\"amount\": 1e3}");
    expect_int_rejected(p, "{\"amount\": 1E3}");
    expect_int_rejected(p, "{\"amount\": 1000.0}");
    expect_int_rejected(p, "{\"amount\": 0.5}");
    expect_int_rejected(p, "{\"amount\": -0.0}");
    expect_int_rejected(p, "{\"amount\": \"1000\"}");
    expect_int_rejected(p, "{\"amount\": true}");
    expect_int_rejected(p, "{\"amount\": false}");
    expect_int_rejected(p, "{\"amount\": null}");
    expect_int_rejected(p, "{\"amount\": [1]}");
    expect_int_rejected(p, "{\"amount\": {\"v\": 1}}");
}

static void test_json_int_missing(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = load(p, "{\"other\": 1}", 0);
    const char *detail = NULL;
    apr_int64_t v = SENTINEL;
    int present = -1;

    assert_int_equal(shop_json_int(p, o, "amount", 1, &present, &v, &detail),
                     SHOP_E_INVALID_REQUEST);
    assert_non_null(detail);
    assert_non_null(strstr(detail, "'amount'"));
    assert_int_equal(present, 0);
    assert_true(v == SENTINEL);

    detail = NULL;
    present = -1;
    assert_int_equal(shop_json_int(p, o, "amount", 0, &present, &v, &detail),
                     SHOP_OK);
    assert_int_equal(present, 0);
    assert_true(v == SENTINEL);
    assert_null(detail);
}

static void test_json_int_precision_bounds(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = load(p, "{\"max\": 9007199254740991, \"over\": 9007199254740992,"
                        " \"nmax\": -9007199254740991, \"nover\": -9007199254740992,"
                        " \"big\": 9223372036854775807,"
                        " \"nbig\": -9223372036854775808}", 0);
    const char *detail = NULL;
    apr_int64_t v = SENTINEL;
    int present = 0;

    assert_int_equal(shop_json_int(p, o, "max", 1, &present, &v, &detail), SHOP_OK);
    assert_true(v == SHOP_JSON_INT_MAX);
    assert_int_equal(present, 1);

    v = SENTINEL;
    assert_int_equal(shop_json_int(p, o, "over", 1, &present, &v, &detail),
                     SHOP_E_INVALID_REQUEST);
    assert_non_null(strstr(detail, "over"));
    assert_true(v == SENTINEL);
    assert_int_equal(present, 0);

    assert_int_equal(shop_json_int(p, o, "nmax", 1, &present, &v, &detail), SHOP_OK);
    assert_true(v == -SHOP_JSON_INT_MAX);

    detail = NULL;
    assert_int_equal(shop_json_int(p, o, "nover", 1, &present, &v, &detail),
                     SHOP_E_INVALID_REQUEST);
    assert_non_null(detail);

    detail = NULL;
    assert_int_equal(shop_json_int(p, o, "big", 1, &present, &v, &detail),
                     SHOP_E_INVALID_REQUEST);
    assert_non_null(detail);

    detail = NULL;
    assert_int_equal(shop_json_int(p, o, "nbig", 1, &present, &v, &detail),
                     SHOP_E_INVALID_REQUEST);
    assert_non_null(detail);
}

static void test_json_int_negative_returned(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = load(p, "{\"amount\": -5, \"m\": -1}", 0);
    const char *detail = NULL;
    apr_int64_t v = SENTINEL;
    int present = 0;

    /* Range rules (amount > 0, ...) belong to the caller. */
    assert_int_equal(shop_json_int(p, o, "amount", 1, &present, &v, &detail), SHOP_OK);
    assert_int_equal(present, 1);
    assert_true(v == -5);
    assert_int_equal(shop_json_int(p, o, "m", 1, &present, &v, &detail), SHOP_OK);
    assert_true(v == -1);
}

/* ------------------------------------------------------------------ */
/* shop_json_string                                                     */

static void test_json_string_ok(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = load(p, "{\"name\": \"Mug\", \"five\": \"abcde\","
                        " \"utf\": \"\\u00e9\"}", 0);
    const char *out = NULL, *detail = NULL;

    assert_int_equal(shop_json_string(p, o, "name", 1, 200, &out, &detail), SHOP_OK);
    assert_string_equal(out, "Mug");
    assert_null(detail);

    /* exactly max_len */
    assert_int_equal(shop_json_string(p, o, "five", 1, 5, &out, &detail), SHOP_OK);
    assert_string_equal(out, "abcde");

    /* max_len counts bytes: U+00E9 is 2 bytes of UTF-8 */
    assert_int_equal(shop_json_string(p, o, "utf", 1, 2, &out, &detail), SHOP_OK);
    assert_string_equal(out, "\xc3\xa9");
}

static void test_json_string_copy_outlives_json(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = json_pack("{s:s}", "name", "Kettle");
    const char *out = NULL, *detail = NULL;

    assert_non_null(o);
    assert_int_equal(shop_json_string(p, o, "name", 1, 200, &out, &detail), SHOP_OK);
    json_decref(o);         /* the value lives in p, not in the json_t */
    assert_string_equal(out, "Kettle");
}

static void expect_string_rejected(apr_pool_t *p, const json_t *o,
                                   const char *key, apr_size_t max_len)
{
    const char *out = "untouched", *detail = NULL;
    shop_err e = shop_json_string(p, o, key, 1, max_len, &out, &detail);

    if (e != SHOP_E_INVALID_REQUEST) {
        fail_msg("field %s: expected SHOP_E_INVALID_REQUEST, got %d", key, (int)e);
    }
    if (detail == NULL || strstr(detail, key) == NULL) {
        fail_msg("field %s: detail does not name it: %s", key,
                 detail ? detail : "(null)");
    }
    if (out != NULL) {
        fail_msg("field %s: *out not NULL on error", key);
    }
}

static void test_json_string_rejects(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = load(p, "{\"empty\": \"\", \"long\": \"abcdef\", \"num\": 5,"
                        " \"nul\": null, \"t\": true, \"arr\": [\"a\"],"
                        " \"obj\": {}, \"utf\": \"\\u00e9\"}", 0);

    expect_string_rejected(p, o, "empty", 200);
    expect_string_rejected(p, o, "long", 5);
    expect_string_rejected(p, o, "num", 200);
    expect_string_rejected(p, o, "nul", 200);
    expect_string_rejected(p, o, "t", 200);
    expect_string_rejected(p, o, "arr", 200);
    expect_string_rejected(p, o, "obj", 200);
    expect_string_rejected(p, o, "long", 3);
    {   /* limits count characters: "é" is 2 bytes but 1 character */
        const char *out = NULL, *detail = NULL;
        assert_int_equal(shop_json_string(p, o, "utf", 1, 1, &out, &detail), SHOP_OK);
        assert_string_equal(out, "\xc3\xa9");
    }
}

static void test_json_string_rejects_embedded_nul(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    /* The body parser refuses \u0000 (see test_json.c); a json_t that
     * carries a NUL anyway must not be cut short silently. */
    json_t *o = load(p, "{\"name\": \"ab\\u0000cd\", \"lead\": \"\\u0000\"}",
                     JSON_ALLOW_NUL);

    assert_int_equal(json_string_length(json_object_get(o, "name")), 5);
    expect_string_rejected(p, o, "name", 200);
    expect_string_rejected(p, o, "lead", 200);
}

static void test_json_string_missing(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = load(p, "{}", 0);
    const char *out = "untouched", *detail = NULL;

    assert_int_equal(shop_json_string(p, o, "login", 1, 64, &out, &detail),
                     SHOP_E_INVALID_REQUEST);
    assert_null(out);
    assert_non_null(detail);
    assert_non_null(strstr(detail, "'login'"));

    out = "untouched";
    detail = NULL;
    assert_int_equal(shop_json_string(p, o, "login", 0, 64, &out, &detail), SHOP_OK);
    assert_null(out);
    assert_null(detail);
}

/* ------------------------------------------------------------------ */
/* shop_json_bool                                                       */

static void test_json_bool(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    json_t *o = load(p, "{\"t\": true, \"f\": false, \"one\": 1, \"zero\": 0,"
                        " \"s\": \"true\", \"n\": null}", 0);
    const char *detail = NULL;
    int present = -1, v = -1;

    assert_int_equal(shop_json_bool(p, o, "t", 1, &present, &v, &detail), SHOP_OK);
    assert_int_equal(present, 1);
    assert_int_equal(v, 1);

    present = -1;
    v = -1;
    assert_int_equal(shop_json_bool(p, o, "f", 1, &present, &v, &detail), SHOP_OK);
    assert_int_equal(present, 1);
    assert_int_equal(v, 0);
    assert_null(detail);

    {
        static const char *const bad[] = {"one", "zero", "s", "n"};
        apr_size_t i;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            detail = NULL;
            present = -1;
            v = -1;
            if (shop_json_bool(p, o, bad[i], 1, &present, &v, &detail)
                != SHOP_E_INVALID_REQUEST) {
                fail_msg("shop_json_bool accepted field %s", bad[i]);
            }
            assert_non_null(detail);
            assert_non_null(strstr(detail, bad[i]));
            assert_int_equal(present, 0);
            assert_int_equal(v, -1);
        }
    }

    detail = NULL;
    assert_int_equal(shop_json_bool(p, o, "absent", 1, &present, &v, &detail),
                     SHOP_E_INVALID_REQUEST);
    assert_non_null(strstr(detail, "'absent'"));

    detail = NULL;
    present = -1;
    v = -1;
    assert_int_equal(shop_json_bool(p, o, "absent", 0, &present, &v, &detail),
                     SHOP_OK);
    assert_int_equal(present, 0);
    assert_int_equal(v, -1);
    assert_null(detail);
}

/* ------------------------------------------------------------------ */
/* shop_parse_limit                                                     */

static void test_parse_limit(void **state)
{
    static const char *const bad[] = {
        "0", "101", "-1", "abc", "", "01", "+5", "1000", " 5", "5 ", "1.5",
        "9223372036854775808",
    };
    apr_size_t i;
    int v = -1;

    (void)state;
    assert_true(shop_parse_limit(NULL, &v));
    assert_int_equal(v, SHOP_LIMIT_DEFAULT);
    assert_int_equal(v, 20);
    assert_true(shop_parse_limit("1", &v));
    assert_int_equal(v, 1);
    assert_true(shop_parse_limit("50", &v));
    assert_int_equal(v, 50);
    assert_true(shop_parse_limit("100", &v));
    assert_int_equal(v, 100);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = -1;
        if (shop_parse_limit(bad[i], &v)) {
            fail_msg("shop_parse_limit accepted \"%s\"", bad[i]);
        }
        assert_int_equal(v, -1);
    }
}

/* ------------------------------------------------------------------ */
/* cursors                                                              */

static void test_cursor_round_trip(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    static const apr_int64_t ids[] = {
        1, 2, 9, 10, 42, 99, 100, 999, 1000, 65535, 1234567, 4294967296LL,
        SHOP_JSON_INT_MAX, APR_INT64_MAX - 1, APR_INT64_MAX,
    };
    apr_size_t i;

    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        const char *c = shop_cursor_encode(p, ids[i]);
        apr_int64_t back = SENTINEL;

        assert_non_null(c);
        assert_true(strlen(c) > 0);
        /* url-safe and unpadded: usable in a query string as is */
        if (strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789-_") != strlen(c)) {
            fail_msg("cursor for %" APR_INT64_T_FMT " is not url-safe: %s",
                     ids[i], c);
        }
        if (!shop_cursor_decode(p, c, &back)) {
            fail_msg("cursor %s of %" APR_INT64_T_FMT " does not decode", c, ids[i]);
        }
        if (back != ids[i]) {
            fail_msg("cursor of %" APR_INT64_T_FMT " decodes to %" APR_INT64_T_FMT,
                     ids[i], back);
        }
    }
    /* distinct ids give distinct cursors */
    assert_string_not_equal(shop_cursor_encode(p, 1), shop_cursor_encode(p, 2));
}

static void test_rfc3339(void **state)
{
    static const char *good[] = {
        "2026-11-24T10:00:00Z", "2026-11-24t10:00:00z", "2024-02-29T23:59:59Z",
        "2026-12-31T23:59:60Z", "2026-01-01T00:00:00.5Z", "2026-01-01T00:00:00.123456789Z",
        "2026-01-01T00:00:00+09:00", "2026-01-01T00:00:00-23:59", "0001-01-01T00:00:00Z",
    };
    static const char *bad[] = {
        "", "now", "infinity", "-infinity", "epoch", "today", "allballs",
        "2026-11-24", "2026-11-24 10:00:00Z", "2026-11-24T10:00:00", "2026-11-24T10:00Z",
        "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:61Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.1234567890Z",
        "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+09", "2026-01-01T00:00:00+0900",
        "2026-01-01T00:00:00ZZ", "2026-01-01T00:00:00Z ", " 2026-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z", "20260-01-01T00:00:00Z", "2026-1-01T00:00:00Z",
        "2026-01-01T00:00:00UTC", "2026-01-01T00:00:00+09:00junk",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!shop_rfc3339_valid(good[i])) {
            fail_msg("\"%s\" should be an RFC 3339 date-time", good[i]);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (shop_rfc3339_valid(bad[i])) {
            fail_msg("\"%s\" should not be accepted", bad[i]);
        }
    }
}

static void expect_cursor_rejected(apr_pool_t *p, const char *c, const char *why)
{
    apr_int64_t v = SENTINEL;

    if (shop_cursor_decode(p, c, &v)) {
        fail_msg("cursor \"%s\" (%s) decoded to %" APR_INT64_T_FMT, c, why, v);
    }
    if (v != SENTINEL) {
        fail_msg("cursor \"%s\" (%s) wrote *last_id", c, why);
    }
}

static void test_cursor_rejects_garbage(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    const char *good = shop_cursor_encode(p, 42);
    char *t;

    expect_cursor_rejected(p, "", "empty");
    expect_cursor_rejected(p, "!!!", "not base64");
    expect_cursor_rejected(p, "abc", "base64 of junk");
    expect_cursor_rejected(p, "A", "one char");
    expect_cursor_rejected(p, "AAAA", "zero bytes");
    expect_cursor_rejected(p, "====", "padding only");
    expect_cursor_rejected(p, b64url(p, "x1:42"), "other prefix");
    expect_cursor_rejected(p, b64url(p, "c2:42"), "other version");
    expect_cursor_rejected(p, b64url(p, "C1:42"), "prefix case");
    expect_cursor_rejected(p, b64url(p, "42"), "no prefix");
    expect_cursor_rejected(p, b64url(p, "c1:"), "prefix only");
    expect_cursor_rejected(p, b64url(p, "c1"), "short prefix");
    expect_cursor_rejected(p, b64url(p, "c1:0"), "id 0");
    expect_cursor_rejected(p, b64url(p, "c1:-1"), "negative id");
    expect_cursor_rejected(p, b64url(p, "c1:+1"), "signed id");
    expect_cursor_rejected(p, b64url(p, "c1:042"), "leading zero");
    expect_cursor_rejected(p, b64url(p, "c1:abc"), "non-numeric id");
    expect_cursor_rejected(p, b64url(p, "c1:42x"), "trailing junk");
    expect_cursor_rejected(p, b64url(p, "c1: 42"), "space");
    expect_cursor_rejected(p, b64url(p, "c1:9223372036854775808"), "id > INT64_MAX");
    expect_cursor_rejected(p, b64url_raw(p, "c1:\0" "42", 6), "NUL after prefix");
    expect_cursor_rejected(p, "YzE6NQBqdW5r", "NUL then junk after the id");
    expect_cursor_rejected(p, b64url_raw(p, "c1:5\0", 5), "NUL at the end");
    expect_cursor_rejected(p, "YzE6NDJ", "non-canonical trailing bits");
    expect_cursor_rejected(p, apr_pstrcat(p, good, "=", NULL), "padding");
    expect_cursor_rejected(p, apr_pstrcat(p, good, " ", NULL), "trailing space");
    expect_cursor_rejected(p, apr_pstrcat(p, " ", good, NULL), "leading space");
    expect_cursor_rejected(p, apr_pstrcat(p, good, "%", NULL), "percent");
    expect_cursor_rejected(p, apr_pstrcat(p, good, "\xc3\xa9", NULL), "non-ASCII");
    expect_cursor_rejected(p, "YzE6NDI+", "standard alphabet '+'");
    expect_cursor_rejected(p, "YzE6NDI/", "standard alphabet '/'");

    /* A tampered prefix character: the cursor no longer says "c1:". */
    t = apr_pstrdup(p, good);
    t[0] = (t[0] == 'A') ? 'B' : 'A';
    expect_cursor_rejected(p, t, "tampered first char");
    t = apr_pstrdup(p, good);
    t[2] = (t[2] == 'A') ? 'B' : 'A';
    expect_cursor_rejected(p, t, "tampered third char");
    t = apr_pstrdup(p, good);
    t[strlen(t) / 2] = '.';
    expect_cursor_rejected(p, t, "char replaced by '.'");
    t = apr_pstrdup(p, good);
    t[1] = '\0';
    expect_cursor_rejected(p, t, "truncated");

    /* Long input: rejected without reading past it. */
    expect_cursor_rejected(p, unit_repeat(p, 'A', 1000), "1000 chars");
    expect_cursor_rejected(p, unit_repeat(p, 'Y', 41), "41 chars");
    expect_cursor_rejected(p, unit_repeat(p, '!', 1000), "1000 bad chars");
    expect_cursor_rejected(p, apr_pstrcat(p, good, unit_repeat(p, 'A', 1000), NULL),
                           "valid cursor + 1000 chars");
}

static void test_cursor_decode_all_short_strings(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    /* Every 1- and 2-character string over a mixed alphabet: must not
     * crash (ASan/UBSan watch); none of them is a cursor (too short). */
    static const char alpha[] = "AZaz09-_+/=!.%~ \x7f\x80\xff";
    apr_size_t i, j;
    char s[3];

    for (i = 0; i < sizeof(alpha) - 1; i++) {
        for (j = 0; j < sizeof(alpha); j++) {    /* j == len: 1-char string */
            apr_int64_t v = SENTINEL;
            s[0] = alpha[i];
            s[1] = alpha[j];
            s[2] = '\0';
            assert_false(shop_cursor_decode(p, s, &v));
            assert_true(v == SENTINEL);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Idempotency-Key                                                      */

static void test_idem_key(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    static const char *const bad[] = {
        "", "\n", "a\nb", "\r", "\t", "a\tb", "\x7f", "a\x7f", "\x01",
        "\x80", "\xff", "caf\xc3\xa9", "\xe2\x82\xac",
    };
    apr_size_t i;
    char all[0x7f - 0x20 + 1];

    assert_true(shop_idem_key_valid("a"));
    assert_true(shop_idem_key_valid("3f1c2a9e-2b1d-4c4e-9f5a-0d1e2f3a4b5c"));
    assert_true(shop_idem_key_valid("with space"));
    assert_true(shop_idem_key_valid(" "));
    assert_true(shop_idem_key_valid(unit_repeat(p, 'k', 255)));
    assert_false(shop_idem_key_valid(unit_repeat(p, 'k', 256)));
    assert_false(shop_idem_key_valid(unit_repeat(p, 'k', 10000)));

    /* every printable ASCII character */
    for (i = 0; i < sizeof(all) - 1; i++) {
        all[i] = (char)(0x20 + i);
    }
    all[sizeof(all) - 1] = '\0';
    assert_int_equal(strlen(all), 95);
    assert_true(shop_idem_key_valid(all));

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (shop_idem_key_valid(bad[i])) {
            fail_msg("Idempotency-Key bad[%u] accepted", (unsigned)i);
        }
    }
}

/* ------------------------------------------------------------------ */
/* logins                                                               */

static void test_login_valid(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    static const char *const good[] = {
        "a", "alice", "Alice_01", "a.b", "first-last", "me@example.com",
        "0", "._@-", "ABCXYZabcxyz0189",
    };
    static const char *const bad[] = {
        "", " ", "a b", " alice", "alice ", "a/b", "a+b", "a:b", "a;b",
        "a'b", "a\"b", "a\nb", "a\tb", "a%b", "a#b", "a!b", "a,b", "a\\b",
        "caf\xc3\xa9", "\xff", "a\x7f",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (!shop_login_valid(good[i])) {
            fail_msg("login \"%s\" rejected", good[i]);
        }
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (shop_login_valid(bad[i])) {
            fail_msg("login bad[%u] \"%s\" accepted", (unsigned)i, bad[i]);
        }
    }
    assert_true(shop_login_valid(unit_repeat(p, 'x', SHOP_LOGIN_MAX)));
    assert_true(shop_login_valid(unit_repeat(p, 'x', 64)));
    assert_false(shop_login_valid(unit_repeat(p, 'x', 65)));
    assert_false(shop_login_valid(unit_repeat(p, 'x', 5000)));
}

/* ------------------------------------------------------------------ */
/* query strings                                                        */

/* shop_query_get with *bad starting at 0, as the glue calls it. */
static const char *q(apr_pool_t *p, const char *args, const char *name, int *bad)
{
    *bad = 0;
    return shop_query_get(p, args, name, bad);
}

static void test_query_basic(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    int bad = -1;

    assert_string_equal(q(p, "limit=5&cursor=abc", "limit", &bad), "5");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "limit=5&cursor=abc", "cursor", &bad), "abc");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "cursor=abc&limit=5", "limit", &bad), "5");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "a=1&limit=7&b=2", "limit", &bad), "7");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "&&limit=8&", "limit", &bad), "8");
    assert_int_equal(bad, 0);
}

static void test_query_absent(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    int bad = -1;

    assert_null(q(p, NULL, "limit", &bad));
    assert_int_equal(bad, 0);
    assert_null(q(p, "", "limit", &bad));
    assert_int_equal(bad, 0);
    assert_null(q(p, "cursor=abc", "limit", &bad));
    assert_int_equal(bad, 0);
    assert_null(q(p, "&", "limit", &bad));
    assert_int_equal(bad, 0);
    /* names that share a prefix with the one asked for */
    assert_null(q(p, "lim=3", "limit", &bad));
    assert_int_equal(bad, 0);
    assert_null(q(p, "lim", "limit", &bad));
    assert_int_equal(bad, 0);
    assert_null(q(p, "limitx=3", "limit", &bad));
    assert_int_equal(bad, 0);
    assert_null(q(p, "limits=3", "limit", &bad));
    assert_int_equal(bad, 0);
    assert_null(q(p, "xlimit=3", "limit", &bad));
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "lim=3&limit=4", "limit", &bad), "4");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "limit=4&lim=3", "lim", &bad), "3");
    assert_int_equal(bad, 0);
}

static void test_query_duplicate_or_valueless(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    int bad = 0;

    assert_null(q(p, "limit=1&limit=2", "limit", &bad));
    assert_int_equal(bad, 1);
    assert_null(q(p, "limit=1&limit=1", "limit", &bad));
    assert_int_equal(bad, 1);
    assert_null(q(p, "limit", "limit", &bad));
    assert_int_equal(bad, 1);
    assert_null(q(p, "limit&cursor=x", "limit", &bad));
    assert_int_equal(bad, 1);
    assert_null(q(p, "limit=1&limit", "limit", &bad));
    assert_int_equal(bad, 1);
    assert_null(q(p, "cursor=x&limit", "limit", &bad));
    assert_int_equal(bad, 1);
    /* the other parameter's duplicate does not matter here */
    assert_string_equal(q(p, "cursor=a&cursor=b&limit=3", "limit", &bad), "3");
    assert_int_equal(bad, 0);
}

static void test_query_decoding(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    int bad = -1;

    assert_string_equal(q(p, "cursor=%41", "cursor", &bad), "A");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "cursor=a%41b", "cursor", &bad), "aAb");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "cursor=%6a%6A", "cursor", &bad), "jj");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "cursor=%2B", "cursor", &bad), "+");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "cursor=%26x%3D", "cursor", &bad), "&x=");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "cursor=+", "cursor", &bad), " ");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "cursor=a+b+", "cursor", &bad), "a b ");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "cursor=%C3%A9", "cursor", &bad), "\xc3\xa9");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "cursor=x=y", "cursor", &bad), "x=y");
    assert_int_equal(bad, 0);
    assert_string_equal(q(p, "cursor=%41&limit=%zz", "cursor", &bad), "A");
    assert_int_equal(bad, 0);
}

static void test_query_broken_escapes(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    static const char *const bad_args[] = {
        "cursor=%4", "cursor=%zz", "cursor=%00", "cursor=%", "cursor=a%",
        "cursor=%4g", "cursor=%g4", "cursor=%%41", "cursor=ab%4",
        "cursor=%4&limit=5", "cursor=%00abc", "cursor=%-1",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++) {
        int bad = 0;
        const char *v = q(p, bad_args[i], "cursor", &bad);
        if (v != NULL || bad != 1) {
            fail_msg("\"%s\": expected bad, got value %s bad=%d", bad_args[i],
                     v ? v : "(null)", bad);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_parse_id_accepts_canonical),
        UNIT_TEST(test_parse_id_rejects),
        UNIT_TEST(test_json_int_accepts_integer),
        UNIT_TEST(test_json_int_present_may_be_null),
        UNIT_TEST(test_json_int_rejects_non_integers),
        UNIT_TEST(test_json_int_missing),
        UNIT_TEST(test_json_int_precision_bounds),
        UNIT_TEST(test_json_int_negative_returned),
        UNIT_TEST(test_json_string_ok),
        UNIT_TEST(test_json_string_copy_outlives_json),
        UNIT_TEST(test_json_string_rejects),
        UNIT_TEST(test_json_string_rejects_embedded_nul),
        UNIT_TEST(test_json_string_missing),
        UNIT_TEST(test_json_bool),
        UNIT_TEST(test_parse_limit),
        UNIT_TEST(test_rfc3339),
        UNIT_TEST(test_cursor_round_trip),
        UNIT_TEST(test_cursor_rejects_garbage),
        UNIT_TEST(test_cursor_decode_all_short_strings),
        UNIT_TEST(test_idem_key),
        UNIT_TEST(test_login_valid),
        UNIT_TEST(test_query_basic),
        UNIT_TEST(test_query_absent),
        UNIT_TEST(test_query_duplicate_or_valueless),
        UNIT_TEST(test_query_decoding),
        UNIT_TEST(test_query_broken_escapes),
    };

    return UNIT_RUN("shop_validate", tests);
}
