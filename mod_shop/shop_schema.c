/*
 * The schema verdict: which of the module's migrations the database lacks
 * and which of the database's the module does not know.
 */
#include <stdio.h>
#include <string.h>

#include "shop_schema.h"

#define HINT_MIGRATE "; run mod-shop-migrate"
#define HINT_UPGRADE "; a newer mod_shop migrated this database: upgrade the module"

static int listed(const char *name, const char *const *list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(list[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* A bounded text being written: what does not fit is cut with "...". */
typedef struct {
    char *buf;
    size_t len, at;
} text;

static void put(text *t, const char *s)
{
    size_t n = strlen(s), room;

    if (t->len == 0 || t->at + 1 >= t->len) {
        return;
    }
    room = t->len - 1 - t->at;
    if (n > room) {
        n = room;
    }
    memcpy(t->buf + t->at, s, n);
    t->at += n;
    t->buf[t->at] = '\0';
    if (t->at + 1 >= t->len && t->len > 4) {
        memcpy(t->buf + t->len - 4, "...", 4);
    }
}

/* The names of `from` not in `other`, after a label; how many there were. */
static size_t put_absent(text *t, const char *label, const char *const *from, size_t n,
                         const char *const *other, size_t n_other)
{
    size_t i, count = 0;

    for (i = 0; i < n; i++) {
        if (!listed(from[i], other, n_other)) {
            put(t, count++ == 0 ? label : ", ");
            put(t, from[i]);
        }
    }
    return count;
}

shop_schema_state shop_schema_compare(const char *const *expected, size_t n_expected,
                                      const char *const *applied, size_t n_applied,
                                      char *detail, size_t len)
{
    text t = { detail, len, 0 };
    size_t missing, unknown;
    char head[96];

    if (len > 0) {
        detail[0] = '\0';
    }
    if (n_applied == 0) {
        snprintf(head, sizeof(head), "no migration is applied (the module needs %zu)",
                 n_expected);
        put(&t, head);
        put(&t, HINT_MIGRATE);
        return SHOP_SCHEMA_NONE;
    }
    missing = put_absent(&t, "migrations not applied: ", expected, n_expected,
                         applied, n_applied);
    unknown = put_absent(&t, missing ? "; migrations unknown to this module: "
                                     : "migrations unknown to this module: ",
                         applied, n_applied, expected, n_expected);
    if (missing) {
        put(&t, HINT_MIGRATE);
        return SHOP_SCHEMA_MISSING;
    }
    if (unknown) {
        put(&t, HINT_UPGRADE);
        return SHOP_SCHEMA_NEWER;
    }
    return SHOP_SCHEMA_MATCH;
}

int shop_schema_serves(shop_schema_state st)
{
    return st == SHOP_SCHEMA_UNKNOWN || st == SHOP_SCHEMA_MATCH || st == SHOP_SCHEMA_NEWER;
}

const char *shop_schema_word(shop_schema_state st)
{
    switch (st) {
    case SHOP_SCHEMA_MATCH:   return "match";
    case SHOP_SCHEMA_NONE:    return "none";
    case SHOP_SCHEMA_MISSING: return "missing";
    case SHOP_SCHEMA_NEWER:   return "newer";
    default:                  return "unknown";
    }
}
