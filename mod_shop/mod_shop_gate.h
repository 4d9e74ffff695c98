/*
 * Write admission (mod_shop_gate.c): each child runs at most
 * ShopWriteConcurrency write transactions per shop at once; a write that
 * waits longer than ShopBusyWait for its turn is answered 503 BUSY.
 */
#ifndef MOD_SHOP_GATE_H
#define MOD_SHOP_GATE_H

#include "mod_shop.h"
#include "shop_gate.h"

/* child_init: one gate per shop, sized from the shop's first server. */
void shop_gates_child_init(apr_pool_t *pchild);

/* Sets this child's share of ShopServerWriteConcurrency for the shop, if
 * it was last set more than 100 ms ago (every write calls it). */
void shop_writes_share_out(shop_site *site);

/* 1: the request may write (shop_write_leave later); 0: answer BUSY. */
int shop_write_enter(request_rec *r);
void shop_write_leave(request_rec *r);

#endif
