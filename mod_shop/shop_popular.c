/*
 * The popular ranking: rendering, and its double-buffered shared copy.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <jansson.h>

#include "shop_etag.h"
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

void (*shop_popular_writer_hook)(shop_popular_step step,
                                 const shop_popular_block *b);

static void step(shop_popular_step at, const shop_popular_block *b)
{
    if (shop_popular_writer_hook != NULL) {
        shop_popular_writer_hook(at, b);
    }
}

apr_uint64_t shop_popular_sum(apr_uint32_t len, apr_time_t generated_at,
                              const char *body)
{
    apr_uint64_t head[2];

    head[0] = len;
    head[1] = (apr_uint64_t)generated_at;
    return shop_fnv1a64(shop_fnv1a64(SHOP_FNV1A64_INIT, head, sizeof(head)), body, len);
}

/* --- Ownership ------------------------------------------------------------ */

/* Publishes in flight in this process (any block): an owner word naming
 * this very pid is a leftover (a restored block, a reused pid) only when
 * none is. */
static apr_uint32_t writing_here;
static apr_uint32_t next_token;

/* The writer's process is gone: only then is its block taken over.  A pid
 * that cannot be a process (0, negative as a pid_t) names nobody. */
static int owner_gone(apr_uint64_t owner)
{
    pid_t pid = (pid_t)(apr_uint32_t)owner;

    if (pid <= 0) {
        return 1;
    }
    if (pid == getpid()) {
        return __atomic_load_n(&writing_here, __ATOMIC_ACQUIRE) == 1;
    }
    return kill(pid, 0) == -1 && errno == ESRCH;
}

/* Takes the owner word: the value owned, or 0 if a live writer holds it. */
static apr_uint64_t writer_enter(shop_popular_block *b)
{
    apr_uint64_t token = __atomic_add_fetch(&next_token, 1, __ATOMIC_RELAXED) | 1u;
    apr_uint64_t me = ((apr_uint64_t)token << 32) | (apr_uint32_t)getpid();
    apr_uint64_t seen = __atomic_load_n(&b->owner, __ATOMIC_ACQUIRE);

    __atomic_add_fetch(&writing_here, 1, __ATOMIC_ACQ_REL);
    while (seen == 0 || owner_gone(seen)) {
        if (__atomic_compare_exchange_n(&b->owner, &seen, me, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            return me;
        }
    }
    __atomic_sub_fetch(&writing_here, 1, __ATOMIC_ACQ_REL);
    return 0;
}

static void writer_leave(shop_popular_block *b, apr_uint64_t me)
{
    /* Fails only if this process was taken for gone (a reused pid): then
     * the word is another writer's, and stays. */
    __atomic_compare_exchange_n(&b->owner, &me, 0, 0,
                                __ATOMIC_RELEASE, __ATOMIC_RELAXED);
    __atomic_sub_fetch(&writing_here, 1, __ATOMIC_ACQ_REL);
}

/* --- Writer ------------------------------------------------------------------ */

int shop_popular_publish(shop_popular_block *b, const char *body,
                         apr_size_t len, apr_time_t generated_at)
{
    apr_uint64_t me, n;
    shop_popular_buffer *idle;
    apr_uint32_t seq;

    if (len > SHOP_POPULAR_BODY_MAX) {
        return SHOP_POPULAR_TOO_LARGE;
    }
    if ((me = writer_enter(b)) == 0) {
        return SHOP_POPULAR_BUSY;
    }
    step(SHOP_POPULAR_STEP_OWNED, b);
    /* Only the owner writes `published` and the buffers: what it reads
     * here is what the last writer (alive or dead) left. */
    n = __atomic_load_n(&b->published, __ATOMIC_ACQUIRE);
    idle = &b->buf[(n + 1) & 1];
    seq = __atomic_load_n(&idle->seq, __ATOMIC_RELAXED);
    seq += (seq & 1u) ? 2u : 1u;        /* odd, above a dead writer's odd */
    __atomic_store_n(&idle->seq, seq, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    step(SHOP_POPULAR_STEP_MARKED, b);
    memcpy(idle->body, body, len / 2);
    step(SHOP_POPULAR_STEP_HALF_COPIED, b);
    memcpy(idle->body + len / 2, body + len / 2, len - len / 2);
    __atomic_store_n(&idle->len, (apr_uint32_t)len, __ATOMIC_RELAXED);
    __atomic_store_n(&idle->generated_at, generated_at, __ATOMIC_RELAXED);
    step(SHOP_POPULAR_STEP_COPIED, b);
    __atomic_store_n(&idle->sum, shop_popular_sum((apr_uint32_t)len, generated_at, body),
                     __ATOMIC_RELAXED);
    step(SHOP_POPULAR_STEP_SUMMED, b);
    __atomic_store_n(&idle->seq, seq + 1u, __ATOMIC_RELEASE);
    step(SHOP_POPULAR_STEP_SEALED, b);
    __atomic_store_n(&b->published, n + 1u, __ATOMIC_RELEASE);
    step(SHOP_POPULAR_STEP_FLIPPED, b);
    writer_leave(b, me);
    return SHOP_POPULAR_PUBLISHED;
}

/* --- Readers --------------------------------------------------------------- */

/*
 * Whether this process already checked the sum of a publication: a few
 * words, each one hash of (block, publication, buffer counter, stored sum)
 * with its low bit the verdict.  Within a process a block's memory only
 * changes through writers, which move the counters; memory replaced under
 * the same address (a restore) goes through shop_popular_recover, which
 * forgets the block's memo.  One word per check, so threads racing on a slot
 * only ever lose a memo (and check again), never mix two.
 */
#define MEMO_SLOTS 16
static apr_uint64_t memo[MEMO_SLOTS];

static apr_uint64_t memo_key(const shop_popular_block *b, apr_uint64_t n, apr_uint32_t seq,
                             apr_uint64_t sum)
{
    apr_uint64_t k = (apr_uint64_t)(apr_uintptr_t)b ^ (n * 0x9E3779B97F4A7C15ULL)
                     ^ ((apr_uint64_t)seq << 17) ^ sum;

    k ^= k >> 29;
    k *= 0xBF58476D1CE4E5B9ULL;
    k ^= k >> 32;
    return k & ~(apr_uint64_t)1;
}

static apr_uint64_t *memo_slot(const shop_popular_block *b)
{
    return &memo[((apr_uintptr_t)b >> 6) % MEMO_SLOTS];
}

/* 1: verified, 0: failed, -1: not known. */
static int memo_get(const shop_popular_block *b, apr_uint64_t key)
{
    apr_uint64_t v = __atomic_load_n(memo_slot(b), __ATOMIC_RELAXED);

    return (v & ~(apr_uint64_t)1) == key ? (int)(v & 1) : -1;
}

static void memo_put(const shop_popular_block *b, apr_uint64_t key, int ok)
{
    __atomic_store_n(memo_slot(b), key | (ok ? 1u : 0u), __ATOMIC_RELAXED);
}

/*
 * The served buffer, checked: copies its body into p (when p is not NULL,
 * else checks it in place) and returns it (or the shared body when p is
 * NULL), with *len and *at; NULL when there is nothing to serve.
 */
static const char *take(apr_pool_t *p, const shop_popular_block *b,
                        apr_size_t *len, apr_time_t *at, int tries,
                        apr_interval_time_t budget, int use_memo)
{
    apr_time_t deadline = 0;
    char *copy = NULL;
    apr_size_t cap = 0;
    int i;

    for (i = 0; i < tries; i++) {
        apr_uint64_t n = __atomic_load_n(&b->published, __ATOMIC_ACQUIRE);
        const shop_popular_buffer *buf = &b->buf[n & 1];
        apr_uint32_t seq = __atomic_load_n(&buf->seq, __ATOMIC_ACQUIRE);
        apr_uint32_t size = __atomic_load_n(&buf->len, __ATOMIC_RELAXED);
        apr_time_t when = __atomic_load_n(&buf->generated_at, __ATOMIC_RELAXED);
        apr_uint64_t sum = __atomic_load_n(&buf->sum, __ATOMIC_RELAXED);
        apr_uint64_t key = memo_key(b, n, seq, sum);
        int known = use_memo ? memo_get(b, key) : -1;
        const char *body = buf->body;
        int ok;

        if (!(seq & 1u) && size <= SHOP_POPULAR_BODY_MAX && known != 0) {
            if (p != NULL && size + 1 > cap) {
                cap = size + 1;
                copy = apr_palloc(p, cap);
            }
            if (p != NULL) {
                memcpy(copy, buf->body, size);
                body = copy;
            }
            ok = known == 1 || shop_popular_sum(size, when, body) == sum;
        }
        else {
            ok = 0;
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&buf->seq, __ATOMIC_RELAXED) == seq
            && __atomic_load_n(&b->published, __ATOMIC_RELAXED) == n) {
            /* A stable view: what it holds is what the block holds. */
            if (use_memo && known == -1 && !(seq & 1u)) {
                memo_put(b, key, ok);
            }
            if (!ok || size == 0) {
                return NULL;    /* never sealed, torn, or the empty ranking */
            }
            if (p != NULL) {
                copy[size] = '\0';
            }
            *len = size;
            *at = when;
            return body;
        }
        /* Writers lapped this copy: the buffer was rewritten under it. */
        if (deadline == 0) {
            deadline = apr_time_now() + budget;
        }
        else if (apr_time_now() >= deadline) {
            break;
        }
        apr_thread_yield();
    }
    return NULL;
}

const char *shop_popular_read_bounded(apr_pool_t *p, const shop_popular_block *b,
                                      apr_size_t *len, apr_time_t *generated_at,
                                      int tries, apr_interval_time_t budget)
{
    return take(p, b, len, generated_at, tries, budget, 1);
}

const char *shop_popular_read(apr_pool_t *p, const shop_popular_block *b,
                              apr_size_t *len, apr_time_t *generated_at)
{
    return take(p, b, len, generated_at, SHOP_POPULAR_READ_TRIES,
                SHOP_POPULAR_READ_BUDGET, 1);
}

apr_time_t shop_popular_published_at(const shop_popular_block *b)
{
    apr_size_t len = 0;
    apr_time_t at = 0;

    return take(NULL, b, &len, &at, SHOP_POPULAR_READ_TRIES,
                SHOP_POPULAR_READ_BUDGET, 1) ? at : 0;
}

void shop_popular_recover(shop_popular_block *b)
{
    apr_uint64_t n = __atomic_load_n(&b->published, __ATOMIC_ACQUIRE);
    const shop_popular_buffer *buf = &b->buf[n & 1];
    apr_size_t len = 0;
    apr_time_t at = 0;

    /* Checked afresh, and this process's memo of the block forgotten: this
     * may be other memory (another generation's, a restored copy) at the
     * same address. */
    __atomic_store_n(memo_slot(b), 0, __ATOMIC_RELAXED);
    if (take(NULL, b, &len, &at, SHOP_POPULAR_READ_TRIES, 0, 0) != NULL
        || (!(__atomic_load_n(&buf->seq, __ATOMIC_ACQUIRE) & 1u) && buf->len == 0)) {
        return;                 /* a verified ranking, or nothing to serve */
    }
    /* Torn or garbage.  If a live writer owns the block (an older
     * generation publishing into this very segment) this is BUSY and
     * changes nothing: its flip leaves a verified block, and until then
     * readers check the sum and serve nothing. */
    (void)shop_popular_publish(b, "", 0, 0);
}

apr_int64_t shop_popular_max_age(apr_time_t generated_at, apr_interval_time_t refresh,
                                 apr_time_t now)
{
    apr_time_t left = generated_at + refresh - now;

    if (generated_at == 0 || left <= 0) {
        return 0;
    }
    return (apr_int64_t)apr_time_sec(left);
}
