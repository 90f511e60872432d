/* The ge_loop of the daemon: libevent timers and hiredis's libevent
 * adapter. `base` is borrowed and must outlive everything on the loop. */
#ifndef GE_SERVER_LOOP_LIBEVENT_H
#define GE_SERVER_LOOP_LIBEVENT_H

#include <event2/event.h>

#include "ge_loop.h"

void ge_loop_libevent(ge_loop *loop, struct event_base *base);

#endif
