/*
 * Health and status (mod_shop_status.c).  The health routes are in
 * mod_shop_routes.h.
 */
#ifndef MOD_SHOP_STATUS_H
#define MOD_SHOP_STATUS_H

#include "mod_shop.h"

/* register_hooks: the mod_shop section of mod_status. */
void shop_status_register(void);

#endif
