/* Publishing exactly once (docs/client.md, "Sends through a failover"):
 * ge_client_send gives each publish a random Idempotency-Key and sends it
 * again, with the same key and body, after a failure that had no answer
 * (connection refused or reset, a timeout) or a 503, with back-off and a
 * bounded number of tries; a server that remembers keys stores it once
 * and answers a repeat with the event first stored. Calls ge_client_http.c
 * only (requests and timers). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ge_client_internal.h"
#include "ge_json.h"

#define DEFAULT_TRIES 8
#define DEFAULT_BACKOFF_MS 100
#define DEFAULT_MAX_BACKOFF_MS 2000

/* One publish, from ge_client_send until its callback: its request (one
 * try in flight) or its back-off timer (waiting in c->sends). */
struct ge_send {
    ge_client *client;
    ge_reply_cb cb;
    void *userdata;
    ge_buf url, body;
    char header[64];  /* "Idempotency-Key: " and 32 hex digits; "" without a key */
    unsigned tries;   /* made so far */
    unsigned max_tries;
    ge_timer retry;
    ge_send *prev, *next; /* in c->sends while waiting for a retry */
};

static void send_free(ge_send *s) {
    ge_buf_free(&s->url);
    ge_buf_free(&s->body);
    free(s);
}

/* The callback, once (the request r's answer, or none: aborted). */
static void finish(ge_send *s, ge_req *r, CURLcode rc, long status) {
    ge_client *c = s->client;
    assert(c->n_replies > 0);
    c->n_replies--;
    if (s->cb) {
        if (!r || rc == GE__REQ_FREED) {
            ge_error err = {0, "Aborted", "the client was freed", "", 0};
            s->cb(c, &err, NULL, 0, s->userdata);
        } else if (rc == CURLE_OK && status == 200 && r->body.len &&
                   ge_json_validate(r->body.data, r->body.len, NULL) == 0) {
            s->cb(c, NULL, r->body.data, r->body.len, s->userdata);
        } else {
            ge_error err;
            ge_buf scratch = GE_BUF_INIT;
            ge__make_error(r, rc, status, &err, &scratch);
            s->cb(c, &err, NULL, 0, s->userdata);
            ge_buf_free(&scratch);
        }
    }
    send_free(s);
}

/* A failure after which the event may or may not be stored, and that a
 * later try may get past: no answer, or 503 (a replica wait that timed
 * out, Redis away or failing over). */
static int retryable(CURLcode rc, long status) {
    switch (rc) {
    case CURLE_OK: return status == 503;
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: return 1;
    default: return 0;
    }
}

static void waiting_link(ge_client *c, ge_send *s) {
    s->prev = NULL;
    s->next = c->sends;
    if (c->sends) c->sends->prev = s;
    c->sends = s;
}

static void waiting_unlink(ge_client *c, ge_send *s) {
    if (s->prev) s->prev->next = s->next;
    else c->sends = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void send_done(ge_req *r, CURLcode rc, long status);

/* One try. 0, or -1 when it could not start (nothing in flight). */
static int attempt(ge_send *s) {
    ge_client *c = s->client;
    ge_req *r = ge__req_new(c, send_done, s);
    ge_buf_append(&r->url, s->url.data, s->url.len);
    r->is_post = 1;
    ge_buf_append(&r->post, s->body.data, s->body.len);
    if (s->header[0]) {
        struct curl_slist *h = NULL, *n;
        for (struct curl_slist *j = c->json_headers; j; j = j->next) {
            if (!(n = curl_slist_append(h, j->data))) break;
            h = n;
        }
        if ((n = curl_slist_append(h, s->header))) h = n;
        r->headers = h;
    }
    s->tries++;
    return ge__req_start(r);
}

static void retry_fire(ge_timer *t) {
    ge_send *s = (ge_send *)(void *)((char *)t - offsetof(ge_send, retry));
    waiting_unlink(s->client, s);
    if (attempt(s) != 0) finish(s, NULL, GE__REQ_FREED, 0);
}

static void send_done(ge_req *r, CURLcode rc, long status) {
    ge_send *s = r->owner;
    ge_client *c = s->client;
    if (rc != GE__REQ_FREED && !c->closed && s->tries < s->max_tries && retryable(rc, status)) {
        uint64_t wait = c->send_backoff_ms ? c->send_backoff_ms : DEFAULT_BACKOFF_MS;
        uint64_t cap = c->send_max_backoff_ms ? c->send_max_backoff_ms : DEFAULT_MAX_BACKOFF_MS;
        for (unsigned i = 1; i < s->tries && wait < cap; i++) wait *= 2;
        if (wait > cap) wait = cap;
        waiting_link(c, s);
        ge__timer_arm(c, &s->retry, ge_now_ms() + wait);
        return;
    }
    finish(s, r, rc, status);
}

/* A new key: 128 random bits in hex. */
static void new_key(char *header, size_t size) {
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n > 0) got += (size_t)n;
        else if (n < 0 && errno != EINTR) abort(); /* no randomness: no key worth sending */
    }
    static const char hex[] = "0123456789abcdef";
    size_t at = (size_t)snprintf(header, size, "Idempotency-Key: ");
    for (size_t i = 0; i < sizeof b && at + 2 < size; i++) {
        header[at++] = hex[b[i] >> 4];
        header[at++] = hex[b[i] & 15];
    }
    header[at] = '\0';
}

static void json_member(ge_buf *b, const char *key, const char *val, int first) {
    if (!first) ge_buf_putc(b, ',');
    ge_json_string_encode(b, key, strlen(key));
    ge_buf_putc(b, ':');
    ge_json_string_encode(b, val, strlen(val));
}

static int nonempty(const char *s) { return s && *s; }

int ge_client_send(ge_client *c, const char *channel, const char *from, const char *type,
                   const char *data_json, size_t data_len, ge_reply_cb cb, void *ud) {
    if (!c) return GE_EINVAL;
    if (c->closed) return GE_ECLOSED;
    if (!c->client_id || !nonempty(channel) || !nonempty(from) || !nonempty(type)) return GE_EINVAL;
    if (data_json) {
        if (ge_json_validate(data_json, data_len, NULL) != 0) return GE_EINVAL;
        ge_json_type t = ge_json_type_of((ge_slice){data_json, data_len});
        if (t != GE_JSON_OBJECT && t != GE_JSON_ARRAY) return GE_EINVAL;
    }
    ge_send *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->client = c;
    s->cb = cb;
    s->userdata = ud;
    s->retry.fire = retry_fire;
    ge_buf_append(&s->url, c->base.data, c->base.len);
    ge_buf_append(&s->url, c->events_path.data, c->events_path.len);
    ge_buf *b = &s->body;
    ge_buf_reserve(b, 96 + data_len);
    ge_buf_putc(b, '{');
    json_member(b, "clientId", c->client_id, 1);
    json_member(b, "secret", c->secret, 0);
    json_member(b, "channel", channel, 0);
    json_member(b, "from", from, 0);
    json_member(b, "type", type, 0);
    if (data_json) {
        ge_buf_puts(b, ",\"data\":");
        ge_buf_append(b, data_json, data_len);
    }
    ge_buf_putc(b, '}');
    if (!c->send_no_key) new_key(s->header, sizeof s->header);
    /* Without a key a second try could store the event twice: one try. */
    s->max_tries = c->send_no_key ? 1 : c->send_tries ? c->send_tries : DEFAULT_TRIES;
    if (attempt(s) != 0) {
        send_free(s);
        return GE_EINVAL;
    }
    c->n_replies++;
    return GE_OK;
}

int ge_client_send_retries(ge_client *c, unsigned tries, unsigned backoff_ms, unsigned max_backoff_ms) {
    if (!c) return GE_EINVAL;
    c->send_tries = tries;
    c->send_backoff_ms = backoff_ms;
    c->send_max_backoff_ms = max_backoff_ms;
    return GE_OK;
}

int ge_client_send_idempotent(ge_client *c, int on) {
    if (!c) return GE_EINVAL;
    c->send_no_key = !on;
    return GE_OK;
}

void ge__sends_flush(ge_client *c) {
    while (c->sends) {
        ge_send *s = c->sends;
        waiting_unlink(c, s);
        ge__timer_stop(c, &s->retry);
        s->max_tries = s->tries + 1; /* this try is the last */
        if (attempt(s) != 0) finish(s, NULL, GE__REQ_FREED, 0);
    }
}

void ge__sends_free(ge_client *c) {
    while (c->sends) {
        ge_send *s = c->sends;
        waiting_unlink(c, s);
        ge__timer_stop(c, &s->retry);
        finish(s, NULL, GE__REQ_FREED, 0);
    }
}
