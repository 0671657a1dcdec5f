/* parent_events.c: group several asynchronous operations under one parent event.
 *
 * A parent event completes once every one of its children has completed, so
 * you poll once for the whole group. The parent's ev_error is the first
 * non-zero error among the children; each child keeps its own ev_error.
 * Children are never returned by daos_eq_poll; walk them with daos_event_next.
 *
 * Build:  gcc -I include parent_events.c -L target/debug -ldaos_rs -o parent_events
 */
#include <stdio.h>
#include <string.h>

#include "daos_rs.h"

#define NCHILDREN 4

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
    daos_handle_t eqh;
    TRY(daos_eq_create(&eqh));

    /* the parent is an ordinary event on the EQ... */
    struct daos_event parent;
    memset(&parent, 0, sizeof(parent));
    TRY(daos_event_init(&parent, eqh, NULL));

    /* ...and each child names it; a child joins the parent's EQ */
    struct daos_event child[NCHILDREN];
    memset(child, 0, sizeof(child));
    for (int i = 0; i < NCHILDREN; i++)
        TRY(daos_event_init(&child[i], eqh, &parent));
    printf("parent with %d children\n", NCHILDREN);

    /* dispatch each child; here noops of different delays stand in for I/O */
    const uint64_t delay_us[NCHILDREN] = { 30000, 10000, 40000, 20000 };
    for (int i = 0; i < NCHILDREN; i++) {
        TRY(daos_noop(&child[i], delay_us[i]));
        printf("child %d: noop of %llu us started\n", i, (unsigned long long)delay_us[i]);
    }

    /* one poll for the whole group: the parent comes back when the last
     * (slowest) child is done */
    struct daos_event *done[1];
    int n = daos_eq_poll(eqh, 0, DAOS_EQ_WAIT, 1, done);
    if (n != 1 || done[0] != &parent) {
        fprintf(stderr, "expected the parent back, got %d\n", n);
        return 1;
    }
    printf("parent completed: ev_type %d (DAOS_EV_COMPOUND is %d), ev_error %d\n",
           (int)parent.ev_type, (int)DAOS_EV_COMPOUND, parent.ev_error);

    /* walk the children in the order they were initialised */
    int failed = parent.ev_error != 0, count = 0;
    for (struct daos_event *c = daos_event_next(&parent, NULL); c != NULL;
         c = daos_event_next(&parent, c)) {
        printf("  child %d: ev_error %d\n", (int)(c - child), c->ev_error);
        failed |= c->ev_error != 0;
        count++;
    }
    if (count != NCHILDREN || failed) {
        fprintf(stderr, "expected %d successful children, walked %d\n", NCHILDREN, count);
        return 1;
    }

    /* finalising the parent finalises its children too */
    TRY(daos_event_fini(&parent));
    TRY(daos_eq_destroy(eqh));
    printf("done\n");
    return 0;
}
