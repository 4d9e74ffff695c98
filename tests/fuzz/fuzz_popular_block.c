/*
 * The popular ranking's shared block (shop_popular.c), as a reader finds
 * it after anything a crash, a torn write or a corrupted save could leave:
 * the first bytes of the input become the block's header and the first
 * buffer's header, the rest its body (the owner word is cleared: a pid
 * from the input could name a live process, and that is BUSY by design).
 *
 *  1. a read never returns a copy that was not sealed whole: NULL, or the
 *     served buffer's bytes, whose checksum verifies;
 *  2. shop_popular_recover leaves a block that reads as a verified ranking
 *     or as nothing;
 *  3. a publish into the recovered block, then a read, gives back exactly
 *     what was published, and `published` went up by one.
 */
#include "fuzz.h"

#include "shop_popular.h"

static shop_popular_block block;

static void check_read(apr_pool_t *p, const shop_popular_block *b)
{
    apr_size_t len = 0x5a5a;
    apr_time_t at = 0x5a5a;
    const char *got = shop_popular_read_bounded(p, b, &len, &at, 2, 0);
    const shop_popular_buffer *buf = &b->buf[b->published & 1];

    if (got != NULL) {
        FUZZ_CHECK((buf->seq & 1) == 0);
        FUZZ_CHECK(len == buf->len && len >= 1 && len <= SHOP_POPULAR_BODY_MAX);
        FUZZ_CHECK(got != buf->body && memcmp(got, buf->body, len) == 0);
        FUZZ_CHECK(got[len] == '\0');
        FUZZ_CHECK(at == buf->generated_at);
        FUZZ_CHECK(shop_popular_sum((apr_uint32_t)len, at, got) == buf->sum);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    shop_popular_block *b = &block;
    size_t n;

    memset(b, 0, sizeof(*b));
    b->published = fuzz_take_u64(&data, &size);
    b->buf[b->published & 1].seq = fuzz_take_u32(&data, &size);
    b->buf[b->published & 1].len = fuzz_take_u32(&data, &size);
    b->buf[b->published & 1].generated_at = (apr_time_t)fuzz_take_u64(&data, &size);
    b->buf[b->published & 1].sum = fuzz_take_u64(&data, &size);
    n = size < SHOP_POPULAR_BODY_MAX ? size : SHOP_POPULAR_BODY_MAX;
    memcpy(b->buf[b->published & 1].body, data, n);

    check_read(p, b);
    shop_popular_recover(b);
    check_read(p, b);
    {
        const shop_popular_buffer *buf = &b->buf[b->published & 1];
        FUZZ_CHECK(b->owner == 0);
        FUZZ_CHECK(shop_popular_published_at(b) != 0
                   || ((buf->seq & 1) == 0 && buf->len == 0)
                   || shop_popular_read_bounded(p, b, &(apr_size_t){0},
                                                &(apr_time_t){0}, 2, 0) == NULL);
    }

    /* Publish the input's body over whatever is there, read it back. */
    {
        apr_uint64_t before = b->published;
        apr_size_t got_len = 0;
        apr_time_t got_at = 0;
        const char *got;
        const char *body = n ? apr_pmemdup(p, data, n) : "";

        FUZZ_CHECK(shop_popular_publish(b, body, n, 7) == SHOP_POPULAR_PUBLISHED);
        FUZZ_CHECK(b->published == before + 1u);
        got = shop_popular_read_bounded(p, b, &got_len, &got_at, 2, 0);
        if (n == 0) {
            FUZZ_CHECK(got == NULL);
        }
        else {
            FUZZ_CHECK(got != NULL);
            FUZZ_CHECK(got_len == n && got_at == 7);
            FUZZ_CHECK(memcmp(got, data, n) == 0);
        }
    }
    apr_pool_destroy(p);
    return 0;
}
