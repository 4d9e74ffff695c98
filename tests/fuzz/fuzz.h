/*
 * Shared scaffolding of the mod_shop libFuzzer harnesses.
 *
 * APR is initialized once (LLVMFuzzerInitialize) with a root pool; every
 * input runs in its own sub-pool, destroyed after it, so pool cleanups
 * (shop_json_own) run per input and a json_t that is not released shows
 * up in LeakSanitizer's report.
 *
 * FUZZ_CHECK: an invariant of the code under test; a violation aborts, so
 * libFuzzer reports it like any crash and keeps the input.
 */
#ifndef SHOP_FUZZ_H
#define SHOP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

static apr_pool_t *fuzz_root_pool;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&fuzz_root_pool, NULL) != APR_SUCCESS) {
        fprintf(stderr, "fuzz: APR initialization failed\n");
        abort();
    }
    return 0;
}

static inline apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p = NULL;

    if (apr_pool_create(&p, fuzz_root_pool) != APR_SUCCESS) {
        abort();
    }
    return p;
}

#define FUZZ_CHECK(cond)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__,    \
                    __LINE__, #cond);                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* The input as a C string (cut at the first NUL byte), from p. */
static inline char *fuzz_cstr(apr_pool_t *p, const uint8_t *data, size_t size)
{
    return apr_pstrmemdup(p, (const char *)data, size);
}

/* Little-endian integers taken off the front of the input. */
static inline uint64_t fuzz_take_u64(const uint8_t **data, size_t *size)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < 8 && *size > 0; i++) {
        v |= (uint64_t)**data << (8 * i);
        (*data)++;
        (*size)--;
    }
    return v;
}

static inline uint32_t fuzz_take_u32(const uint8_t **data, size_t *size)
{
    uint32_t v = 0;
    size_t i;

    for (i = 0; i < 4 && *size > 0; i++) {
        v |= (uint32_t)**data << (8 * i);
        (*data)++;
        (*size)--;
    }
    return v;
}

static inline uint8_t fuzz_take_u8(const uint8_t **data, size_t *size)
{
    uint8_t v = 0;

    if (*size > 0) {
        v = **data;
        (*data)++;
        (*size)--;
    }
    return v;
}

#endif
