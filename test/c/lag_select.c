/* How consumers are picked and filed: the patterns of the lag selection
 * (ge_lag_glob, ge_lag_check) and the once-a-second registry writes
 * (ge_seen). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ge_lag.h"
#include "ge_seen.h"
#include "tap.h"

static int glob(const char *p, const char *s) { return ge_lag_glob(p, strlen(p), s); }

int main(void) {
    ok(glob("users/v1", "users/v1") && !glob("users/v1", "users/v12"), "a pattern without * is the name itself");
    ok(glob("*", "") && glob("*", "a/b:c"), "* matches any text, the empty one too");
    ok(glob("game/*/moves", "game/42/moves") && glob("game/*/moves", "game/a/b/moves") && !glob("game/*/moves", "game/42/move"),
       "* in the middle spans slashes");
    ok(glob("a*b*c", "axxbyyc") && !glob("a*b*c", "axxbyy") && glob("a**", "a"), "several stars");
    ok(!glob("abc", "ab") && !glob("ab", "abc"), "no partial matches");

    char err[256];
    ok(ge_lag_check(NULL, err, sizeof err) == 0 && ge_lag_check("", err, sizeof err) == 0, "unset or empty: off");
    ok(ge_lag_check("orders/*=billing-*, users/v1 ,a=b=c", err, sizeof err) == 0, "rules, spaces around them");
    ok(ge_lag_check("a,,b", err, sizeof err) == -1 && strstr(err, "\"\" is not CHANNEL_PATTERN"), "an empty rule");
    ok(ge_lag_check("a=", err, sizeof err) == -1 && strstr(err, "\"a=\""), "an empty client pattern");
    ok(ge_lag_check("=b", err, sizeof err) == -1, "an empty channel pattern");

    ge_seen *t = calloc(1, sizeof *t);
    ok(ge_seen_due(t, "c", "ch", 10000), "a pair never filed is due");
    ok(!ge_seen_due(t, "c", "ch", 10500) && !ge_seen_due(t, "c", "ch", 10999), "not again within the second");
    ok(ge_seen_due(t, "c", "ch", 11000), "due again a second later");
    ok(ge_seen_due(t, "c", "other", 11001) && ge_seen_due(t, "other", "ch", 11001), "each pair on its own");
    ok(ge_seen_due(t, "c", "ch", 5000), "a clock stepping back makes it due");
    ok(ge_seen_due(t, "ab", "c", 20000) && ge_seen_due(t, "a", "bc", 20000), "the split between the names counts");
    ge_seen_due(t, "f", "ch", 25000);
    ge_seen_forget(t, "f", "other");
    ok(!ge_seen_due(t, "f", "ch", 25100), "forgetting another pair leaves it");
    ge_seen_forget(t, "f", "ch");
    ok(ge_seen_due(t, "f", "ch", 25200), "a pair taken out of the registry is due at once");
    int all = 1;
    for (int i = 0; i < 10000; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        if (!ge_seen_due(t, name, "x", 30000)) all = 0;
    }
    ok(all, "many pairs sharing slots: each still filed at its first read");
    free(t);
    return tap_done();
}
