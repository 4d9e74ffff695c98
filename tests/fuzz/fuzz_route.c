/*
 * The router (shop_route.c): the two tables of mod_shop_routes.c, copied
 * here with an integer tag in place of the handler, matched against
 * arbitrary method bits and paths, and compared with a reference matcher
 * (split both on '/', segment by segment).  The first byte holds the
 * method bits (low nibble, any combination) and the table (bit 4); the
 * rest is the path.
 */
#include "fuzz.h"

#include "shop_route.h"

#define GET   SHOP_METHOD_GET
#define POST  SHOP_METHOD_POST
#define PATCH SHOP_METHOD_PATCH

typedef struct {
    shop_route route;
    int tag;
    int flags;
} fuzz_route;

static const fuzz_route api_routes[] = {
    {{GET,   "/health"},                         1, 0},
    {{GET,   "/health/ready"},                   2, 0},
    {{GET,   "/users/{userId}/points"},          3, 1},
    {{POST,  "/users/{userId}/points/charge"},   4, 1},
    {{GET,   "/users/{userId}/points/history"},  5, 1},
    {{GET,   "/products"},                       6, 0},
    {{GET,   "/products/popular"},               7, 0},
    {{GET,   "/products/{productId}"},           8, 0},
    {{GET,   "/users/{userId}/orders"},          9, 1},
    {{POST,  "/users/{userId}/orders"},          10, 1},
    {{GET,   "/users/{userId}/orders/{orderId}"}, 11, 1},
    {{GET,   "/users/{userId}/orders/{orderId}/coupons"}, 12, 1},
    {{POST,  "/users/{userId}/orders/{orderId}/payment"}, 13, 1},
    {{POST,  "/users/{userId}/orders/{orderId}/cancel"},  14, 1},
    {{GET,   "/users/{userId}/coupons"},         15, 1},
    {{POST,  "/users/{userId}/coupons"},         16, 1},
    {{GET,   "/coupons/{couponId}"},             17, 0},
    /* Not in the module: the most placeholders a pattern may have. */
    {{PATCH, "/{a}/{b}/{c}"},                    18, 0},
};

static const fuzz_route admin_routes[] = {
    {{POST,  "/admin/users"},                    101, 0},
    {{POST,  "/admin/products"},                 102, 0},
    {{PATCH, "/admin/products/{productId}"},     103, 0},
    {{POST,  "/admin/coupons"},                  104, 0},
    {{GET,   "/admin/status"},                   105, 0},
};

#define COUNT(t) (sizeof(t) / sizeof((t)[0]))

/* Reference: does `path` match `pat`?  Captures placeholders into m. */
static int ref_match(const char *pat, const char *path, shop_route_match *m)
{
    m->nparams = 0;
    for (;;) {
        size_t pl, sl;

        if (*pat == '\0' || *path == '\0') {
            return *pat == '\0' && *path == '\0';
        }
        if (*pat != '/' || *path != '/') {
            return 0;
        }
        pat++;
        path++;
        pl = strcspn(pat, "/");
        sl = strcspn(path, "/");
        if (sl == 0) {
            return 0;
        }
        if (pat[0] == '{') {
            if (m->nparams == SHOP_ROUTE_MAX_PARAMS) {
                return 0;
            }
            m->params[m->nparams++] = path;     /* compared by length below */
        }
        else if (pl != sl || memcmp(pat, path, pl) != 0) {
            return 0;
        }
        pat += pl;
        path += sl;
    }
}

static void check(apr_pool_t *p, const fuzz_route *t, size_t n, int method,
                  const char *path)
{
    shop_route_match m, want, cand;
    shop_route_result r;
    size_t i;

    memset(&m, 0x5a, sizeof(m));
    r = shop_route_find(p, t, n, sizeof(*t), method, path, &m);

    memset(&want, 0, sizeof(want));
    want.index = -1;
    for (i = 0; i < n; i++) {
        if (!ref_match(t[i].route.pattern, path, &cand)) {
            continue;
        }
        want.allowed |= t[i].route.method;
        if (want.index < 0 && t[i].route.method == method) {
            int k;
            want.index = (int)i;
            want.nparams = cand.nparams;
            for (k = 0; k < cand.nparams; k++) {
                want.params[k] = cand.params[k];
            }
        }
    }

    FUZZ_CHECK(m.allowed == want.allowed);
    FUZZ_CHECK(m.index == want.index);
    if (want.index >= 0) {
        int k;

        FUZZ_CHECK(r == SHOP_ROUTE_MATCHED);
        FUZZ_CHECK(t[m.index].route.method == method);
        FUZZ_CHECK(m.nparams == want.nparams);
        for (k = 0; k < m.nparams; k++) {
            size_t len = strcspn(want.params[k], "/");

            FUZZ_CHECK(m.params[k] != NULL);
            FUZZ_CHECK(strlen(m.params[k]) == len && len > 0);
            FUZZ_CHECK(memcmp(m.params[k], want.params[k], len) == 0);
        }
    }
    else {
        FUZZ_CHECK(r == (want.allowed ? SHOP_ROUTE_NO_METHOD : SHOP_ROUTE_NO_PATH));
    }
    {
        const char *allow = shop_route_allow_header(p, m.allowed);

        FUZZ_CHECK(allow != NULL);
        FUZZ_CHECK((strstr(allow, "GET, HEAD") != NULL) == !!(m.allowed & GET));
        FUZZ_CHECK((strstr(allow, "POST") != NULL) == !!(m.allowed & POST));
        FUZZ_CHECK((strstr(allow, "PATCH") != NULL) == !!(m.allowed & PATCH));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    uint8_t sel = fuzz_take_u8(&data, &size);
    int method = sel & 0x0f;
    const char *path = fuzz_cstr(p, data, size);

    if (sel & 0x10) {
        check(p, admin_routes, COUNT(admin_routes), method, path);
    }
    else {
        check(p, api_routes, COUNT(api_routes), method, path);
    }
    apr_pool_destroy(p);
    return 0;
}
