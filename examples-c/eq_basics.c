/* eq_basics.c: the smallest complete use of a daos-rs event queue.
 *
 *   1. create an event queue (EQ)
 *   2. initialise an event on it
 *   3. start an asynchronous operation with the event (here: a noop that
 *      completes after a delay)
 *   4. poll the EQ until the event comes back, then read its result
 *   5. finalise the event and destroy the EQ
 *
 * Build:  gcc -I include eq_basics.c -L target/debug -ldaos_rs -o eq_basics
 * Every daos_* call returns 0 (or a count) on success, a negative errno on error.
 */
#include <stdio.h>
#include <string.h>

#include "daos_rs.h"

/* print the failing call and its error, then leave with status 1 */
#define TRY(call)                                                          \
    do {                                                                   \
        int rc_ = (call);                                                  \
        if (rc_ < 0) {                                                     \
            fprintf(stderr, "%s failed: %d (%s)\n", #call, rc_, strerror(-rc_)); \
            return 1;                                                      \
        }                                                                  \
    } while (0)

int main(void)
{
    int major, minor, patch;
    TRY(daos_rs_version(&major, &minor, &patch));
    printf("daos-rs %d.%d.%d\n", major, minor, patch);

    /* 1. an event queue collects the completions of asynchronous calls */
    daos_handle_t eqh;
    TRY(daos_eq_create(&eqh));
    printf("created EQ %#llx\n", (unsigned long long)eqh.cookie);

    /* 2. the event struct belongs to you; it must stay in place (and not be
     *    copied) from daos_event_init until daos_event_fini */
    struct daos_event ev;
    memset(&ev, 0, sizeof(ev));
    TRY(daos_event_init(&ev, eqh, NULL));

    /* 3. an asynchronous call returns at once; its result arrives later in
     *    ev.ev_error. Passing NULL instead of &ev would make it synchronous. */
    const uint64_t delay_us = 20000; /* 20 ms */
    TRY(daos_noop(&ev, delay_us));
    printf("started a noop of %llu us\n", (unsigned long long)delay_us);

    /* 4. wait for it: up to 5 s (timeouts are in microseconds;
     *    DAOS_EQ_WAIT blocks, DAOS_EQ_NOWAIT only looks) */
    struct daos_event *done[1];
    int n = daos_eq_poll(eqh, 0, 5 * 1000 * 1000, 1, done);
    if (n < 0) {
        fprintf(stderr, "daos_eq_poll failed: %d (%s)\n", n, strerror(-n));
        return 1;
    }
    if (n != 1 || done[0] != &ev) {
        fprintf(stderr, "expected our event back, got %d event(s)\n", n);
        return 1;
    }
    /* the operation's own result */
    if (ev.ev_error != 0) {
        fprintf(stderr, "the noop failed: %d (%s)\n", ev.ev_error, strerror(-ev.ev_error));
        return 1;
    }
    printf("polled %d event: ev_type %d, ev_error %d\n", n, (int)ev.ev_type, ev.ev_error);

    /* a polled event is idle again and may be reused without a new init */
    TRY(daos_noop(&ev, 0));
    n = daos_eq_poll(eqh, 0, DAOS_EQ_WAIT, 1, done);
    if (n != 1 || ev.ev_error != 0) {
        fprintf(stderr, "reuse failed: poll %d, ev_error %d\n", n, ev.ev_error);
        return 1;
    }
    printf("reused the event: ev_error %d\n", ev.ev_error);

    /* 5. clean up: fini every event, then destroy the EQ */
    TRY(daos_event_fini(&ev));
    TRY(daos_eq_destroy(eqh));
    printf("done\n");
    return 0;
}
