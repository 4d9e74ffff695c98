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

#define NO_MATCH (-1)
#define PLAIN    0

/* Is [tag, tag + n) (an opaque tag without its quotes) ours?  PLAIN, or
 * 1 + the index of the coding suffix it carries, or NO_MATCH.  `ours` is
 * bare (no quotes) too. */
static int same_tag(const char *tag, apr_size_t n, const char *ours, apr_size_t on)
{
    apr_size_t i;

    if (n == on && memcmp(tag, ours, n) == 0) {
        return PLAIN;
    }
    for (i = 0; i < sizeof(coding_suffixes) / sizeof(coding_suffixes[0]); i++) {
        apr_size_t sn = strlen(coding_suffixes[i]);

        if (n == on + sn && memcmp(tag, ours, on) == 0
            && memcmp(tag + on, coding_suffixes[i], sn) == 0) {
            return (int)i + 1;
        }
    }
    return NO_MATCH;
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

/* The first member of the list that names our tag: PLAIN ("*" too), a
 * coding suffix (1 + its index), or NO_MATCH. */
static int find_member(const char *list, const char *ours, apr_size_t on)
{
    const char *s, *end;
    int found;

    for (s = skip_separators(list); *s; s = skip_separators(s)) {
        if (*s == '*') {
            return PLAIN;
        }
        if (strncmp(s, "W/", 2) == 0) {
            s += 2;
        }
        if (*s != '"' || (end = strchr(s + 1, '"')) == NULL || !member_ends(end + 1)) {
            s += strcspn(s, ",");       /* malformed member: skip it */
            continue;
        }
        if ((found = same_tag(s + 1, (apr_size_t)(end - s - 1), ours, on)) != NO_MATCH) {
            return found;
        }
        s = end + 1;
    }
    return NO_MATCH;
}

const char *shop_etag_match(apr_pool_t *p, const char *if_none_match, const char *etag)
{
    const char *ours;
    apr_size_t on;
    int found;

    if (if_none_match == NULL || etag == NULL) {
        return NULL;
    }
    ours = etag + (strncmp(etag, "W/", 2) == 0 ? 2 : 0);
    on = strlen(ours);
    if (on < 2 || ours[0] != '"' || ours[on - 1] != '"') {
        return NULL;
    }
    found = find_member(if_none_match, ours + 1, on - 2);
    if (found == NO_MATCH) {
        return NULL;
    }
    if (found == PLAIN) {
        return etag;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, etag, (apr_size_t)(ours - etag) + on - 1),
                       coding_suffixes[found - 1], "\"", NULL);
}
