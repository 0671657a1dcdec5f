/* A tiny test harness for the daos-rs C tests.
 *
 *   CHECK(cond)             records a pass if cond is true
 *   CHECK_EQ(a, b)          integer equality, prints both values on failure
 *   CHECK_PTR_EQ(a, b)      pointer equality
 *   CHECK_RC(call, want)    call's int return equals want, prints errno names
 *   RUN(test_fn)            runs one `static void test_fn(void)`
 *   harness_summary()       prints "N passed, N failed" and returns the exit code
 *
 * Counters are atomic, so checks may be made from any thread.
 */
#ifndef DAOS_RS_C_TESTS_HARNESS_H
#define DAOS_RS_C_TESTS_HARNESS_H

/* now_us/sleep_us use POSIX clocks: put `#define _GNU_SOURCE` (or
 * _POSIX_C_SOURCE 200809L) at the very top of the test file. */
#if !defined(_GNU_SOURCE) && !(defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 200809L)
#error "define _GNU_SOURCE or _POSIX_C_SOURCE 200809L before any #include"
#endif

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_long h_pass;
static atomic_long h_fail;

#define H_FAIL_(...)                                                     \
    do {                                                                 \
        atomic_fetch_add(&h_fail, 1);                                    \
        fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);            \
        fprintf(stderr, __VA_ARGS__);                                    \
        fputc('\n', stderr);                                             \
    } while (0)

#define CHECK(cond)                                                      \
    do {                                                                 \
        if (cond) atomic_fetch_add(&h_pass, 1);                          \
        else H_FAIL_("CHECK(%s)", #cond);                                \
    } while (0)

#define CHECK_EQ(a, b)                                                   \
    do {                                                                 \
        long long h_a_ = (long long)(a), h_b_ = (long long)(b);          \
        if (h_a_ == h_b_) atomic_fetch_add(&h_pass, 1);                  \
        else H_FAIL_("CHECK_EQ(%s, %s): %lld != %lld", #a, #b, h_a_, h_b_); \
    } while (0)

#define CHECK_PTR_EQ(a, b)                                               \
    do {                                                                 \
        const void *h_a_ = (const void *)(a), *h_b_ = (const void *)(b); \
        if (h_a_ == h_b_) atomic_fetch_add(&h_pass, 1);                  \
        else H_FAIL_("CHECK_PTR_EQ(%s, %s): %p != %p", #a, #b, h_a_, h_b_); \
    } while (0)

#define CHECK_RC(call, expected)                                         \
    do {                                                                 \
        int h_rc_ = (int)(call), h_want_ = (int)(expected);              \
        if (h_rc_ == h_want_) atomic_fetch_add(&h_pass, 1);              \
        else H_FAIL_("%s returned %d (%s), expected %d (%s)", #call,     \
                     h_rc_, h_rc_ < 0 ? strerror(-h_rc_) : "count",      \
                     h_want_, h_want_ < 0 ? strerror(-h_want_) : "count"); \
    } while (0)

#define RUN(test_fn)                                                     \
    do {                                                                 \
        long h_f0_ = atomic_load(&h_fail);                               \
        printf("-- %s\n", #test_fn);                                     \
        fflush(stdout);                                                  \
        test_fn();                                                       \
        if (atomic_load(&h_fail) != h_f0_)                               \
            printf("   %s: %ld failure(s)\n", #test_fn,                  \
                   atomic_load(&h_fail) - h_f0_);                        \
        fflush(stdout);                                                  \
    } while (0)

static inline int harness_summary(void)
{
    printf("%ld passed, %ld failed\n", atomic_load(&h_pass), atomic_load(&h_fail));
    fflush(stdout);
    return atomic_load(&h_fail) == 0 ? 0 : 1;
}

/* Monotonic clock in microseconds, for timing assertions. */
static inline int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline void sleep_us(int64_t us)
{
    struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) != 0) { }
}

#endif
