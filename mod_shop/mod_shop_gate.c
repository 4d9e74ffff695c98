/*
 * Write admission: the glue of shop_gate.c.
 *
 * A flash sale or a coupon drop is many writes at once.  Without a bound
 * they take every pooled connection of the child (DBDMax) and every
 * request behind them waits in mod_dbd's pool without a limit: reads of
 * other products starve, and the writers themselves queue for seconds.
 * Behind the gate at most ShopWriteConcurrency writes per shop hold a
 * connection in each child; the others wait for a turn on a condition
 * variable (holding their thread, not a connection), at most
 * ShopBusyWait, and then hear 503 BUSY with Retry-After.  A queue already
 * longer than the wait could drain is refused at once.
 */
#include "mod_shop_gate.h"

/* Waiters a gate keeps per place: beyond that the wait would outlast any
 * reasonable ShopBusyWait, so a newcomer is refused at once. */
#define QUEUE_PER_PLACE 32

static shop_srv_cfg *srv_cfg(server_rec *s)
{
    return ap_get_module_config(s->module_config, &shop_module);
}

void shop_gates_child_init(apr_pool_t *pchild)
{
    apr_array_header_t *sites = shop_sites();
    int i;

    for (i = 0; sites && i < sites->nelts; i++) {
        shop_site *site = APR_ARRAY_IDX(sites, i, shop_site *);
        int limit = srv_cfg(site->s)->write_concurrency;

        if (shop_gate_create(&site->writes, limit, limit * QUEUE_PER_PLACE, pchild)
            != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, site->s,
                         SHOPLOGNO(00039) "cannot create the write gate");
            site->writes = NULL;    /* writes go ungated rather than not at all */
        }
    }
}

/* This child's gate of a request that writes to a shop, else NULL:
 * readiness and the status view run through shop_run too, and must answer
 * during a sale. */
static shop_gate *gate_of(request_rec *r)
{
    shop_site *site = srv_cfg(r->server)->site;

    return r->method_number == M_GET || site == NULL ? NULL : site->writes;
}

int shop_write_enter(request_rec *r)
{
    shop_gate *g = gate_of(r);

    return g == NULL || shop_gate_enter(g, srv_cfg(r->server)->busy_wait);
}

void shop_write_leave(request_rec *r)
{
    shop_gate *g = gate_of(r);

    if (g) {
        shop_gate_leave(g);
    }
}
