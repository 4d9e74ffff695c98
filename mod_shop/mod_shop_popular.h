/*
 * The popular ranking (mod_shop_popular.c): its block in shared memory.
 * Its handler is in mod_shop_routes.h, its job in mod_shop_jobs.h.
 */
#ifndef MOD_SHOP_POPULAR_H
#define MOD_SHOP_POPULAR_H

#include "mod_shop.h"

/* post_config: the popular block of a shop in shared memory. */
apr_status_t shop_popular_attach(apr_pool_t *pconf, server_rec *s, shop_site *site);
apr_time_t shop_popular_generated_at(const shop_site *site);

#endif
