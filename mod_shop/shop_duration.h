/*
 * Durations and sizes as written in httpd.conf: "10m", "5" (seconds),
 * "250ms", "3d"; "64k", "1M".
 */
#ifndef SHOP_DURATION_H
#define SHOP_DURATION_H

#include <apr_time.h>

/* Returns NULL on success, else a message for the configtest output. */
const char *shop_parse_duration(const char *s, apr_interval_time_t min,
                                apr_interval_time_t max,
                                apr_interval_time_t *out);

/* Bytes with an optional k/K or m/M suffix (binary units). */
const char *shop_parse_size(const char *s, apr_off_t min, apr_off_t max,
                            apr_off_t *out);

/* An integer in [min, max]. */
const char *shop_parse_int64(const char *s, apr_int64_t min, apr_int64_t max,
                             apr_int64_t *out);

#endif
