/*
 * The directives and the configuration's life (mod_shop_config.c): what
 * the module record and the configuration check (mod_shop.c) call.
 */
#ifndef MOD_SHOP_CONFIG_H
#define MOD_SHOP_CONFIG_H

#include "mod_shop.h"

extern const command_rec shop_cmds[];
void *shop_create_srv_cfg(apr_pool_t *p, server_rec *s);
void *shop_merge_srv_cfg(apr_pool_t *p, void *base, void *add);
void shop_srv_cfg_defaults(shop_srv_cfg *c);
void shop_srv_cfg_unshare(apr_pool_t *p, server_rec *main_s);
const char *shop_srv_cfg_check(apr_pool_t *p, const shop_srv_cfg *c, const char **at);
void *shop_create_dir_cfg(apr_pool_t *p, char *dir);
void *shop_merge_dir_cfg(apr_pool_t *p, void *base, void *add);

#endif
