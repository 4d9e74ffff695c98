/*
 * The route tables (mod_shop_routes.c) and the handlers they name, one
 * file per group of routes (mod_shop_points.c, mod_shop_orders.c, ...).
 */
#ifndef MOD_SHOP_ROUTES_H
#define MOD_SHOP_ROUTES_H

#include "mod_shop.h"
#include "mod_shop_http.h"
#include "shop_route.h"

typedef int (*shop_handler_fn)(shop_req *q);

#define SHOP_BODY_NONE     0
#define SHOP_BODY_OPTIONAL 1
#define SHOP_BODY_REQUIRED 2

typedef struct {
    shop_route route;           /* must stay first: see shop_route_find */
    shop_handler_fn handler;
    int user_scoped;            /* params[0] is a {userId} */
    int body;                   /* SHOP_BODY_* */
    shop_cc cache;              /* who may store its success (RFC 9111) */
} shop_route_entry;

/* The API's routes (handler shop) and the admin routes (shop-admin). */
extern const shop_route_entry shop_routes[];
extern const apr_size_t shop_routes_count;
extern const shop_route_entry shop_admin_routes[];
extern const apr_size_t shop_admin_routes_count;

int shop_points_get(shop_req *q);
int shop_points_charge(shop_req *q);
int shop_points_history(shop_req *q);
int shop_products_list(shop_req *q);
int shop_products_get(shop_req *q);
int shop_admin_user_create(shop_req *q);
int shop_admin_product_create(shop_req *q);
int shop_admin_product_update(shop_req *q);
int shop_admin_coupon_create(shop_req *q);
int shop_admin_status(shop_req *q);
int shop_admin_outbox_dead(shop_req *q);
int shop_admin_outbox_redeliver(shop_req *q);
int shop_orders_create(shop_req *q);
int shop_orders_list(shop_req *q);
int shop_orders_get(shop_req *q);
int shop_orders_coupons(shop_req *q);
int shop_orders_pay(shop_req *q);
int shop_orders_cancel(shop_req *q);
int shop_coupons_get(shop_req *q);
int shop_coupons_issue(shop_req *q);
int shop_coupons_list(shop_req *q);
void shop_coupons_child_init(apr_pool_t *pchild);
int shop_products_popular(shop_req *q);         /* mod_shop_popular.c */
int shop_health_live(shop_req *q);              /* mod_shop_status.c */
int shop_health_ready(shop_req *q);

#endif
