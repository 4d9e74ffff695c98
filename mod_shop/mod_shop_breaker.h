/*
 * The circuit breaker per shop and child (mod_shop_breaker.c).  Its prober
 * is a kind of job: shop_breaker_jobs, in mod_shop_jobs.h.
 */
#ifndef MOD_SHOP_BREAKER_H
#define MOD_SHOP_BREAKER_H

#include "mod_shop.h"

void shop_breaker_child_init(apr_pool_t *pchild);
/* Before asking mod_dbd's pool: 0 = the database is known down, answer 503. */
int shop_breaker_allow(request_rec *r, shop_site *site);
/* No connection, a connection lost for good, a statement timeout. */
void shop_breaker_failure(request_rec *r, shop_site *site, const char *why);
/* 0 when closed, else when it opened; *refused: 503s since. */
apr_time_t shop_breaker_open_since(shop_site *site, apr_uint64_t *refused);

#endif
