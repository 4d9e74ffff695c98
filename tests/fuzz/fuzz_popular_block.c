/*
 * The popular ranking's shared block (shop_popular.c), as a reader finds
 * it after anything a crash, a torn write or a corrupted save could leave:
 * the counter, the length, the timestamp and the body all come from the
 * input (seq: 4 bytes, len: 4, generated_at: 8, body: the rest).
 *
 *  1. a bounded read never returns a torn or out-of-bounds copy: NULL, or
 *     exactly b->len bytes of the body with the counter even;
 *  2. shop_popular_recover leaves a block that is safe to read and to
 *     publish into (even counter, len within the body);
 *  3. a publish into the recovered block, then a read, gives back exactly
 *     what was published.
 *
 * The reads use tries = 2 and budget = 0 so an odd counter (a dead writer)
 * costs one yield, not the production 50 ms.
 */
#include "fuzz.h"

#include "shop_popular.h"

static shop_popular_block block;
static size_t dirty;            /* body bytes the last input wrote */

static void check_read(apr_pool_t *p, const shop_popular_block *b)
{
    apr_size_t len = 0x5a5a;
    apr_time_t at = 0x5a5a;
    const char *got = shop_popular_read_bounded(p, b, &len, &at, 2, 0);

    if (got != NULL) {
        FUZZ_CHECK((b->seq & 1) == 0);
        FUZZ_CHECK(b->len >= 1 && b->len <= SHOP_POPULAR_BODY_MAX);
        FUZZ_CHECK(len == b->len);
        FUZZ_CHECK(got != b->body);
        FUZZ_CHECK(memcmp(got, b->body, len) == 0);
        FUZZ_CHECK(got[len] == '\0');
        FUZZ_CHECK(at == b->generated_at);
    }
    else {
        FUZZ_CHECK((b->seq & 1) || b->len == 0 || b->len > SHOP_POPULAR_BODY_MAX);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    shop_popular_block *b = &block;
    apr_uint32_t seq = fuzz_take_u32(&data, &size);
    apr_uint32_t len = fuzz_take_u32(&data, &size);
    apr_time_t at = (apr_time_t)fuzz_take_u64(&data, &size);
    size_t n = size < SHOP_POPULAR_BODY_MAX ? size : SHOP_POPULAR_BODY_MAX;
    int was_sane;

    memset(b->body, 0, dirty);
    b->seq = seq;
    b->len = len;
    b->generated_at = at;
    memcpy(b->body, data, n);
    dirty = n;

    check_read(p, b);

    was_sane = !(seq & 1) && len <= SHOP_POPULAR_BODY_MAX;
    shop_popular_recover(b);
    FUZZ_CHECK((b->seq & 1) == 0);
    FUZZ_CHECK(b->len <= SHOP_POPULAR_BODY_MAX);
    if (was_sane) {
        FUZZ_CHECK(b->seq == seq && b->len == len && b->generated_at == at);
    }
    else {
        FUZZ_CHECK(b->seq == 0 && b->len == 0);
        {
            apr_size_t l;
            apr_time_t t;
            FUZZ_CHECK(shop_popular_read_bounded(p, b, &l, &t, 2, 0) == NULL);
        }
    }
    check_read(p, b);

    /* Publish the input's body over whatever is there, read it back. */
    {
        apr_uint32_t before = b->seq;
        apr_size_t got_len = 0;
        apr_time_t got_at = 0;
        const char *got;
        const char *body = n ? apr_pmemdup(p, data, n) : "";

        FUZZ_CHECK(shop_popular_publish(b, body, n, at ^ 1) == 1);
        FUZZ_CHECK(b->seq == before + 2u);
        FUZZ_CHECK(b->len == n);
        got = shop_popular_read_bounded(p, b, &got_len, &got_at, 2, 0);
        if (n == 0) {
            FUZZ_CHECK(got == NULL);
        }
        else {
            FUZZ_CHECK(got != NULL);
            FUZZ_CHECK(got_len == n && got_at == (at ^ 1));
            FUZZ_CHECK(memcmp(got, data, n) == 0);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
