/* The scripts' sources (ge_store_scripts.h), by operation: loaded on
 * every command connection (ge_store_conn.c), sent again with EVAL when
 * Redis lost them (ge_store.c). */
#include "ge_store_priv.h"
#include "ge_store_scripts.h"

const char *const ge_store_scripts[S_COUNT] = {
    [S_PUBLISH] = GE_LUA_PUBLISH,
    [S_READ] = GE_LUA_READ,
    [S_LATEST] = GE_LUA_LATEST,
    [S_IDX_PENDING] = GE_LUA_INDEX_PENDING,
    [S_IDX_COMMIT] = GE_LUA_INDEX_COMMIT,
    [S_IDX_ROWS] = GE_LUA_INDEX_ROWS,
    [S_IDX_DEFINE] = GE_LUA_INDEX_DEFINE,
    [S_TRIM] = GE_LUA_TRIM,
    [S_CONSUMERS] = GE_LUA_CONSUMERS,
    [S_FORGET] = GE_LUA_FORGET,
    [S_CHANNELS] = GE_LUA_CHANNELS,
};
