#!/usr/bin/env bash
# The header must compile cleanly as strict C11 and as C++, with the appendix
# layouts (struct daos_event 64 bytes, daos_handle_t 8 bytes).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/header
cat > build/header/check.c <<'C'
#include "daos_rs.h"
#include <stddef.h>
#ifdef __cplusplus
#define STATIC_ASSERT static_assert
#else
#define STATIC_ASSERT _Static_assert
#endif
STATIC_ASSERT(sizeof(struct daos_event) == 64, "struct daos_event is 64 bytes");
STATIC_ASSERT(sizeof(daos_handle_t) == 8, "daos_handle_t is 8 bytes");
STATIC_ASSERT(offsetof(struct daos_event, ev_error) == 4, "ev_error follows ev_type");
STATIC_ASSERT(offsetof(struct daos_event, ev_private) == 8, "ev_private at 8");
STATIC_ASSERT(sizeof(daos_epoch_t) == 8, "daos_epoch_t is 8 bytes");
int use_api(void);
int use_api(void) {
  daos_handle_t eq;
  struct daos_event ev;
  struct daos_event *evs[1];
  daos_ev_query_t q = DAOS_EVQ_ALL;
  if (daos_eq_create(&eq) != 0) return 1;
  if (daos_event_init(&ev, eq, NULL) != 0) return 1;
  (void)daos_eq_query(eq, q, 0, NULL);
  (void)daos_eq_poll(eq, 1, DAOS_EQ_NOWAIT, 1, evs);
  return ev.ev_type == DAOS_EV_NONE ? 0 : 1;
}
C
fail=0
gcc -std=c11 -Wall -Wextra -Wpedantic -Werror -Iinclude -c build/header/check.c -o build/header/c.o || fail=1
g++ -std=c++17 -Wall -Wextra -Wpedantic -Werror -Iinclude -x c++ -c build/header/check.c -o build/header/cpp.o || fail=1
if [ $fail = 0 ]; then echo "2 passed, 0 failed"; else echo "0 passed, 2 failed"; exit 1; fi
