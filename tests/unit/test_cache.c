/*
 * A read cache's table: a body is served for its key while its version
 * holds and it is younger than max_age; a write of the key, of its kind or
 * of everything stops it; a fill taken before such a write is never served
 * after it; past 3/4 of max_age one reader refreshes while the others are
 * served; a full set evicts the entry filled longest ago, and keys sharing
 * a set never answer for each other; a busy entry only misses while its
 * filler lives, and one whose filler died mid-copy is reclaimed; the
 * entries due a refresh are those of the kind served since their fill and
 * filled before the time asked.
 */
#include "unit.h"

#include <sys/mman.h>

#include "shop_cache.h"

#define SEC apr_time_from_sec(1)
#define T0 apr_time_from_sec(1800000000)
#define BODY_MAX 100
#define BYTES (64 * 1024)
#define PRODUCT(id) SHOP_CACHE_KEY(1, id)
#define COUPON(id) SHOP_CACHE_KEY(2, id)

static char out[BODY_MAX + 1];

static shop_cache *new_table(apr_pool_t *p, apr_size_t bytes)
{
    shop_cache *c = shop_cache_init(apr_pcalloc(p, bytes), bytes, BODY_MAX);

    assert_non_null(c);
    return c;
}

static int get(shop_cache *c, apr_uint64_t key, apr_time_t now)
{
    return shop_cache_get(c, key, now, SEC, out, sizeof(out));
}

static void put(shop_cache *c, apr_uint64_t key, const char *body)
{
    shop_cache_put(c, key, shop_cache_version(c, key), T0, body, strlen(body));
}

static void test_fill_then_hit_until_max_age(void **state)
{
    shop_cache *c = new_table(UNIT_POOL(state), BYTES);

    assert_int_equal(get(c, PRODUCT(42), T0), -1);
    put(c, PRODUCT(42), "{\"stock\":7}");
    assert_int_equal(get(c, PRODUCT(42), T0 + SEC / 2), 11);
    assert_string_equal(out, "{\"stock\":7}");
    assert_int_equal(get(c, PRODUCT(42), T0 + SEC), -1);
    assert_int_equal(get(c, PRODUCT(42), T0 - 1), -1);      /* clock went back */
    assert_int_equal(get(c, COUPON(42), T0), -1);           /* another kind, same id */
}

static void test_writes_stop_the_entry(void **state)
{
    shop_cache *c = new_table(UNIT_POOL(state), BYTES);

    put(c, PRODUCT(5), "a");
    put(c, COUPON(5), "c");
    shop_cache_forget(c, PRODUCT(5));
    assert_int_equal(get(c, PRODUCT(5), T0), -1);
    assert_int_equal(get(c, COUPON(5), T0), 1);
    put(c, PRODUCT(5), "b");
    assert_int_equal(get(c, PRODUCT(5), T0), 1);
    assert_string_equal(out, "b");

    shop_cache_forget_kind(c, 1);                           /* every product */
    assert_int_equal(get(c, PRODUCT(5), T0), -1);
    assert_int_equal(get(c, COUPON(5), T0), 1);
    put(c, PRODUCT(5), "b");
    shop_cache_forget_all(c);
    assert_int_equal(get(c, PRODUCT(5), T0), -1);
    assert_int_equal(get(c, COUPON(5), T0), -1);
}

/* A read that took its version before a write, and filed its (old) body
 * after the write's forget, must not be served. */
static void test_fill_racing_a_write_is_never_served(void **state)
{
    shop_cache *c = new_table(UNIT_POOL(state), BYTES);
    apr_uint64_t before_write = shop_cache_version(c, PRODUCT(9));

    shop_cache_forget(c, PRODUCT(9));
    shop_cache_put(c, PRODUCT(9), before_write, T0, "old", 3);
    assert_int_equal(get(c, PRODUCT(9), T0), -1);

    before_write = shop_cache_version(c, PRODUCT(9));
    shop_cache_forget_kind(c, 1);
    shop_cache_put(c, PRODUCT(9), before_write, T0, "old", 3);
    assert_int_equal(get(c, PRODUCT(9), T0), -1);
}

/* Past 3/4 of max_age the first reader misses (it refreshes), the others
 * are still served; a new fill starts the entry's age again.  A claim
 * whose refresh never came is taken over an eighth of max_age later. */
static void test_refresh_ahead(void **state)
{
    shop_cache *c = new_table(UNIT_POOL(state), BYTES);
    apr_time_t late = T0 + SEC * 8 / 10;

    put(c, PRODUCT(3), "v1");
    assert_int_equal(get(c, PRODUCT(3), late), -1);         /* the refresher */
    assert_int_equal(get(c, PRODUCT(3), late), 2);          /* everyone else */
    assert_int_equal(get(c, PRODUCT(3), late + SEC / 20), 2);
    assert_int_equal(get(c, PRODUCT(3), late + SEC / 8), -1);   /* taken over */
    assert_int_equal(get(c, PRODUCT(3), late + SEC / 8), 2);
    shop_cache_put(c, PRODUCT(3), shop_cache_version(c, PRODUCT(3)), late, "v2", 2);
    assert_int_equal(get(c, PRODUCT(3), late + SEC / 2), 2);
    assert_string_equal(out, "v2");
}

/* A table of one set: a fifth key evicts the entry filled longest ago;
 * the others still answer with their own bodies. */
static void test_full_set_evicts_the_oldest(void **state)
{
    apr_size_t bytes = 1100;                    /* room for one set only */
    shop_cache *c = new_table(UNIT_POOL(state), bytes);
    shop_cache_stats st;
    int i;

    shop_cache_stats_get(c, &st);
    assert_int_equal(st.capacity, SHOP_CACHE_WAYS);
    for (i = 1; i <= SHOP_CACHE_WAYS; i++) {
        shop_cache_put(c, PRODUCT(i), shop_cache_version(c, PRODUCT(i)), T0 + i,
                       apr_itoa(UNIT_POOL(state), i), 1);
    }
    shop_cache_put(c, PRODUCT(9), shop_cache_version(c, PRODUCT(9)), T0 + 9, "9", 1);
    assert_int_equal(get(c, PRODUCT(1), T0 + 10), -1);      /* the oldest went */
    for (i = 2; i <= SHOP_CACHE_WAYS; i++) {
        assert_int_equal(get(c, PRODUCT(i), T0 + 10), 1);
        assert_int_equal(out[0], '0' + i);
    }
    assert_int_equal(get(c, PRODUCT(9), T0 + 10), 1);
    assert_string_equal(out, "9");
    shop_cache_stats_get(c, &st);
    assert_int_equal(st.evictions, 1);
    assert_int_equal(st.entries, SHOP_CACHE_WAYS);
    assert_int_equal(st.fills, SHOP_CACHE_WAYS + 1);
    assert_int_equal(st.hits, SHOP_CACHE_WAYS);
    assert_int_equal(st.misses, 1);
}

/* A filler at work (here: this very process, alive) keeps its entry: reads
 * miss and other fills skip it. */
static void test_busy_entry_misses_and_is_not_filled(void **state)
{
    shop_cache *c = new_table(UNIT_POOL(state), 1100);
    shop_cache_entry *e;
    int i;

    put(c, PRODUCT(11), "x");
    for (i = 0, e = NULL; i < SHOP_CACHE_WAYS; i++) {
        if (shop_cache_entry_at(c, (apr_size_t)i)->key == PRODUCT(11)) {
            e = shop_cache_entry_at(c, (apr_size_t)i);
        }
    }
    assert_non_null(e);
    e->state = SHOP_CACHE_STATE(getpid(), SHOP_CACHE_SEQ(e->state) + 1u);
    assert_int_equal(get(c, PRODUCT(11), T0), -1);
    put(c, PRODUCT(11), "y");
    assert_int_equal(get(c, PRODUCT(11), T0), -1);
    assert_int_equal(SHOP_CACHE_SEQ(e->state) & 1u, 1);
    assert_int_equal(SHOP_CACHE_UPPER(e->state), (apr_uint32_t)getpid());
}

/* Issue 26.4: a filler killed between taking its entry and sealing it (a
 * forked process that _exits in the test seam).  Its pid is in the entry,
 * and the next filler, finding that process gone, resets the entry and
 * fills it. */
static void die_filling(const shop_cache_entry *e)
{
    (void)e;
    _exit(0);
}

static void test_dead_fillers_entry_is_reclaimed(void **state)
{
    void *block = mmap(NULL, 1100, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shop_cache *c;
    shop_cache_entry *e;
    apr_uint32_t seq;
    pid_t pid;
    int status = 0;

    (void)state;
    assert_true(block != MAP_FAILED);
    c = shop_cache_init(block, 1100, BODY_MAX);
    put(c, PRODUCT(5), "old");
    e = shop_cache_entry_at(c, 0);
    assert_true(e->key == PRODUCT(5));
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        shop_cache_filler_hook = die_filling;
        put(c, PRODUCT(5), "dead");
        _exit(3);                       /* not reached: the hook exits */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    seq = SHOP_CACHE_SEQ(e->state);
    assert_int_equal(seq & 1u, 1);      /* left mid-fill, naming its filler */
    assert_int_equal(SHOP_CACHE_UPPER(e->state), (apr_uint32_t)pid);
    assert_int_equal(get(c, PRODUCT(5), T0), -1);

    put(c, PRODUCT(5), "new");
    assert_int_equal(get(c, PRODUCT(5), T0), 3);
    assert_string_equal(out, "new");
    assert_true(SHOP_CACHE_SEQ(e->state) > seq);    /* the counter only grows */
    assert_int_equal(SHOP_CACHE_SEQ(e->state) & 1u, 0);
    munmap(block, 1100);
}

static void test_oversized_bodies_are_not_cached(void **state)
{
    shop_cache *c = new_table(UNIT_POOL(state), BYTES);
    char big[BODY_MAX + 1];
    char small_out[4];

    memset(big, 'x', sizeof(big));
    shop_cache_put(c, PRODUCT(1), shop_cache_version(c, PRODUCT(1)), T0, big, sizeof(big));
    assert_int_equal(get(c, PRODUCT(1), T0), -1);
    shop_cache_put(c, PRODUCT(1), shop_cache_version(c, PRODUCT(1)), T0, big, BODY_MAX);
    assert_int_equal(get(c, PRODUCT(1), T0), BODY_MAX);
    /* a caller's buffer too small for the body: a miss, not an overflow */
    assert_int_equal(shop_cache_get(c, PRODUCT(1), T0, SEC, small_out, sizeof(small_out)),
                     -1);
    shop_cache_put(c, PRODUCT(2), shop_cache_version(c, PRODUCT(2)), T0, "", 0);
    assert_int_equal(get(c, PRODUCT(2), T0), -1);
}

/* The layout fits the block it is given, and refuses one too small; laid
 * out again in the same block (a restart), it serves none of its entries. */
static void test_layout_fits_its_block(void **state)
{
    shop_cache *c = new_table(UNIT_POOL(state), BYTES);
    shop_cache_stats st;
    apr_size_t last;

    put(c, PRODUCT(8), "kept");
    assert_int_equal(get(c, PRODUCT(8), T0), 4);
    assert_ptr_equal(shop_cache_init(c, BYTES, BODY_MAX), c);
    assert_int_equal(get(c, PRODUCT(8), T0), -1);

    shop_cache_stats_get(c, &st);
    assert_true(st.capacity >= 100 && st.capacity % SHOP_CACHE_WAYS == 0);
    last = st.capacity - 1;
    assert_true((char *)shop_cache_entry_at(c, last) + 128 <= (char *)c + BYTES);
    assert_null(shop_cache_init(apr_pcalloc(UNIT_POOL(state), 256), 256, BODY_MAX));
}

static apr_size_t due(shop_cache *c, unsigned kind, apr_time_t before, apr_uint64_t *keys)
{
    return shop_cache_due(c, kind, before, keys, 8);
}

/* Only entries served since their fill are due, of the kind asked, filled
 * before the time given; a fill (the refresh) clears the mark, a forgotten
 * entry is not served and so not marked again. */
static void test_due_lists_entries_read_since_their_fill(void **state)
{
    shop_cache *c = new_table(UNIT_POOL(state), BYTES);
    apr_uint64_t keys[8];

    put(c, PRODUCT(1), "read");
    put(c, PRODUCT(2), "unread");
    put(c, COUPON(3), "coupon");
    assert_int_equal(due(c, 1, T0 + 1, keys), 0);          /* nothing served yet */
    assert_int_equal(get(c, PRODUCT(1), T0), 4);
    assert_int_equal(get(c, PRODUCT(1), T0), 4);
    assert_int_equal(get(c, COUPON(3), T0), 6);
    assert_int_equal(due(c, 1, T0, keys), 0);              /* filled at T0: not before */
    assert_int_equal(due(c, 1, T0 + 1, keys), 1);
    assert_true(keys[0] == PRODUCT(1));
    assert_int_equal(due(c, 2, T0 + 1, keys), 1);
    assert_true(keys[0] == COUPON(3));
    assert_int_equal(shop_cache_due(c, 1, T0 + 1, keys, 0), 0);   /* max 0 */

    shop_cache_put(c, PRODUCT(1), shop_cache_version(c, PRODUCT(1)), T0 + SEC / 4, "new!", 4);
    assert_int_equal(due(c, 1, T0 + SEC, keys), 0);        /* refreshed, unread since */
    assert_int_equal(get(c, PRODUCT(1), T0 + SEC / 2), 4);
    assert_string_equal(out, "new!");
    assert_int_equal(due(c, 1, T0 + SEC, keys), 1);
    shop_cache_forget(c, PRODUCT(1));
    put(c, PRODUCT(1), "x");
    assert_int_equal(due(c, 1, T0 + SEC, keys), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_fill_then_hit_until_max_age),
        UNIT_TEST(test_writes_stop_the_entry),
        UNIT_TEST(test_fill_racing_a_write_is_never_served),
        UNIT_TEST(test_refresh_ahead),
        UNIT_TEST(test_full_set_evicts_the_oldest),
        UNIT_TEST(test_busy_entry_misses_and_is_not_filled),
        UNIT_TEST(test_dead_fillers_entry_is_reclaimed),
        UNIT_TEST(test_oversized_bodies_are_not_cached),
        UNIT_TEST(test_layout_fits_its_block),
        UNIT_TEST(test_due_lists_entries_read_since_their_fill),
    };
    return UNIT_RUN("cache", tests);
}
