/*
 * The route tables: every path mod_shop answers, relative to its mount.
 * Literal routes come before placeholder routes of the same shape.  Below
 * them, the jobs table: every kind of scheduled work, which post_config
 * hands to the jobs process (mod_shop_jobs.c knows no job by name).
 *
 * The last column says who may store a route's success: the catalog and
 * the popular ranking are the same for everyone (shared, with an ETag);
 * everything else is one user's, or the operator's (private, no-store).
 *
 * Two tables for two handlers: "shop" serves the API and never an admin
 * route; "shop-admin" serves only the admin routes, so adding a mount of
 * the API can never open them (docs/design.md, "Mounts").
 */
#include "mod_shop.h"
#include "mod_shop_jobs.h"
#include "mod_shop_routes.h"

#define GET   SHOP_METHOD_GET
#define POST  SHOP_METHOD_POST
#define PATCH SHOP_METHOD_PATCH
#define PRIVATE SHOP_CC_PRIVATE
#define CATALOG SHOP_CC_CATALOG
#define POPULAR SHOP_CC_POPULAR

const shop_route_entry shop_routes[] = {
    {{GET,   "/health"},                         shop_health_live,    0, SHOP_BODY_NONE, PRIVATE},
    {{GET,   "/health/ready"},                   shop_health_ready,   0, SHOP_BODY_NONE, PRIVATE},
    {{GET,   "/users/{userId}/points"},          shop_points_get,     1, SHOP_BODY_NONE, PRIVATE},
    {{POST,  "/users/{userId}/points/charge"},   shop_points_charge,  1, SHOP_BODY_REQUIRED, PRIVATE},
    {{GET,   "/users/{userId}/points/history"},  shop_points_history, 1, SHOP_BODY_NONE, PRIVATE},
    {{GET,   "/products"},                       shop_products_list,  0, SHOP_BODY_NONE, CATALOG},
    {{GET,   "/products/popular"},               shop_products_popular, 0, SHOP_BODY_NONE, POPULAR},
    {{GET,   "/products/{productId}"},           shop_products_get,   0, SHOP_BODY_NONE, CATALOG},
    {{GET,   "/users/{userId}/orders"},          shop_orders_list,    1, SHOP_BODY_NONE, PRIVATE},
    {{POST,  "/users/{userId}/orders"},          shop_orders_create,  1, SHOP_BODY_REQUIRED, PRIVATE},
    {{GET,   "/users/{userId}/orders/{orderId}"}, shop_orders_get,    1, SHOP_BODY_NONE, PRIVATE},
    {{GET,   "/users/{userId}/orders/{orderId}/coupons"}, shop_orders_coupons, 1, SHOP_BODY_NONE, PRIVATE},
    {{POST,  "/users/{userId}/orders/{orderId}/payment"}, shop_orders_pay,     1, SHOP_BODY_OPTIONAL, PRIVATE},
    {{POST,  "/users/{userId}/orders/{orderId}/cancel"},  shop_orders_cancel,  1, SHOP_BODY_OPTIONAL, PRIVATE},
    {{GET,   "/users/{userId}/coupons"},         shop_coupons_list,   1, SHOP_BODY_NONE, PRIVATE},
    {{POST,  "/users/{userId}/coupons"},         shop_coupons_issue,  1, SHOP_BODY_REQUIRED, PRIVATE},
    {{GET,   "/coupons/{couponId}"},             shop_coupons_get,    0, SHOP_BODY_NONE, CATALOG},
};

const apr_size_t shop_routes_count = sizeof(shop_routes) / sizeof(shop_routes[0]);

const shop_route_entry shop_admin_routes[] = {
    {{POST,  "/admin/users"},                    shop_admin_user_create,    0, SHOP_BODY_REQUIRED, PRIVATE},
    {{POST,  "/admin/products"},                 shop_admin_product_create, 0, SHOP_BODY_REQUIRED, PRIVATE},
    {{PATCH, "/admin/products/{productId}"},     shop_admin_product_update, 0, SHOP_BODY_REQUIRED, PRIVATE},
    {{POST,  "/admin/coupons"},                  shop_admin_coupon_create,  0, SHOP_BODY_REQUIRED, PRIVATE},
    {{GET,   "/admin/status"},                   shop_admin_status,         0, SHOP_BODY_NONE, PRIVATE},
    {{GET,   "/admin/outbox/dead"},              shop_admin_outbox_dead,    0, SHOP_BODY_NONE, PRIVATE},
    {{POST,  "/admin/outbox/dead/{eventId}/redeliver"}, shop_admin_outbox_redeliver, 0, SHOP_BODY_OPTIONAL, PRIVATE},
};

const apr_size_t shop_admin_routes_count = sizeof(shop_admin_routes)
                                           / sizeof(shop_admin_routes[0]);

/* One thread per kind and shop, started in this order. */
const shop_jobs_fn shop_job_kinds[] = {
    shop_schema_jobs,
    shop_expiry_jobs,
    shop_popular_jobs,
    shop_relay_jobs,
    shop_breaker_jobs,
    shop_catalog_jobs,
    shop_catalog_refresh_jobs,
};

const apr_size_t shop_job_kinds_count = sizeof(shop_job_kinds) / sizeof(shop_job_kinds[0]);
