/*
 * Shared scaffolding of the mod_shop unit tests (cmocka + APR).
 *
 * Group setup initializes APR and creates a root pool; every test runs
 * with its own sub-pool (passed as *state) that is destroyed after it, so
 * pool cleanups (shop_json_own) run inside the test group and any json_t
 * that is not released shows up in the LeakSanitizer report.

 */
#ifndef SHOP_UNIT_H
#define SHOP_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

static apr_pool_t *unit_root_pool;

static inline int unit_group_setup(void **state)
{
    if (apr_initialize() != APR_SUCCESS) {
        return -1;
    }
    if (apr_pool_create(&unit_root_pool, NULL) != APR_SUCCESS) {
        return -1;
    }
    *state = unit_root_pool;
    return 0;
}

static inline int unit_group_teardown(void **state)
{
    (void)state;
    apr_pool_destroy(unit_root_pool);
    unit_root_pool = NULL;
    apr_terminate();
    return 0;
}

static inline int unit_setup(void **state)
{
    apr_pool_t *p = NULL;

    if (apr_pool_create(&p, unit_root_pool) != APR_SUCCESS) {
        return -1;
    }
    *state = p;
    return 0;
}

static inline int unit_teardown(void **state)
{
    apr_pool_destroy((apr_pool_t *)*state);
    *state = NULL;
    return 0;
}

#define UNIT_POOL(state) ((apr_pool_t *)*(state))
#define UNIT_TEST(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)
#define UNIT_RUN(name, tests) \
    cmocka_run_group_tests_name(name, tests, unit_group_setup, unit_group_teardown)


/*
 * Runs fn(arg) in a forked child.  The tests are built with
 * -fno-sanitize-recover=all, so undefined behaviour makes UBSan end the
 * process; running the suspicious call in a child keeps the rest of the
 * group alive and turns the crash into an ordinary assertion failure.
 *
 * Returns 0 when fn returned non-zero (success), 1 when it returned 0,
 * another exit status if the child died (UBSan/ASan exit with 1 too, and
 * print their report on stderr), or 128+signal.
 */
typedef int (*unit_isolated_fn)(void *arg);

static inline int unit_run_isolated(unit_isolated_fn fn, void *arg)
{
    pid_t pid;
    int status = 0;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        /* _exit: no atexit handlers (LeakSanitizer, cmocka) in the child. */
        _exit(fn(arg) ? 0 : 1);
    }
    if (waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

/* A string of n copies of c, from p. */
static inline char *unit_repeat(apr_pool_t *p, char c, apr_size_t n)
{
    char *s = apr_palloc(p, n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

#endif
