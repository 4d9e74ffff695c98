/*
 * The connection loop under a thread-per-connection MPM (mod_shop_conn.c):
 * httpd's own, except that a retiring child keeps the keep-alive it
 * promised (docs/operations.md, Reloads).
 */
#ifndef MOD_SHOP_CONN_H
#define MOD_SHOP_CONN_H

#include "mod_shop.h"

/* register_hooks: the process_connection hook. */
void shop_conn_register(void);

#endif
