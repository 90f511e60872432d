/* The cluster mode's scripts (ge_store_cluster_scripts.h). */
#include "ge_store_cluster_scripts.h"

const char *const ge_store_cluster_scripts[CS_COUNT] = {
    GE_LUA_CPUBLISH, GE_LUA_CPUBLISH_BATCH, GE_LUA_CRETRYABLE(GE_LUA_CREAD), GE_LUA_CRETRYABLE(GE_LUA_LATEST),
    GE_LUA_CRETRYABLE(GE_LUA_CONSUMERS_OF(GE_LUA_CKEY_CURSOR("ARGV[1]", "client"))),
    GE_LUA_CRETRYABLE(GE_LUA_FORGET), GE_LUA_CCHANNELS,
    GE_LUA_CRETRYABLE(GE_LUA_TRIM), GE_LUA_CDUE};
