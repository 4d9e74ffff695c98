/*
 * The popular ranking: rendering and the seqlock around its shared copy.
 */
#include <string.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <jansson.h>

#include "shop_popular.h"
#include "shop_json.h"

static json_t *window_days(apr_interval_time_t window)
{
    apr_interval_time_t day = apr_time_from_sec(86400);

    if (window % day == 0) {
        return json_integer((json_int_t)(window / day));
    }
    return json_real((double)window / (double)day);
}

const char *shop_popular_render(apr_pool_t *p, apr_interval_time_t window,
                                apr_time_t generated_at,
                                const shop_popular_item *items, int count)
{
    json_t *list = json_array();
    json_t *doc;
    int i;

    for (i = 0; i < count; i++) {
        json_array_append_new(list, json_pack("{s:i, s:I, s:s, s:I, s:I, s:I}",
            "rank", i + 1,
            "product_id", (json_int_t)items[i].product_id,
            "name", items[i].name,
            "price", (json_int_t)items[i].price,
            "stock", (json_int_t)items[i].stock,
            "sold_quantity", (json_int_t)items[i].sold));
    }
    doc = json_pack("{s:o, s:s, s:o}", "window_days", window_days(window),
                    "generated_at", shop_rfc3339(p, generated_at), "items", list);
    return shop_json_dump(p, shop_json_own(p, doc));
}

const char *shop_popular_render_empty(apr_pool_t *p, apr_interval_time_t window)
{
    json_t *doc = json_pack("{s:o, s:n, s:[]}", "window_days", window_days(window),
                            "generated_at", "items");

    return shop_json_dump(p, shop_json_own(p, doc));
}

/*
 * Becomes the only writer: CAS from an even count to the next odd one.
 * An odd count is a writer at work (the old and the new jobs process
 * overlap for a moment on a restart), so wait for it; one that stays odd
 * for WRITER_WAIT belongs to a writer that died between its two stores,
 * and is taken over with a new odd value.  Returns the odd value owned.
 */
#define WRITER_WAIT apr_time_from_msec(200)

static apr_uint32_t writer_enter(shop_popular_block *b)
{
    apr_uint32_t seen = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
    apr_time_t stuck_since = 0;

    for (;;) {
        apr_uint32_t want = (seen & 1u) ? seen + 2u : seen + 1u;
        if (seen & 1u) {
            apr_time_t now = apr_time_now();
            if (stuck_since == 0) {
                stuck_since = now;
            }
            if (now - stuck_since < WRITER_WAIT) {
                apr_sleep(apr_time_from_msec(1));
                apr_uint32_t again = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
                if (again != seen) {
                    stuck_since = 0;
                }
                seen = again;
                continue;
            }
        }
        if (__atomic_compare_exchange_n(&b->seq, &seen, want, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            return want;
        }
        stuck_since = 0;        /* another writer got there first */
    }
}

int shop_popular_publish(shop_popular_block *b, const char *body,
                         apr_size_t len, apr_time_t generated_at)
{
    apr_uint32_t odd;

    if (len > SHOP_POPULAR_BODY_MAX) {
        return 0;
    }
    odd = writer_enter(b);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy(b->body, body, len);
    b->len = (apr_uint32_t)len;
    b->generated_at = generated_at;
    /* odd + 1 is even and newer than any even value a reader saw before,
     * so every overlapping copy fails its check. */
    __atomic_store_n(&b->seq, odd + 1u, __ATOMIC_RELEASE);
    return 1;
}

/* The odd counter value a reader of this process last gave up on, and the
 * block it was in: later reads of the same block at the same odd value
 * give up at once.  Two relaxed atomics, not one: a mismatched pair only
 * costs a reader its budget, or makes it return NULL, which is allowed. */
static const shop_popular_block *stuck_block;
static apr_uint32_t stuck_seq;

static int known_stuck(const shop_popular_block *b, apr_uint32_t seq)
{
    return __atomic_load_n(&stuck_block, __ATOMIC_RELAXED) == b
           && __atomic_load_n(&stuck_seq, __ATOMIC_RELAXED) == seq;
}

static void remember_stuck(const shop_popular_block *b, apr_uint32_t seq)
{
    __atomic_store_n(&stuck_seq, seq, __ATOMIC_RELAXED);
    __atomic_store_n(&stuck_block, b, __ATOMIC_RELAXED);
}

const char *shop_popular_read_bounded(apr_pool_t *p, const shop_popular_block *b,
                                      apr_size_t *len, apr_time_t *generated_at,
                                      int tries, apr_interval_time_t budget)
{
    char *copy = NULL;
    apr_size_t cap = 0;
    apr_time_t deadline = 0;
    apr_uint32_t before = 0;
    int i;

    for (i = 0; i < tries; i++) {
        apr_size_t n;

        before = __atomic_load_n(&b->seq, __ATOMIC_ACQUIRE);
        if (before & 1) {
            if (known_stuck(b, before)) {
                return NULL;
            }
            /* The clock starts at the first odd counter: an uncontended
             * read never calls apr_time_now(). */
            if (deadline == 0) {
                deadline = apr_time_now() + budget;
            }
            else if (apr_time_now() >= deadline) {
                break;
            }
            apr_thread_yield();     /* the writer may be preempted */
            continue;
        }
        n = b->len;
        if (n == 0 || n > SHOP_POPULAR_BODY_MAX) {
            return NULL;
        }
        if (n + 1 > cap) {
            cap = n + 1;
            copy = apr_palloc(p, cap);
        }
        memcpy(copy, b->body, n);
        *generated_at = b->generated_at;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&b->seq, __ATOMIC_RELAXED) == before) {
            copy[n] = '\0';
            *len = n;
            return copy;
        }
        if (deadline == 0) {
            deadline = apr_time_now() + budget;
        }
        else if (apr_time_now() >= deadline) {
            break;
        }
    }
    if (before & 1) {
        remember_stuck(b, before);
    }
    return NULL;
}

const char *shop_popular_read(apr_pool_t *p, const shop_popular_block *b,
                              apr_size_t *len, apr_time_t *generated_at)
{
    return shop_popular_read_bounded(p, b, len, generated_at,
                                     SHOP_POPULAR_READ_TRIES,
                                     SHOP_POPULAR_READ_BUDGET);
}

void shop_popular_recover(shop_popular_block *b)
{
    if ((b->seq & 1) || b->len > SHOP_POPULAR_BODY_MAX) {
        memset(b, 0, sizeof(*b));
    }
}
