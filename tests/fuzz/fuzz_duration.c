/*
 * Directive values (shop_duration.c): durations, sizes and plain integers,
 * checked against a reference in 128-bit arithmetic.  The first byte picks
 * the [min, max] bounds (a fixed set, or 16 raw bytes when its top bit is
 * set); the rest is the text.
 */
#include "fuzz.h"

#include "shop_duration.h"

typedef __int128 i128;

static const struct { apr_int64_t min, max; } ranges[] = {
    {0, APR_INT64_MAX},
    {1, APR_INT64_MAX},
    {APR_INT64_MIN, APR_INT64_MAX},
    {0, 0},
    {1, 86400LL * 1000000 * 365},                   /* 1 us .. a year */
    {1000, 3600LL * 1000000},                       /* 1 ms .. an hour */
    {1024, 64LL * 1024 * 1024},                     /* sizes */
    {APR_INT64_MAX, APR_INT64_MAX},
    {-5, -1},
    {APR_INT64_MAX - 1000, APR_INT64_MAX},
};
#define NRANGES (sizeof(ranges) / sizeof(ranges[0]))

/* Leading digits as a 128-bit number; *too_big past int64. */
static const char *ref_digits(const char *s, i128 *v, int *too_big)
{
    *v = 0;
    *too_big = 0;
    if (*s < '0' || *s > '9') {
        return NULL;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        if (!*too_big) {
            *v = *v * 10 + (*s - '0');
            if (*v > APR_INT64_MAX) {
                *too_big = 1;
            }
        }
    }
    return s;
}

static void check_int64(const char *s, apr_int64_t min, apr_int64_t max)
{
    apr_int64_t out = 0x5a5a;
    const char *err = shop_parse_int64(s, min, max, &out);
    i128 v;
    int big;
    const char *end = ref_digits(s, &v, &big);
    int ok = end && *end == '\0' && !big && v >= min && v <= max;

    FUZZ_CHECK((err == NULL) == ok);
    if (ok) {
        FUZZ_CHECK(out == (apr_int64_t)v);
    }
}

static void check_duration(const char *s, apr_int64_t min, apr_int64_t max)
{
    static const struct { const char *unit; i128 usec; } units[] = {
        {"", 1000000}, {"ms", 1000}, {"s", 1000000}, {"m", 60000000LL},
        {"h", 3600000000LL}, {"d", 86400000000LL},
    };
    apr_interval_time_t out = 0x5a5a;
    const char *err = shop_parse_duration(s, min, max, &out);
    i128 v, want = 0;
    int big, ok = 0;
    const char *end = ref_digits(s, &v, &big);
    size_t i;

    if (end && !big) {
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (strcmp(end, units[i].unit) == 0) {
                want = v * units[i].usec;
                ok = want >= min && want <= max;
                break;
            }
        }
    }
    FUZZ_CHECK((err == NULL) == ok);
    if (ok) {
        FUZZ_CHECK(out == (apr_interval_time_t)want);
    }
}

static void check_size(const char *s, apr_int64_t min, apr_int64_t max)
{
    apr_off_t out = 0x5a5a;
    const char *err = shop_parse_size(s, min, max, &out);
    i128 v, unit = 1, want = 0;
    int big, ok = 0;
    const char *end = ref_digits(s, &v, &big);

    if (end && !big) {
        if (*end == 'k' || *end == 'K') {
            unit = 1024;
            end++;
        }
        else if (*end == 'm' || *end == 'M') {
            unit = 1024 * 1024;
            end++;
        }
        if (*end == '\0') {
            want = v * unit;
            ok = want >= min && want <= max;
        }
    }
    FUZZ_CHECK((err == NULL) == ok);
    if (ok) {
        FUZZ_CHECK(out == (apr_off_t)want);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    uint8_t sel = fuzz_take_u8(&data, &size);
    apr_int64_t min, max;
    const char *s;

    if ((sel & 0x80) && size >= 16) {
        min = (apr_int64_t)fuzz_take_u64(&data, &size);
        max = (apr_int64_t)fuzz_take_u64(&data, &size);
    }
    else {
        min = ranges[sel % NRANGES].min;
        max = ranges[sel % NRANGES].max;
    }
    s = fuzz_cstr(p, data, size);
    check_int64(s, min, max);
    check_duration(s, min, max);
    check_size(s, min, max);
    apr_pool_destroy(p);
    return 0;
}
