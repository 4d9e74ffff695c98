/*
 * SQLSTATE classes (PostgreSQL, Appendix A "Error Codes").
 */
#include <string.h>

#include "shop_sqlstate.h"

/* Exact states first: some of them sit in a class listed further down
 * (57014 is in class 57, whose 57P* members mean a lost connection). */
static const struct {
    const char *state;
    shop_sqlstate_class cls;
} exact[] = {
    {"40001", SHOP_SQLSTATE_RETRY},
    {"40P01", SHOP_SQLSTATE_RETRY},
    {"25006", SHOP_SQLSTATE_CONN_LOST},
    {"53300", SHOP_SQLSTATE_UNAVAILABLE},
    {"55P03", SHOP_SQLSTATE_BUSY},
    {"57014", SHOP_SQLSTATE_BUSY},
    {"26000", SHOP_SQLSTATE_NO_STATEMENT},
    {"23505", SHOP_SQLSTATE_UNIQUE},
};

static const struct {
    const char *prefix;
    shop_sqlstate_class cls;
} prefixes[] = {
    {"08", SHOP_SQLSTATE_CONN_LOST},
    {"57P", SHOP_SQLSTATE_CONN_LOST},
    {"22", SHOP_SQLSTATE_DATA},
    {"23", SHOP_SQLSTATE_INTEGRITY},
};

shop_sqlstate_class shop_sqlstate_classify(const char *state)
{
    size_t i;

    if (state == NULL) {
        return SHOP_SQLSTATE_OTHER;
    }
    for (i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        if (strcmp(state, exact[i].state) == 0) {
            return exact[i].cls;
        }
    }
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        if (strncmp(state, prefixes[i].prefix, strlen(prefixes[i].prefix)) == 0) {
            return prefixes[i].cls;
        }
    }
    return SHOP_SQLSTATE_OTHER;
}
