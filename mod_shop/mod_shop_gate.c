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
 *
 * The bound that matters is the database's: a few dozen transactions in
 * flight commit as fast as more, and more only queue on the rows they
 * share (a hot product's stock buckets).  So ShopServerWriteConcurrency
 * bounds the writes of all the children of the server: each child's gate
 * holds its share, the bound divided by the children the scoreboard shows
 * alive in this generation, counted again every SHARE_EVERY.  The MPM may
 * then start children up front for a burst of connections without
 * multiplying the writers.  A share, not one semaphore in shared memory:
 * no waiter ever waits on another process (a child that dies holding a
 * place would leak it), at the cost of a child with a queue not borrowing
 * an idle child's places.
 */
#include <ap_mpm.h>
#include <apr_atomic.h>
#include <scoreboard.h>

#include "mod_shop_gate.h"

/* Waiters a gate keeps per place: beyond that the wait would outlast any
 * reasonable ShopBusyWait, so a newcomer is refused at once. */
#define QUEUE_PER_PLACE 32
#define SHARE_EVERY apr_time_from_msec(100)

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

/* The MPM's children of this generation that are not stopping. */
static int children_alive(void)
{
    int limit = 0, i, n = 0;
    ap_generation_t generation = 0;

    if (ap_scoreboard_image == NULL || ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit)
        != APR_SUCCESS || ap_mpm_query(AP_MPMQ_GENERATION, &generation) != APR_SUCCESS) {
        return 0;
    }
    for (i = 0; i < limit; i++) {
        const process_score *ps = ap_get_scoreboard_process(i);

        n += ps->pid != 0 && !ps->quiescing && ps->generation == generation;
    }
    return n;
}

/* At most once per SHARE_EVERY per child and shop (one thread wins the
 * swap; the others go on with the share in force). */
void shop_writes_share_out(shop_site *site)
{
    const shop_srv_cfg *sc = site ? srv_cfg(site->s) : NULL;
    apr_uint64_t now = (apr_uint64_t)apr_time_now();
    apr_uint64_t last;

    if (sc == NULL || site->writes == NULL) {
        return;
    }
    last = apr_atomic_read64(&site->writes_shared_at);
    if (now - last < (apr_uint64_t)SHARE_EVERY
        || apr_atomic_cas64(&site->writes_shared_at, now, last) != last) {
        return;
    }
    shop_gate_set_limit(site->writes, shop_gate_share(sc->server_write_concurrency,
                                                      children_alive(),
                                                      sc->write_concurrency));
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
    shop_srv_cfg *sc = srv_cfg(r->server);

    if (g == NULL) {
        return 1;
    }
    shop_writes_share_out(sc->site);
    return shop_gate_enter(g, sc->busy_wait);
}

void shop_write_leave(request_rec *r)
{
    shop_gate *g = gate_of(r);

    if (g) {
        shop_gate_leave(g);
    }
}
