/* libFuzzer target for the client engine's reading of a multi-channel
 * long-poll's answer (ge__multi_parse in csrc/client/ge_client_multi.c:
 * {"channels":[{"channel":..,"events":[..],"lost":{..},"reset":{..}}]},
 * docs/protocol.md), on any bytes a server may send.
 *
 *   make fuzz-run-multi_answer   (test/fuzz/fuzz.mk)
 *
 * Properties checked (abort() on violation):
 *  - it never reads outside the body, whatever the body;
 *  - it takes only valid JSON: an accepted body re-validates;
 *  - every part's events is a slice of the body that is a JSON array;
 *  - every part's channel name lies in the names buffer, NUL-terminated;
 *  - a lost range it reports is from <= to, with to > 0;
 *  - a refused body leaves no parts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ge_buf.h"
#include "ge_client_internal.h"
#include "ge_json.h"

#define CHECK(c)                                                                 \
    do {                                                                         \
        if (!(c)) abort();                                                       \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* A copy of exactly size bytes, so ASan sees any read past the end. */
    char *body = malloc(size ? size : 1);
    if (!body) abort();
    if (size) memcpy(body, data, size);
    ge_multi_part *parts = (ge_multi_part *)1;
    size_t n = 99;
    ge_buf names = GE_BUF_INIT;
    int rc = ge__multi_parse(body, size, &parts, &n, &names);
    if (rc != 0) {
        CHECK(parts == NULL && n == 0);
    } else {
        CHECK(ge_json_validate(body, size, NULL) == 0);
        for (size_t i = 0; i < n; i++) {
            const ge_multi_part *p = &parts[i];
            CHECK(p->events >= body && p->events_len <= size && p->events + p->events_len <= body + size);
            ge_slice evs = {p->events, p->events_len};
            CHECK(ge_json_type_of(evs) == GE_JSON_ARRAY);
            CHECK(p->name_off < names.len && memchr(names.data + p->name_off, '\0', names.len - p->name_off));
            if (p->lost_to) CHECK(p->lost_from <= p->lost_to);
        }
    }
    free(rc == 0 ? parts : NULL);
    ge_buf_free(&names);
    free(body);
    return 0;
}
