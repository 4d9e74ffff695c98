/*
 * SQLSTATE classes (PostgreSQL, Appendix A "Error Codes").
 */
#include <string.h>

#include "shop_sqlstate.h"

#define STATE_LEN 5

/*
 * Five characters name one state; fewer, a class of them.  The first
 * match wins, so states come before classes: 57014 is in class 57, whose
 * 57P* members mean a lost connection.
 */
static const struct {
    const char *code;
    shop_sqlstate_class cls;
} table[] = {
    {"40001", SHOP_SQLSTATE_RETRY},
    {"40P01", SHOP_SQLSTATE_RETRY},
    {"25006", SHOP_SQLSTATE_FAILOVER},
    {"57P01", SHOP_SQLSTATE_FAILOVER},
    {"57P02", SHOP_SQLSTATE_FAILOVER},
    {"57P03", SHOP_SQLSTATE_FAILOVER},
    {"53300", SHOP_SQLSTATE_UNAVAILABLE},
    {"55P03", SHOP_SQLSTATE_BUSY},
    {"57014", SHOP_SQLSTATE_BUSY},
    {"26000", SHOP_SQLSTATE_NO_STATEMENT},
    {"23505", SHOP_SQLSTATE_UNIQUE},
    {"42P01", SHOP_SQLSTATE_SCHEMA},
    {"42883", SHOP_SQLSTATE_SCHEMA},
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
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        size_t n = strlen(table[i].code);

        if (strncmp(state, table[i].code, n) == 0
            && (n < STATE_LEN || state[STATE_LEN] == '\0')) {
            return table[i].cls;
        }
    }
    return SHOP_SQLSTATE_OTHER;
}

/*
 * A session that is gone is never redone when the statement was a commit:
 * it may have committed (a primary killed while its backend waited for the
 * synchronous standby has committed locally and says 57P01 or nothing), so
 * only the client's retry with its Idempotency-Key can find out, and a 200
 * would claim what nobody confirmed.  Nor after a failover state: the
 * server is going away or is a standby, the next primary is seconds off,
 * and a redo on the same route would only hold the request.
 */
shop_session_fate shop_sqlstate_session(const char *state, int conn_bad,
                                        int committing)
{
    shop_sqlstate_class cls = shop_sqlstate_classify(state);

    if (cls == SHOP_SQLSTATE_FAILOVER) {
        return SHOP_SESSION_GIVE_UP;
    }
    if (cls != SHOP_SQLSTATE_CONN_LOST && !conn_bad) {
        return SHOP_SESSION_KEEP;
    }
    return committing ? SHOP_SESSION_GIVE_UP : SHOP_SESSION_REDO;
}
