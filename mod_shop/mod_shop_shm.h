/*
 * Shared memory (mod_shop_shm.c): the slotmem blocks every user of shared
 * memory creates through, the sold-out sets, the children's slots.
 */
#ifndef MOD_SHOP_SHM_H
#define MOD_SHOP_SHM_H

#include "mod_shop.h"

/* What a block holds when shop_shm_block returns it: zeros, or what the
 * last generation left (persisted across restarts by mod_slotmem_shm). */
#define SHOP_SHM_ZEROED 0
#define SHOP_SHM_PERSISTED 1

/* One slot of shared memory (mod_slotmem_shm) of `size` bytes, its content
 * one of the above; NULL with *rv on failure. */
void *shop_shm_block(apr_pool_t *pconf, const char *name, apr_size_t size,
                     int content, apr_status_t *rv);
/* Creates the shared memory of this file (every shop's sold-out set and
 * database state, the children's slots); post_config, before the users of
 * shared memory (read cache, popular) attach theirs and the jobs start. */
apr_status_t shop_shm_create(apr_pool_t *pconf, server_rec *s);
int shop_soldout_is(const shop_site *site, apr_int64_t coupon_id);
void shop_soldout_mark(const shop_site *site, apr_int64_t coupon_id);
int shop_soldout_count(const shop_site *site);

/* Each live child's pooled connections in use (and the most seen at once). */
typedef struct {
    apr_uint32_t pid;
    apr_uint32_t in_use;
    apr_uint32_t peak;
} shop_child_use;

void shop_children_claim(void);             /* child_init */
/* counter: the child's in-use count; in_use: what this thread's step made it */
void shop_children_note(volatile apr_uint32_t *counter, apr_uint32_t in_use);
int shop_children_list(shop_child_use *out, int max);

#endif
