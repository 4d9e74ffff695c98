/*
 * Entity tags and If-None-Match, without httpd (shop_etag.h).
 */
#include <string.h>

#include <apr_strings.h>

#include "shop_etag.h"

apr_uint64_t shop_fnv1a64(apr_uint64_t h, const void *data, apr_size_t len)
{
    const unsigned char *c = data;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ c[i]) * 0x100000001b3ULL;
    }
    return h;
}

const char *shop_etag_of(apr_pool_t *p, const char *body, apr_size_t len)
{
    return apr_psprintf(p, "\"%016" APR_UINT64_T_HEX_FMT "\"",
                        shop_fnv1a64(SHOP_FNV1A64_INIT, body, len));
}

/* The suffixes httpd's compressing filters give the tags they pass on. */
static const char *const coding_suffixes[] = { "-gzip", "-br" };

/* Is [tag, tag + n) (the opaque tag without quotes) ours, plain or with a
 * coding suffix?  `ours` is the bare tag too. */
static int same_tag(const char *tag, apr_size_t n, const char *ours, apr_size_t on)
{
    apr_size_t i;

    if (n == on && memcmp(tag, ours, n) == 0) {
        return 1;
    }
    for (i = 0; i < sizeof(coding_suffixes) / sizeof(coding_suffixes[0]); i++) {
        apr_size_t sn = strlen(coding_suffixes[i]);

        if (n == on + sn && memcmp(tag, ours, on) == 0
            && memcmp(tag + on, coding_suffixes[i], sn) == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *skip_separators(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == ',') {
        s++;
    }
    return s;
}

/* After a member's closing quote: only blanks before a comma or the end. */
static int member_ends(const char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return *s == ',' || *s == '\0';
}

int shop_etag_none_match(const char *if_none_match, const char *etag)
{
    const char *s, *ours;
    apr_size_t on;

    if (if_none_match == NULL || etag == NULL) {
        return 0;
    }
    ours = etag + (strncmp(etag, "W/", 2) == 0 ? 2 : 0);
    on = strlen(ours);
    if (on < 2 || ours[0] != '"' || ours[on - 1] != '"') {
        return 0;
    }
    ours++;
    on -= 2;
    for (s = skip_separators(if_none_match); *s; s = skip_separators(s)) {
        const char *end;

        if (*s == '*') {
            return 1;
        }
        if (strncmp(s, "W/", 2) == 0) {
            s += 2;
        }
        if (*s != '"' || (end = strchr(s + 1, '"')) == NULL
            || !member_ends(end + 1)) {
            s += strcspn(s, ",");       /* malformed member: skip it */
            continue;
        }
        if (same_tag(s + 1, (apr_size_t)(end - s - 1), ours, on)) {
            return 1;
        }
        s = end + 1;
    }
    return 0;
}
