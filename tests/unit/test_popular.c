/*
 * The popular ranking's shared block: rendering, publish and read
 * (including readers racing writers), and issue 26: a writer that stalls
 * is never taken over, one that dies at any step leaves the ranking whole
 * and the block to the next writer, and recovery rejects a torn save
 * without writing under a live writer.
 */
#include "unit.h"

#include <string.h>
#include <stddef.h>
#include <sys/mman.h>
#include <apr_thread_proc.h>

#include "shop_popular.h"

#define DAY apr_time_from_sec(86400)
#define AT_2026_11_24_10_00 apr_time_from_sec(1795514400)

static shop_popular_block *new_block(apr_pool_t *p)
{
    return apr_pcalloc(p, sizeof(shop_popular_block));
}

static void test_render_items_in_order_with_ranks(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_item items[2] = {
        {7, "Latte \"large\"", 5000, 12, 40},
        {3, "\xec\xbb\xa4\xed\x94\xbc", 4500, 0, 40},   /* 커피, UTF-8 */
    };
    const char *body = shop_popular_render(p, 3 * DAY, AT_2026_11_24_10_00, items, 2);

    assert_string_equal(body,
        "{\"window_days\":3,\"generated_at\":\"2026-11-24T10:00:00Z\",\"items\":["
        "{\"rank\":1,\"product_id\":7,\"name\":\"Latte \\\"large\\\"\",\"price\":5000,"
        "\"stock\":12,\"sold_quantity\":40},"
        "{\"rank\":2,\"product_id\":3,\"name\":\"\\uCEE4\\uD53C\",\"price\":4500,"
        "\"stock\":0,\"sold_quantity\":40}]}");
}

static void test_render_fractional_window_and_empty(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);

    assert_string_equal(shop_popular_render(p, DAY / 2, AT_2026_11_24_10_00, NULL, 0),
        "{\"window_days\":0.5,\"generated_at\":\"2026-11-24T10:00:00Z\",\"items\":[]}");
    assert_string_equal(shop_popular_render_empty(p, 3 * DAY),
        "{\"window_days\":3,\"generated_at\":null,\"items\":[]}");
}

static void test_read_before_publish_is_null(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    apr_size_t len = 99;
    apr_time_t at = 99;

    assert_null(shop_popular_read(p, new_block(p), &len, &at));
}

static void test_publish_then_read_copies(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = new_block(p);
    apr_size_t len = 0;
    apr_time_t at = 0;
    const char *got;

    assert_true(shop_popular_publish(b, "{\"a\":1}", 7, 42));
    got = shop_popular_read(p, b, &len, &at);
    assert_string_equal(got, "{\"a\":1}");
    assert_int_equal(len, 7);
    assert_int_equal(at, 42);
    assert_int_equal(b->published, 1);
    assert_int_equal(b->buf[1].seq, 2);
    assert_true(got != b->buf[1].body);         /* a copy, not the shared bytes */
    assert_int_equal(shop_popular_published_at(b), 42);

    assert_true(shop_popular_publish(b, "{}", 2, 43));
    assert_string_equal(shop_popular_read(p, b, &len, &at), "{}");
    assert_int_equal(at, 43);
    assert_int_equal(b->published, 2);
    assert_int_equal(b->owner, 0);              /* let go */
}

static void test_publish_refuses_oversized_body(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = new_block(p);
    apr_size_t len = 0;
    apr_time_t at = 0;

    assert_true(shop_popular_publish(b, "{\"old\":1}", 9, 1));
    assert_false(shop_popular_publish(b, "x", SHOP_POPULAR_BODY_MAX + 1, 2));
    assert_string_equal(shop_popular_read(p, b, &len, &at), "{\"old\":1}");
    assert_int_equal(at, 1);
}

/* A writer alternating two bodies while a reader copies: every copy must
 * be one of the two, whole, with its own generated_at.  A copy may also be
 * NULL (the reader's bounds ran out), never torn.  pace: microseconds the
 * writer sleeps between publishes (0: back to back). */
typedef struct {
    shop_popular_block *b;
    volatile int stop;
    apr_interval_time_t pace;
} race;

static char body_a[4000], body_b[6000];

static void *APR_THREAD_FUNC writer(apr_thread_t *t, void *data)
{
    race *r = data;
    int i;

    for (i = 0; !r->stop; i++) {
        if (i % 2) {
            shop_popular_publish(r->b, body_b, sizeof(body_b) - 1, 2);
        }
        else {
            shop_popular_publish(r->b, body_a, sizeof(body_a) - 1, 1);
        }
        if (r->pace) {
            apr_sleep(r->pace);
        }
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* Returns how many of `reads` reads gave up (NULL).  tries 0: the
 * default bounds (shop_popular_read). */
static int race_writers(apr_pool_t *p, int writers, apr_interval_time_t pace,
                        int reads, int tries, apr_interval_time_t budget)
{
    race r = { new_block(p), 0, pace };
    apr_thread_t *t, *t2 = NULL;
    apr_status_t rv;
    int i, nulls = 0;

    memset(body_a, 'a', sizeof(body_a) - 1);
    memset(body_b, 'b', sizeof(body_b) - 1);
    shop_popular_publish(r.b, body_a, sizeof(body_a) - 1, 1);
    assert_int_equal(apr_thread_create(&t, NULL, writer, &r, p), APR_SUCCESS);
    if (writers > 1) {
        assert_int_equal(apr_thread_create(&t2, NULL, writer, &r, p), APR_SUCCESS);
    }
    for (i = 0; i < reads; i++) {
        apr_pool_t *sub;
        apr_size_t len = 0;
        apr_time_t at = 0;
        const char *got;

        apr_pool_create(&sub, p);
        got = tries ? shop_popular_read_bounded(sub, r.b, &len, &at, tries, budget)
                    : shop_popular_read(sub, r.b, &len, &at);
        if (got == NULL) {
            nulls++;
        }
        else if (at == 1) {
            assert_int_equal(len, sizeof(body_a) - 1);
            assert_memory_equal(got, body_a, len);
        }
        else {
            assert_int_equal(at, 2);
            assert_int_equal(len, sizeof(body_b) - 1);
            assert_memory_equal(got, body_b, len);
        }
        apr_pool_destroy(sub);
    }
    r.stop = 1;
    apr_thread_join(&rv, t);
    if (t2) {
        apr_thread_join(&rv, t2);
    }
    return nulls;
}

static int race_reads(apr_pool_t *p, apr_interval_time_t pace, int reads,
                      int tries, apr_interval_time_t budget)
{
    return race_writers(p, 1, pace, reads, tries, budget);
}

/* Two writers at once (threads of one process here): one of them finds
 * the block owned and gets SHOP_POPULAR_BUSY; every copy stays whole. */
static void test_two_writers_never_tear_a_copy(void **state)
{
    int nulls = race_writers(UNIT_POOL(state), 2, 0, 20000, 0x7fffffff,
                             apr_time_from_sec(10));

    assert_int_equal(nulls, 0);
}

/* Back-to-back writes, readers with bounds large enough to always get
 * through (as the unbounded reader did): 20000 whole copies. */
static void test_reader_never_sees_a_torn_body(void **state)
{
    assert_int_equal(race_reads(UNIT_POOL(state), 0, 20000, 0x7fffffff,
                                apr_time_from_sec(10)), 0);
}

/* Back-to-back writes against the default bounds: a reader only retries
 * when two publishes overlap its copy, so nearly every read gets through,
 * and the ones that do are whole. */
static void test_back_to_back_writer_reads_get_through(void **state)
{
    int nulls = race_reads(UNIT_POOL(state), 0, 20000, 0, 0);

    print_message("back-to-back writer: %d of 20000 reads gave up\n", nulls);
    assert_true(nulls <= 2000);
}

/* --- Writers that stall or die (issue 26) ---------------------------------
 *
 * The block lives in MAP_SHARED memory and writer A is a forked process
 * whose writer hook (the test seam in shop_popular.c) stalls it on a pipe,
 * or _exits, after a chosen step; the test process plays writer B and the
 * readers.  Bodies are distinct letters, so a mixed body is recognised.
 */

#define P_LEN 50000
#define A_LEN 60000
#define B_LEN 70000
#define NO_STEP SHOP_POPULAR__STEPS

static char body_p[P_LEN], body_aa[A_LEN], body_bb[B_LEN];

static shop_popular_block *shared_block(void)
{
    shop_popular_block *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    assert_true(b != MAP_FAILED);
    memset(body_p, 'p', P_LEN);
    memset(body_aa, 'a', A_LEN);
    memset(body_bb, 'b', B_LEN);
    return b;
}

/* Which whole ranking a read returned: 'p', 'a', 'b', 0 for NULL, or 'X'
 * for anything else (a mixed or torn body, or a body with another's time). */
static char which(const char *got, apr_size_t len, apr_time_t at)
{
    if (got == NULL) {
        return 0;
    }
    if (len == P_LEN && at == 1 && memcmp(got, body_p, len) == 0) {
        return 'p';
    }
    if (len == A_LEN && at == 2 && memcmp(got, body_aa, len) == 0) {
        return 'a';
    }
    if (len == B_LEN && at == 3 && memcmp(got, body_bb, len) == 0) {
        return 'b';
    }
    return 'X';
}

static char read_which(apr_pool_t *p, const shop_popular_block *b)
{
    apr_size_t len = 0;
    apr_time_t at = 0;
    const char *got = shop_popular_read(p, b, &len, &at);

    return which(got, len, at);
}

static int stall_step = NO_STEP, die_step = NO_STEP;
static int reached_fd[2], go_fd[2];

static void writer_hook(shop_popular_step at, const shop_popular_block *b)
{
    char c = 'r';

    (void)b;
    if ((int)at == die_step) {
        _exit(0);
    }
    if ((int)at == stall_step) {
        if (write(reached_fd[1], &c, 1) != 1 || read(go_fd[0], &c, 1) != 1) {
            _exit(2);
        }
    }
}

/* Forks writer A publishing body_aa (generated_at 2) with the hook set;
 * returns once it reached stall_step (if any). */
static pid_t fork_writer_a(shop_popular_block *b, int stall, int die)
{
    pid_t pid;
    char c;

    assert_int_equal(pipe(reached_fd), 0);
    assert_int_equal(pipe(go_fd), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        stall_step = stall;
        die_step = die;
        shop_popular_writer_hook = writer_hook;
        _exit(shop_popular_publish(b, body_aa, A_LEN, 2) == SHOP_POPULAR_PUBLISHED
              ? 10 : 11);
    }
    if (stall != NO_STEP) {
        assert_int_equal(read(reached_fd[0], &c, 1), 1);
    }
    return pid;
}

/* Lets a stalled A go on, reaps it; its exit status. */
static int finish_writer_a(pid_t pid)
{
    int status = 0;

    assert_int_equal(write(go_fd[1], "g", 1), 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(reached_fd[0]);
    close(reached_fd[1]);
    close(go_fd[0]);
    close(go_fd[1]);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* A reader thread beside the writers: every read must be one whole
 * ranking, and `published` must never go backwards. */
typedef struct {
    shop_popular_block *b;
    apr_pool_t *p;
    volatile int stop;
    int reads, mixed, backwards;
} watcher;

static void *APR_THREAD_FUNC watch(apr_thread_t *t, void *data)
{
    watcher *w = data;
    apr_uint64_t last = 0;

    while (!w->stop) {
        apr_pool_t *sub;
        apr_uint64_t n = __atomic_load_n(&w->b->published, __ATOMIC_ACQUIRE);

        apr_pool_create(&sub, w->p);
        w->mixed += read_which(sub, w->b) == 'X';
        w->backwards += n < last;
        last = n;
        w->reads++;
        apr_pool_destroy(sub);
    }
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/*
 * Issue 26.1: A stalls half-way through its copy for longer than the old
 * 200 ms takeover.  Before the fix B took the odd counter over, published,
 * and A, finishing last, stored a lower even counter over a body half B's,
 * half A's, which readers accepted.  Now A owns the block (its pid in the
 * owner word) and is alive, so B is refused (BUSY) however long A stalls;
 * readers keep the previous ranking, then A's, then B's, never a mix.
 */
static void test_stalled_writer_is_never_taken_over(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = shared_block();
    watcher w = { b, p, 0, 0, 0, 0 };
    apr_thread_t *t;
    apr_status_t rv;
    pid_t a;

    assert_int_equal(shop_popular_publish(b, body_p, P_LEN, 1), SHOP_POPULAR_PUBLISHED);
    assert_int_equal(apr_thread_create(&t, NULL, watch, &w, p), APR_SUCCESS);
    a = fork_writer_a(b, SHOP_POPULAR_STEP_HALF_COPIED, NO_STEP);

    assert_int_equal(shop_popular_publish(b, body_bb, B_LEN, 3), SHOP_POPULAR_BUSY);
    apr_sleep(apr_time_from_msec(300));         /* past the old takeover */
    assert_int_equal(shop_popular_publish(b, body_bb, B_LEN, 3), SHOP_POPULAR_BUSY);
    assert_int_equal(read_which(p, b), 'p');
    assert_int_equal(shop_popular_published_at(b), 1);
    assert_int_equal(b->published, 1);

    assert_int_equal(finish_writer_a(a), 10);   /* A published */
    assert_int_equal(read_which(p, b), 'a');
    assert_int_equal(b->published, 2);
    assert_int_equal(shop_popular_publish(b, body_bb, B_LEN, 3), SHOP_POPULAR_PUBLISHED);
    assert_int_equal(read_which(p, b), 'b');
    assert_int_equal(b->published, 3);
    assert_int_equal(b->owner, 0);

    w.stop = 1;
    apr_thread_join(&rv, t);
    print_message("watcher: %d reads, %d mixed, %d backwards\n", w.reads, w.mixed,
                  w.backwards);
    assert_int_equal(w.mixed, 0);
    assert_int_equal(w.backwards, 0);
    munmap(b, sizeof(*b));
}

/*
 * A killed at each of its steps (a forked writer that _exits in the seam):
 * readers still get a whole ranking at once (the previous one, or A's once
 * it flipped), and B takes the block over at once because A's process is
 * gone (reaped), not after any wait, with a counter above A's.
 */
static void test_writer_dying_at_any_step_leaves_the_ranking_whole(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    int step;

    for (step = 0; step < SHOP_POPULAR__STEPS; step++) {
        shop_popular_block *b = shared_block();
        char expect = step >= SHOP_POPULAR_STEP_FLIPPED ? 'a' : 'p';
        apr_uint64_t before;
        apr_time_t t0;
        pid_t a;

        assert_int_equal(shop_popular_publish(b, body_p, P_LEN, 1), SHOP_POPULAR_PUBLISHED);
        a = fork_writer_a(b, NO_STEP, step);
        assert_int_equal(finish_writer_a(a), 0);            /* died in the hook */
        assert_int_equal((apr_uint32_t)b->owner, (apr_uint32_t)a);   /* left owned */

        t0 = apr_time_now();
        assert_int_equal(read_which(p, b), expect);
        assert_int_equal(shop_popular_published_at(b), expect == 'a' ? 2 : 1);
        before = b->published;
        assert_int_equal(shop_popular_publish(b, body_bb, B_LEN, 3), SHOP_POPULAR_PUBLISHED);
        assert_true(apr_time_now() - t0 < apr_time_from_msec(100));
        assert_int_equal(b->published, before + 1);
        assert_int_equal(read_which(p, b), 'b');
        assert_int_equal(b->owner, 0);
        assert_int_equal(shop_popular_publish(b, body_p, P_LEN, 1), SHOP_POPULAR_PUBLISHED);
        assert_int_equal(read_which(p, b), 'p');
        munmap(b, sizeof(*b));
    }
}

/*
 * Issue 26.2: A dies after storing its generated_at, before its final
 * store.  Before the fix the counter stayed odd with A's (newer) time in
 * the block: readers served the empty ranking, and the refresh, asking
 * for a snapshot newer than A's time, republished nothing.  Now A's time
 * sits in the idle buffer nobody reads: the served ranking and the time
 * the refresh compares against (shop_popular_published_at) stay P's.
 */
static void test_writer_dying_after_its_time_keeps_the_old_time(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = shared_block();
    pid_t a;

    assert_int_equal(shop_popular_publish(b, body_p, P_LEN, 1), SHOP_POPULAR_PUBLISHED);
    a = fork_writer_a(b, NO_STEP, SHOP_POPULAR_STEP_COPIED);
    assert_int_equal(finish_writer_a(a), 0);
    assert_int_equal(b->buf[0].generated_at, 2);    /* A's time, in the idle buffer */
    assert_int_equal(b->buf[0].seq & 1u, 1);
    assert_int_equal(shop_popular_published_at(b), 1);
    assert_int_equal(read_which(p, b), 'p');
    munmap(b, sizeof(*b));
}

/* A verified block is left as it is, byte for byte (no memset). */
static void test_recover_leaves_a_verified_block_untouched(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = shared_block();
    shop_popular_block *copy = apr_palloc(p, sizeof(*copy));

    shop_popular_recover(b);                    /* never written: stays zero */
    assert_int_equal(b->published, 0);
    assert_int_equal(b->buf[1].seq, 0);
    assert_int_equal(shop_popular_publish(b, body_p, P_LEN, 1), SHOP_POPULAR_PUBLISHED);
    assert_int_equal(shop_popular_publish(b, body_aa, A_LEN, 2), SHOP_POPULAR_PUBLISHED);
    memcpy(copy, b, sizeof(*b));
    shop_popular_recover(b);
    assert_memory_equal(copy, b, sizeof(*b));
    assert_int_equal(read_which(p, b), 'a');
    munmap(b, sizeof(*b));
}

/*
 * Issue 26.3: mod_slotmem_shm saves the block with one sequential copy
 * while the old jobs process may still publish.  The saved image is then
 * the block as it was up to some offset k and as it became after.  Before
 * the fix recovery accepted any even counter and a sane length: with k in
 * the body, readers served half one ranking, half another.  Here the old
 * state holds P and A (served), the new one B, then P over A's buffer
 * (two publishes during the copy); for every k, the recovered image
 * serves one whole ranking or nothing.
 */
static void test_recover_rejects_a_torn_save(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = shared_block();
    shop_popular_block *old = apr_palloc(p, sizeof(*old));
    shop_popular_block *img = apr_palloc(p, sizeof(*img));
    apr_size_t k, body0 = offsetof(shop_popular_block, buf[0].body);
    apr_size_t body1 = offsetof(shop_popular_block, buf[1].body);
    int rejected = 0, served = 0;

    assert_int_equal(shop_popular_publish(b, body_p, P_LEN, 1), SHOP_POPULAR_PUBLISHED);
    assert_int_equal(shop_popular_publish(b, body_aa, A_LEN, 2), SHOP_POPULAR_PUBLISHED);
    memcpy(old, b, sizeof(*b));
    assert_int_equal(shop_popular_publish(b, body_bb, B_LEN, 3), SHOP_POPULAR_PUBLISHED);
    assert_int_equal(shop_popular_publish(b, body_p, P_LEN, 1), SHOP_POPULAR_PUBLISHED);

    for (k = 0; k <= sizeof(*b); k += (k < body0 + 64 || (k > body1 - 64 && k < body1 + 64))
                                        ? 4 : 997) {
        char got;

        memcpy(img, old, k);
        memcpy((char *)img + k, (char *)b + k, sizeof(*b) - k);
        shop_popular_recover(img);
        got = read_which(p, img);
        if (got == 'X') {
            print_message("the save torn at %zu was served\n", k);
        }
        assert_true(got == 0 || got == 'p' || got == 'a' || got == 'b');
        assert_int_equal(shop_popular_published_at(img),
                         got == 0 ? 0 : got == 'p' ? 1 : got == 'a' ? 2 : 3);
        rejected += got == 0;
        served += got != 0;
    }
    print_message("torn saves: %d served whole, %d rejected\n", served, rejected);
    assert_true(rejected > 0 && served > 0);
    munmap(b, sizeof(*b));
}

/*
 * Recovery of a block that fails its checksum while a live writer owns it
 * (an older generation publishing into a segment mod_slotmem_shm reused):
 * before the fix recovery memset the block under that writer, which then
 * finished with an even counter over a body half zeros.  Now recovery
 * writes nothing at all (the writer owns the block), readers serve nothing
 * rather than the torn body, and the writer's flip leaves its ranking.
 */
static void test_recover_never_writes_under_a_live_writer(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = shared_block();
    shop_popular_block *copy = apr_palloc(p, sizeof(*copy));
    pid_t a;

    assert_int_equal(shop_popular_publish(b, body_p, P_LEN, 1), SHOP_POPULAR_PUBLISHED);
    b->buf[1].body[100] = 'X';                  /* torn: fails its checksum */
    a = fork_writer_a(b, SHOP_POPULAR_STEP_HALF_COPIED, NO_STEP);
    memcpy(copy, b, sizeof(*b));
    shop_popular_recover(b);
    assert_memory_equal(copy, b, sizeof(*b));
    assert_int_equal(read_which(p, b), 0);      /* never the torn body */
    assert_int_equal(shop_popular_published_at(b), 0);
    assert_int_equal(finish_writer_a(a), 10);
    assert_int_equal(read_which(p, b), 'a');
    munmap(b, sizeof(*b));
}

/* Garbage everywhere (a corrupted save): recovery, owning the block (the
 * pid in it names no process), publishes the empty ranking. */
static void test_recover_empties_garbage(void **state)
{
    apr_pool_t *p = UNIT_POOL(state);
    shop_popular_block *b = shared_block();
    apr_uint64_t n;

    memset(b, 0x5a, sizeof(*b));
    n = b->published;
    assert_int_equal(read_which(p, b), 0);
    shop_popular_recover(b);
    assert_true(b->published == n + 1);
    assert_int_equal(b->owner, 0);
    assert_int_equal(read_which(p, b), 0);
    assert_int_equal(shop_popular_published_at(b), 0);
    assert_int_equal(shop_popular_publish(b, body_bb, B_LEN, 3), SHOP_POPULAR_PUBLISHED);
    assert_int_equal(read_which(p, b), 'b');
    munmap(b, sizeof(*b));
}

/* Caches keep the ranking until its refresh is due, never past it. */
static void test_max_age_is_the_time_left_to_the_refresh(void **state)
{
    const apr_time_t at = apr_time_from_sec(1000000), refresh = apr_time_from_sec(60);

    (void)state;
    assert_int_equal(shop_popular_max_age(at, refresh, at), 60);
    assert_int_equal(shop_popular_max_age(at, refresh, at + apr_time_from_msec(1)), 59);
    assert_int_equal(shop_popular_max_age(at, refresh, at + apr_time_from_sec(59)), 1);
    assert_int_equal(shop_popular_max_age(at, refresh, at + apr_time_from_msec(59500)), 0);
    assert_int_equal(shop_popular_max_age(at, refresh, at + refresh), 0);
    assert_int_equal(shop_popular_max_age(at, refresh, at + apr_time_from_sec(3600)), 0);
    assert_int_equal(shop_popular_max_age(0, refresh, at), 0);       /* none yet */
    assert_int_equal(shop_popular_max_age(at, apr_time_from_msec(100), at), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        UNIT_TEST(test_render_items_in_order_with_ranks),
        UNIT_TEST(test_render_fractional_window_and_empty),
        UNIT_TEST(test_read_before_publish_is_null),
        UNIT_TEST(test_publish_then_read_copies),
        UNIT_TEST(test_publish_refuses_oversized_body),
        UNIT_TEST(test_reader_never_sees_a_torn_body),
        UNIT_TEST(test_two_writers_never_tear_a_copy),
        UNIT_TEST(test_back_to_back_writer_reads_get_through),
        UNIT_TEST(test_stalled_writer_is_never_taken_over),
        UNIT_TEST(test_writer_dying_at_any_step_leaves_the_ranking_whole),
        UNIT_TEST(test_writer_dying_after_its_time_keeps_the_old_time),
        UNIT_TEST(test_recover_leaves_a_verified_block_untouched),
        UNIT_TEST(test_recover_rejects_a_torn_save),
        UNIT_TEST(test_recover_never_writes_under_a_live_writer),
        UNIT_TEST(test_recover_empties_garbage),
        UNIT_TEST(test_max_age_is_the_time_left_to_the_refresh),
    };

    return UNIT_RUN("shop_popular", tests);
}
