/*
 * Parsing of directive values.  Strict: trailing garbage, signs, overflow
 * and out-of-range values are errors, so `apachectl -t` catches them.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>

#include "shop_duration.h"

/* Leading decimal digits of s; NULL if none or beyond int64. */
static const char *parse_digits(const char *s, apr_int64_t *v)
{
    *v = 0;
    if (!apr_isdigit(*s)) {
        return NULL;
    }
    for (; apr_isdigit(*s); s++) {
        int d = *s - '0';
        if (*v > (APR_INT64_MAX - d) / 10) {
            return NULL;
        }
        *v = *v * 10 + d;
    }
    return s;
}

const char *shop_parse_int64(const char *s, apr_int64_t min, apr_int64_t max,
                             apr_int64_t *out)
{
    apr_int64_t v;
    const char *end = parse_digits(s, &v);

    if (end == NULL || *end != '\0') {
        return "must be a non-negative whole number";
    }
    if (v < min || v > max) {
        return "is out of range";
    }
    *out = v;
    return NULL;
}

const char *shop_parse_duration(const char *s, apr_interval_time_t min,
                                apr_interval_time_t max,
                                apr_interval_time_t *out)
{
    static const struct { const char *unit; apr_int64_t usec; } units[] = {
        {"", APR_USEC_PER_SEC}, {"ms", 1000}, {"s", APR_USEC_PER_SEC},
        {"m", 60 * APR_USEC_PER_SEC}, {"h", 3600 * APR_USEC_PER_SEC},
        {"d", 86400 * APR_USEC_PER_SEC},
    };
    apr_int64_t v;
    const char *end = parse_digits(s, &v);
    apr_size_t i;

    if (end == NULL) {
        return "must be a number with an optional unit ms, s, m, h or d";
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].unit) == 0) {
            if (v > max / units[i].usec) {
                return "is out of range";
            }
            v *= units[i].usec;
            if (v < min || v > max) {
                return "is out of range";
            }
            *out = v;
            return NULL;
        }
    }
    return "has an unknown unit (use ms, s, m, h or d)";
}

const char *shop_parse_size(const char *s, apr_off_t min, apr_off_t max,
                            apr_off_t *out)
{
    apr_int64_t v;
    const char *end = parse_digits(s, &v);

    apr_int64_t unit = 1;

    if (end == NULL) {
        return "must be a number of bytes with an optional k or M suffix";
    }
    if (*end == 'k' || *end == 'K') {
        unit = 1024;
        end++;
    }
    else if (*end == 'm' || *end == 'M') {
        unit = 1024 * 1024;
        end++;
    }
    if (*end != '\0') {
        return "must be a number of bytes with an optional k or M suffix";
    }
    /* v <= max / unit keeps v * unit from overflowing; the product is
     * then checked against both bounds (max / unit rounds toward zero, so
     * with a negative max it alone would let 0 through). */
    if (v > max / unit) {
        return "is out of range";
    }
    v *= unit;
    if (v < min || v > max) {
        return "is out of range";
    }
    *out = (apr_off_t)v;
    return NULL;
}
