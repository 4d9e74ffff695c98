/*
 * Does the database's schema match the module?  The module is built for
 * a list of migrations (the file names of sql/migrations, compiled in by
 * Makefile.apxs); mod-shop-migrate records the ones it applied in
 * schema_migrations.  Plain string logic, no httpd, no libpq: unit-tested
 * (tests/unit/test_schema.c); mod_shop_schema.c asks the database and
 * publishes the verdict.
 */
#ifndef SHOP_SCHEMA_H
#define SHOP_SCHEMA_H

#include <stddef.h>

typedef enum {
    SHOP_SCHEMA_UNKNOWN = 0,    /* not checked yet (or the database is down) */
    SHOP_SCHEMA_MATCH,          /* every migration of the module, no other */
    SHOP_SCHEMA_NONE,           /* no migration applied at all */
    SHOP_SCHEMA_MISSING,        /* some of the module's are not applied */
    SHOP_SCHEMA_NEWER           /* all applied, and some the module does not
                                 * know (a newer module migrated it) */
} shop_schema_state;

/*
 * Compares the applied migrations with the module's (both lists in any
 * order) and writes what differs into detail (len bytes, always
 * terminated, cut with "..." when long): the names missing and the names
 * unknown, with what to do about it.
 */
shop_schema_state shop_schema_compare(const char *const *expected, size_t n_expected,
                                      const char *const *applied, size_t n_applied,
                                      char *detail, size_t len);

/* Whether data routes can run on a schema in this state: the module's
 * statements need every one of its migrations; extra ones are additive. */
int shop_schema_serves(shop_schema_state st);

/* One word for the status views: match, none, missing, newer, unknown. */
const char *shop_schema_word(shop_schema_state st);

#endif
