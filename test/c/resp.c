/* ge_resp.h: Redis commands written in RESP, byte for byte what Redis
 * reads (and what hiredis's own formatter writes). */
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_resp.h"
#include "tap.h"

/* b holds exactly what hiredis formats for argv. */
static int same_as_hiredis(const ge_buf *b, int argc, const char **argv, const size_t *lens) {
    char *cmd = NULL;
    long long n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    int same = n >= 0 && (size_t)n == b->len && memcmp(cmd, b->data, b->len) == 0;
    redisFreeCommand(cmd);
    return same;
}

int main(void) {
    ge_buf b = GE_BUF_INIT;
    ge_resp_array(&b, 3);
    ge_resp_str(&b, "SET");
    ge_resp_bulk(&b, "k", 1);
    ge_resp_u64(&b, 42);
    is_str(b.data, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n42\r\n", "a command: array head, then each argument as a bulk string");

    ge_buf_reset(&b);
    ge_resp_array(&b, 2);
    ge_resp_bulk(&b, "", 0);
    ge_resp_u64(&b, 0);
    is_str(b.data, "*2\r\n$0\r\n\r\n$1\r\n0\r\n", "an empty argument; the number 0");

    ge_buf_reset(&b);
    ge_resp_array(&b, 1);
    ge_resp_u64(&b, UINT64_MAX);
    is_str(b.data, "*1\r\n$20\r\n18446744073709551615\r\n", "the largest number");

    ge_buf_reset(&b);
    ge_resp_array(&b, 1);
    ge_resp_bulk_head(&b, 5);
    ge_buf_append(&b, "a\r\n\0b", 5);
    ge_resp_end(&b);
    ok(b.len == 4 + 4 + 5 + 2 && memcmp(b.data, "*1\r\n$5\r\na\r\n\0b\r\n", b.len) == 0,
       "an argument appended by the caller; binary bytes (CR, LF, NUL) kept as they are");

    /* Against hiredis's formatter: many arguments of many lengths. */
    enum { N = 120 };
    const char *argv[N];
    size_t lens[N];
    char *big = malloc(100000);
    if (!big) abort();
    memset(big, 'x', 100000);
    for (int i = 0; i < N; i++) {
        argv[i] = big;
        lens[i] = (size_t)(i * i * 7) % 100000;
    }
    ge_buf_reset(&b);
    ge_resp_array(&b, N);
    for (int i = 0; i < N; i++) ge_resp_bulk(&b, argv[i], lens[i]);
    ok(same_as_hiredis(&b, N, argv, lens), "120 arguments of 0 to 99,999 bytes: the same bytes as hiredis's formatter");
    ok(b.data[b.len] == '\0', "the buffer stays NUL-terminated");
    free(big);

    ge_buf_free(&b);
    return tap_done();
}
