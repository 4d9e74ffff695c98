/*
 * The read cache's table: a body is served for its id while its version
 * holds and its TTL has not run out; a write of the id (or of everything)
 * stops it; a fill taken before such a write is never served after it; a
 * busy entry only misses while its filler lives, and one whose filler died
 * mid-copy is reclaimed; ids sharing a slot never answer for each other.
 */
#include "unit.h"

#include <sys/mman.h>

#include "shop_cache.h"

#define SEC apr_time_from_sec(1)
#define T0 apr_time_from_sec(1800000000)

static char out[SHOP_CACHE_BODY_MAX + 1];

static shop_cache_table *new_table(apr_pool_t *p)
{
    return apr_pcalloc(p, sizeof(shop_cache_table));
}

static int get(const shop_cache_table *t, apr_int64_t id, apr_time_t now)
{
    return shop_cache_get(t, id, now, SEC, out, sizeof(out));
}

static void test_fill_then_hit_until_the_ttl(void **state)
{
    shop_cache_table *t = new_table(UNIT_POOL(state));
    apr_uint64_t v = shop_cache_version(t, 42);

    assert_int_equal(get(t, 42, T0), -1);
    shop_cache_put(t, 42, v, T0, "{\"balance\":7}", 13);
    assert_int_equal(get(t, 42, T0 + SEC / 2), 13);
    assert_string_equal(out, "{\"balance\":7}");
    assert_int_equal(get(t, 42, T0 + SEC), -1);
    assert_int_equal(get(t, 42, T0 - 1), -1);      /* clock went back: miss */
}

static void test_a_write_stops_the_entry(void **state)
{
    shop_cache_table *t = new_table(UNIT_POOL(state));

    shop_cache_put(t, 5, shop_cache_version(t, 5), T0, "a", 1);
    shop_cache_forget(t, 5);
    assert_int_equal(get(t, 5, T0), -1);
    shop_cache_put(t, 5, shop_cache_version(t, 5), T0, "b", 1);
    assert_int_equal(get(t, 5, T0), 1);
    assert_string_equal(out, "b");
    shop_cache_forget_all(t);
    assert_int_equal(get(t, 5, T0), -1);
}

/* A read that took its version before a write, and filed its (old) body
 * after the write's forget, must not be served. */
static void test_fill_racing_a_write_is_never_served(void **state)
{
    shop_cache_table *t = new_table(UNIT_POOL(state));
    apr_uint64_t before_write = shop_cache_version(t, 9);

    shop_cache_forget(t, 9);
    shop_cache_put(t, 9, before_write, T0, "old", 3);
    assert_int_equal(get(t, 9, T0), -1);

    before_write = shop_cache_version(t, 9);
    shop_cache_forget_all(t);
    shop_cache_put(t, 9, before_write, T0, "old", 3);
    assert_int_equal(get(t, 9, T0), -1);
}

static void test_ids_sharing_a_slot(void **state)
{
    shop_cache_table *t = new_table(UNIT_POOL(state));
    apr_int64_t a = 3, b = 3 + SHOP_CACHE_SLOTS;

    shop_cache_put(t, a, shop_cache_version(t, a), T0, "A", 1);
    assert_int_equal(get(t, b, T0), -1);
    shop_cache_put(t, b, shop_cache_version(t, b), T0, "B", 1);
    assert_int_equal(get(t, a, T0), -1);
    assert_int_equal(get(t, b, T0), 1);
    assert_string_equal(out, "B");
}

/* A filler at work (here: this very process, alive) keeps its entry: reads
 * miss and other fills skip it. */
static void test_busy_entry_misses_and_is_not_filled(void **state)
{
    shop_cache_table *t = new_table(UNIT_POOL(state));
    shop_cache_entry *e = &t->entries[11];

    shop_cache_put(t, 11, shop_cache_version(t, 11), T0, "x", 1);
    e->state = SHOP_CACHE_STATE(getpid(), SHOP_CACHE_SEQ(e->state) + 1u);
    assert_int_equal(get(t, 11, T0), -1);
    shop_cache_put(t, 11, shop_cache_version(t, 11), T0, "y", 1);
    assert_int_equal(get(t, 11, T0), -1);
    assert_int_equal(SHOP_CACHE_SEQ(e->state) & 1u, 1);
    assert_int_equal(SHOP_CACHE_UPPER(e->state), (apr_uint32_t)getpid());
}

/* Issue 26.4: a filler killed between taking its entry and sealing it (a
 * forked process that _exits in the test seam).  Before the fix its entry
 * stayed odd until the next restart: that id was never cached again.  Now
 * its pid is in the entry, and the next filler, finding that process
 * gone, resets the entry and fills it. */
static void die_filling(const shop_cache_entry *e)
{
    (void)e;
    _exit(0);
}

static void test_dead_fillers_entry_is_reclaimed(void **state)
{
    shop_cache_table *t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
                               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    shop_cache_entry *e = &t->entries[5];
    apr_uint32_t seq;
    pid_t pid;
    int status = 0;

    (void)state;
    assert_true(t != MAP_FAILED);
    shop_cache_put(t, 5, shop_cache_version(t, 5), T0, "old", 3);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        shop_cache_filler_hook = die_filling;
        shop_cache_put(t, 5, shop_cache_version(t, 5), T0, "dead", 4);
        _exit(3);                       /* not reached: the hook exits */
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    seq = SHOP_CACHE_SEQ(e->state);
    assert_int_equal(seq & 1u, 1);      /* left mid-fill, naming its filler */
    assert_int_equal(SHOP_CACHE_UPPER(e->state), (apr_uint32_t)pid);
    assert_int_equal(get(t, 5, T0), -1);

    shop_cache_put(t, 5, shop_cache_version(t, 5), T0, "new", 3);
    assert_int_equal(get(t, 5, T0), 3);
    assert_string_equal(out, "new");
    assert_true(SHOP_CACHE_SEQ(e->state) > seq);    /* the counter only grows */
    assert_int_equal(SHOP_CACHE_SEQ(e->state) & 1u, 0);
    munmap(t, sizeof(*t));
}

static void test_oversized_bodies_are_not_cached(void **state)
{
    shop_cache_table *t = new_table(UNIT_POOL(state));
    char big[SHOP_CACHE_BODY_MAX + 1];
    char small_out[4];

    memset(big, 'x', sizeof(big));
    shop_cache_put(t, 1, shop_cache_version(t, 1), T0, big, sizeof(big));
    assert_int_equal(get(t, 1, T0), -1);
    shop_cache_put(t, 1, shop_cache_version(t, 1), T0, big, SHOP_CACHE_BODY_MAX);
    assert_int_equal(get(t, 1, T0), SHOP_CACHE_BODY_MAX);
    /* a caller's buffer too small for the body: a miss, not an overflow */
    assert_int_equal(shop_cache_get(t, 1, T0, SEC, small_out, sizeof(small_out)), -1);
    shop_cache_put(t, 2, shop_cache_version(t, 2), T0, "", 0);
    assert_int_equal(get(t, 2, T0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_fill_then_hit_until_the_ttl),
        UNIT_TEST(test_a_write_stops_the_entry),
        UNIT_TEST(test_fill_racing_a_write_is_never_served),
        UNIT_TEST(test_ids_sharing_a_slot),
        UNIT_TEST(test_busy_entry_misses_and_is_not_filled),
        UNIT_TEST(test_dead_fillers_entry_is_reclaimed),
        UNIT_TEST(test_oversized_bodies_are_not_cached),
    };
    return UNIT_RUN("cache", tests);
}
