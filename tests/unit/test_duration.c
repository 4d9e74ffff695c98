/*
 * Unit tests of shop_duration.c: directive values (durations, sizes,
 * integers) as written in httpd.conf.
 */
#include "unit.h"

#include "shop_duration.h"

#define SEC  APR_USEC_PER_SEC
#define MIN  (60 * SEC)
#define HOUR (3600 * SEC)
#define DAY  (86400 * SEC)

/* The ranges of the directive table (mod_shop_directives.h). */
#define MAX_BODY_MIN   1024
#define MAX_BODY_MAX   (16 * 1024 * 1024)
#define JSON_INT_MAX   9007199254740991LL

/* ------------------------------------------------------------------ */
/* shop_parse_duration                                                  */

static void expect_duration(const char *s, apr_interval_time_t want)
{
    apr_interval_time_t v = -1;
    const char *err = shop_parse_duration(s, 0, 365 * DAY, &v);

    if (err != NULL) {
        fail_msg("duration \"%s\": unexpected error: %s", s, err);
    }
    if (v != want) {
        fail_msg("duration \"%s\": got %" APR_TIME_T_FMT " us, want %"
                 APR_TIME_T_FMT, s, v, want);
    }
}

static void test_duration_units(void **state)
{
    (void)state;
    expect_duration("5", 5 * SEC);
    expect_duration("0", 0);
    expect_duration("250ms", 250000);
    expect_duration("1ms", 1000);
    expect_duration("10m", 10 * MIN);
    expect_duration("3d", 3 * DAY);
    expect_duration("2h", 2 * HOUR);
    expect_duration("1s", SEC);
    expect_duration("90s", 90 * SEC);
    expect_duration("0005", 5 * SEC);
    expect_duration("365d", 365 * DAY);
    expect_duration("8760h", 365 * DAY);
}

static void expect_duration_error(const char *s, apr_interval_time_t min,
                                  apr_interval_time_t max)
{
    apr_interval_time_t v = -4242;
    const char *err = shop_parse_duration(s, min, max, &v);

    if (err == NULL) {
        fail_msg("duration \"%s\" accepted as %" APR_TIME_T_FMT, s, v);
    }
    if (*err == '\0') {
        fail_msg("duration \"%s\": empty error message", s);
    }
    if (v != -4242) {
        fail_msg("duration \"%s\": *out written on error", s);
    }
}

static void test_duration_syntax_errors(void **state)
{
    static const char *const bad[] = {
        "", "abc", "-5", "+5", "5x", "5 m", " 5", "5 ", "1.5s", "1,5s", "m",
        "ms", "5mm", "5sm", "5M", "5S", "5D", "5us", "5min", "0x10", "5\n",
        "99999999999999999999d", "99999999999999999999", "1e3",
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_duration_error(bad[i], 0, 365 * DAY);
    }
}

static void test_duration_range(void **state)
{
    apr_interval_time_t v = 0;

    (void)state;
    /* ShopPopularRefresh: 100ms .. 1d */
    assert_null(shop_parse_duration("100ms", 100000, DAY, &v));
    assert_int_equal(v, 100000);
    expect_duration_error("99ms", 100000, DAY);
    expect_duration_error("0", 100000, DAY);
    assert_null(shop_parse_duration("1d", 100000, DAY, &v));
    assert_int_equal(v, DAY);
    assert_null(shop_parse_duration("86400", 100000, DAY, &v));
    assert_int_equal(v, DAY);
    assert_null(shop_parse_duration("24h", 100000, DAY, &v));
    expect_duration_error("25h", 100000, DAY);
    expect_duration_error("86401s", 100000, DAY);
    expect_duration_error("86400001ms", 100000, DAY);
    expect_duration_error("2d", 100000, DAY);

    /* ShopIdempotencyTTL: 1s .. 30d */
    expect_duration_error("999ms", SEC, 30 * DAY);
    expect_duration_error("31d", SEC, 30 * DAY);
    assert_null(shop_parse_duration("30d", SEC, 30 * DAY, &v));
    assert_int_equal(v, 30 * DAY);

    /* huge values within the digit cap: out of range, no overflow */
    expect_duration_error("9999999999999d", SEC, 365 * DAY);
    expect_duration_error("10000000000009d", SEC, 365 * DAY);
    expect_duration_error("9999999999999h", SEC, 365 * DAY);
    expect_duration_error("9999999999999", SEC, 365 * DAY);
    expect_duration_error("106751992d", 0, 365 * DAY);
}

/*
 * Regression (fixed): the pre-multiplication guard is `v > max / usec + 1`, so
 * v == max/usec + 1 passes it and v * usec can exceed INT64_MAX when max
 * is close to it.  With max = APR_INT64_MAX, "106751992d" computes
 * 106751992 * 86400000000 (signed overflow, UB); UBSan aborts.
 * Expected: "is out of range".
 */
static int duration_near_int64_max(void *arg)
{
    apr_interval_time_t v = 0;
    const char *err = shop_parse_duration((const char *)arg, 0, APR_INT64_MAX, &v);

    return err != NULL;
}

static void test_duration_overflow_near_int64_max(void **state)
{
    (void)state;
    assert_int_equal(unit_run_isolated(duration_near_int64_max, "106751992d"), 0);
    assert_int_equal(unit_run_isolated(duration_near_int64_max, "9223372036855s"), 0);
}

/* ------------------------------------------------------------------ */
/* shop_parse_size                                                      */

static void expect_size(const char *s, apr_off_t want)
{
    apr_off_t v = -1;
    const char *err = shop_parse_size(s, 0, (apr_off_t)1 << 40, &v);

    if (err != NULL) {
        fail_msg("size \"%s\": unexpected error: %s", s, err);
    }
    if (v != want) {
        fail_msg("size \"%s\": got %" APR_OFF_T_FMT ", want %" APR_OFF_T_FMT,
                 s, v, want);
    }
}

static void expect_size_error(const char *s, apr_off_t min, apr_off_t max)
{
    apr_off_t v = -4242;
    const char *err = shop_parse_size(s, min, max, &v);

    if (err == NULL) {
        fail_msg("size \"%s\" accepted as %" APR_OFF_T_FMT, s, v);
    }
    if (*err == '\0') {
        fail_msg("size \"%s\": empty error message", s);
    }
    if (v != -4242) {
        fail_msg("size \"%s\": *out written on error", s);
    }
}

static void test_size_units(void **state)
{
    (void)state;
    expect_size("64k", 65536);
    expect_size("64K", 65536);
    expect_size("1M", 1048576);
    expect_size("1m", 1048576);
    expect_size("16M", 16777216);
    expect_size("1024", 1024);
    expect_size("0", 0);
    expect_size("0k", 0);
    expect_size("1048576", 1048576);
}

static void test_size_errors(void **state)
{
    static const char *const bad[] = {
        "", "k", "M", "-1", "+1", "1G", "1g", "1kb", "1KB", "1MB", "1 k", " 1",
        "1 ", "1.5M", "1kk", "1Mk", "0x400", "99999999999999999999",
        "99999999999999999999k",
    };
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_size_error(bad[i], 0, (apr_off_t)1 << 40);
    }
    /* ShopMaxBody: 1k .. 16M */
    expect_size_error("1023", MAX_BODY_MIN, MAX_BODY_MAX);
    expect_size_error("0k", MAX_BODY_MIN, MAX_BODY_MAX);
    expect_size_error("17M", MAX_BODY_MIN, MAX_BODY_MAX);
    expect_size_error("16385k", MAX_BODY_MIN, MAX_BODY_MAX);
    expect_size_error("16777217", MAX_BODY_MIN, MAX_BODY_MAX);
    expect_size_error("9999999999999k", MAX_BODY_MIN, MAX_BODY_MAX);
    {
        apr_off_t v = 0;
        assert_null(shop_parse_size("1k", MAX_BODY_MIN, MAX_BODY_MAX, &v));
        assert_int_equal(v, 1024);
        assert_null(shop_parse_size("16M", MAX_BODY_MIN, MAX_BODY_MAX, &v));
        assert_int_equal(v, MAX_BODY_MAX);
        assert_null(shop_parse_size("16384k", MAX_BODY_MIN, MAX_BODY_MAX, &v));
        assert_int_equal(v, MAX_BODY_MAX);
    }
}

/*
 * Regression (fixed): parse_digits lets through up to ~1e13, and the M suffix multiplies
 * by 2^20 before any range check: "9999999999999M" computes
 * 9999999999999 * 1048576 > INT64_MAX (signed overflow, UB; UBSan aborts).
 * Reachable from httpd.conf ("ShopMaxBody 9999999999999M").
 * Expected: "is out of range".
 */
static int size_overflow(void *arg)
{
    apr_off_t v = 0;
    const char *err = shop_parse_size((const char *)arg, MAX_BODY_MIN,
                                      MAX_BODY_MAX, &v);

    return err != NULL;
}

static void test_size_overflow_with_M_suffix(void **state)
{
    (void)state;
    assert_int_equal(unit_run_isolated(size_overflow, "9999999999999M"), 0);
    assert_int_equal(unit_run_isolated(size_overflow, "8796093022208M"), 0);
}

/*
 * Regression (found by tests/fuzz/fuzz_duration.c): the range check was
 * "v > max / unit || v * unit < min".  With a negative max, max / unit
 * rounds toward zero, so "0M" passed it with max = -1 and was returned
 * as 0, outside [min, max].  A value is only accepted inside its range.
 */
static void test_size_result_always_within_range(void **state)
{
    static const char *const zero[] = {"0", "0k", "0K", "0m", "0M"};
    apr_size_t i;

    (void)state;
    for (i = 0; i < sizeof(zero) / sizeof(zero[0]); i++) {
        expect_size_error(zero[i], -5, -1);
        expect_size_error(zero[i], -((apr_off_t)1 << 40), -1024);
    }
    {
        apr_off_t v = 1;
        assert_null(shop_parse_size("0M", -5, 0, &v));
        assert_int_equal(v, 0);
    }
}

/* ------------------------------------------------------------------ */
/* shop_parse_int64                                                     */

static void test_int64(void **state)
{
    static const char *const bad[] = {
        "", "-1", "+1", "1x", " 1", "1 ", "abc", "1.0", "1e3", "0x10",
        "99999999999999999999",
    };
    apr_int64_t v = -1;
    apr_size_t i;

    (void)state;
    assert_null(shop_parse_int64("0", 0, 20, &v));
    assert_int_equal(v, 0);
    assert_null(shop_parse_int64("20", 0, 20, &v));
    assert_int_equal(v, 20);
    assert_null(shop_parse_int64("7", 0, 20, &v));
    assert_int_equal(v, 7);
    assert_null(shop_parse_int64("1000000", 1, JSON_INT_MAX, &v));
    assert_int_equal(v, 1000000);

    v = -4242;
    assert_non_null(shop_parse_int64("21", 0, 20, &v));
    assert_non_null(shop_parse_int64("0", 1, 100, &v));
    assert_non_null(shop_parse_int64("101", 1, 100, &v));
    assert_true(v == -4242);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = shop_parse_int64(bad[i], 0, JSON_INT_MAX, &v);
        if (err == NULL || *err == '\0') {
            fail_msg("shop_parse_int64 accepted \"%s\"", bad[i]);
        }
        assert_true(v == -4242);
    }
}

/*
 * Regression (fixed): parse_digits stops at ~1e13 ("capped well below overflow"), so
 * shop_parse_int64 rejects every value above 10000000000009 even when it
 * is inside [min, max] -- with the wrong message, "must be a non-negative
 * whole number".  ShopChargeMax/ShopBalanceMax are declared with
 * max = 2^53-1 (mod_shop_directives.h), and that documented maximum cannot be
 * configured.  Expected: NULL and *out = the value.
 */
static void test_int64_accepts_values_in_range(void **state)
{
    apr_int64_t v = 0;
    const char *err;

    (void)state;
    err = shop_parse_int64("9007199254740991", 1, JSON_INT_MAX, &v);
    if (err != NULL) {
        fail_msg("shop_parse_int64(\"9007199254740991\", 1, 2^53-1): got \"%s\"",
                 err);
    }
    assert_true(v == JSON_INT_MAX);
    err = shop_parse_int64("100000000000000", 1, JSON_INT_MAX, &v);
    if (err != NULL) {
        fail_msg("shop_parse_int64(\"100000000000000\", 1, 2^53-1): got \"%s\"",
                 err);
    }
    assert_true(v == 100000000000000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_duration_units),
        UNIT_TEST(test_duration_syntax_errors),
        UNIT_TEST(test_duration_range),
        UNIT_TEST(test_duration_overflow_near_int64_max),
        UNIT_TEST(test_size_units),
        UNIT_TEST(test_size_errors),
        UNIT_TEST(test_size_overflow_with_M_suffix),
        UNIT_TEST(test_size_result_always_within_range),
        UNIT_TEST(test_int64),
        UNIT_TEST(test_int64_accepts_values_in_range),
    };

    return UNIT_RUN("shop_duration", tests);
}
