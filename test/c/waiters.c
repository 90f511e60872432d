/* The wait registry: subscription state per channel, wake-ups, and the
 * hiredis-safe ordering (no SUBSCRIBE while an UNSUBSCRIBE is pending). */
#include <string.h>

#include "ge_waiters.h"
#include "tap.h"

typedef struct log {
    char ops[64][48];
    int n;
} log_t;

static void sub(void *arg, const char *ch) {
    log_t *l = arg;
    snprintf(l->ops[l->n++ % 64], 48, "SUB %s", ch);
}
static void unsub(void *arg, const char *ch) {
    log_t *l = arg;
    snprintf(l->ops[l->n++ % 64], 48, "UNSUB %s", ch);
}

typedef struct req {
    ge_waiter w;
    int armed, messages, lost, remove_on_wake;
} req;

static void wake(ge_waiter *w, ge_wake why) {
    req *r = w->data;
    if (why == GE_WAKE_ARMED) r->armed++;
    if (why == GE_WAKE_MESSAGE) r->messages++;
    if (why == GE_WAKE_LOST) r->lost++;
    if (r->remove_on_wake) ge_waiters_remove(w);
}

static void init(req *r) {
    memset(r, 0, sizeof *r);
    r->w.cb = wake;
    r->w.data = r;
}

int main(void) {
    log_t l = {0};
    ge_waiters_sub s = {&l, sub, unsub};
    ge_waiters *reg = ge_waiters_new(&s);
    req a, b, c;
    init(&a);
    init(&b);
    init(&c);

    ok(ge_waiters_add(reg, &a.w, "ch") == 0, "first waiter: not armed yet");
    is_str(l.ops[0], "SUB ch", "first waiter subscribes");
    ok(ge_waiters_add(reg, &b.w, "ch") == 0, "second waiter while pending: not armed");
    is_int(l.n, 1, "one SUBSCRIBE per channel");
    ge_waiters_on_subscribed(reg, "ch", 2);
    ok(a.armed == 1 && b.armed == 1, "confirmation arms every waiter");
    ok(ge_waiters_add(reg, &c.w, "ch") == 1, "a waiter on an active channel is armed at once");
    is_int(c.armed, 0, "and gets no ARMED callback");
    ge_waiters_on_message(reg, "ch", 2);
    ok(a.messages == 1 && b.messages == 1 && c.messages == 1, "a message wakes every waiter");
    ge_waiters_on_message(reg, "other", 5);
    is_int(a.messages, 1, "messages of other channels do not");
    is_int((long long)ge_waiters_count(reg), 3, "three waiting");

    a.remove_on_wake = b.remove_on_wake = c.remove_on_wake = 1;
    ge_waiters_on_message(reg, "ch", 2);
    is_int((long long)ge_waiters_count(reg), 0, "callbacks may remove their own waiter");
    is_str(l.ops[1], "UNSUB ch", "the last one leaving unsubscribes");

    init(&a);
    ok(ge_waiters_add(reg, &a.w, "ch") == 0, "re-added while UNSUBSCRIBE pending: not armed");
    is_int(l.n, 2, "no SUBSCRIBE while the UNSUBSCRIBE is unanswered");
    ge_waiters_on_unsubscribed(reg, "ch", 2);
    is_str(l.ops[2], "SUB ch", "subscribes again once it is answered");
    ge_waiters_on_subscribed(reg, "ch", 2);
    is_int(a.armed, 1, "and arms the waiter");
    ge_waiters_remove(&a.w);
    is_str(l.ops[3], "UNSUB ch", "removal unsubscribes");
    ge_waiters_on_unsubscribed(reg, "ch", 2);
    is_int((long long)ge_waiters_channels(reg), 0, "channel forgotten after UNSUBSCRIBE is answered");

    /* Waiter leaves before the confirmation arrives. */
    init(&a);
    ge_waiters_add(reg, &a.w, "x");
    ge_waiters_remove(&a.w);
    ge_waiters_on_subscribed(reg, "x", 1);
    is_str(l.ops[l.n - 1], "UNSUB x", "confirmation with nobody waiting unsubscribes");

    /* The only waiter leaves from its ARMED callback. */
    init(&a);
    a.remove_on_wake = 1;
    ge_waiters_add(reg, &a.w, "y");
    int before = l.n;
    ge_waiters_on_subscribed(reg, "y", 1);
    ok(a.armed == 1 && a.w.chan == NULL, "armed, then removed itself");
    ok(l.n == before + 1 && strcmp(l.ops[(l.n - 1) % 64], "UNSUB y") == 0, "which unsubscribes, once");
    ge_waiters_on_unsubscribed(reg, "y", 1);

    /* Many channels (hash table growth) and connection loss. */
    static req many[300];
    char name[32];
    for (int i = 0; i < 300; i++) {
        init(&many[i]);
        snprintf(name, sizeof name, "c%d", i);
        ge_waiters_add(reg, &many[i].w, name);
    }
    is_int((long long)ge_waiters_count(reg), 300, "300 waiters on 300 channels");
    ge_waiters_on_lost(reg);
    int lost = 0;
    for (int i = 0; i < 300; i++) lost += many[i].lost == 1 && many[i].w.chan == NULL;
    is_int(lost, 300, "connection loss wakes and detaches every waiter");
    is_int((long long)ge_waiters_count(reg), 0, "nothing left waiting");
    int ops = l.n;
    ge_waiters_remove(&many[0].w);
    ok(many[0].w.chan == NULL && l.n == ops && ge_waiters_count(reg) == 0,
       "removing a detached waiter changes nothing and sends nothing");
    ge_waiters_free(reg);
    return tap_done();
}
