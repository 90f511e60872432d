// Drives a ge_client from a libuv loop: one uv_poll_t per socket the engine
// asks to watch, one uv_timer_t for its timeouts. No threads: everything
// runs on the loop's thread (Node's main thread).
//
// Handles are ref'd only while the client has something to wait for
// (ge_client_active() > 0: a subscribed channel or a one-shot request in
// flight), so an idle client never keeps the process alive.
#ifndef GE_NAPI_UV_DRIVER_H
#define GE_NAPI_UV_DRIVER_H

#include <uv.h>

#include <functional>
#include <unordered_set>

#include "ganomede_events.h"

class UvDriver {
public:
    // `around` wraps every entry into the engine from the loop (the addon
    // uses it to open a Node-API callback scope).
    using Around = std::function<void(const std::function<void()> &)>;

    explicit UvDriver(uv_loop_t *loop);
    ~UvDriver();  // closes every handle (memory freed in uv close callbacks)

    void Attach(ge_client *client, Around around);
    void Detach();  // forget the client; after ge_client_free
    void UpdateRef();  // ref/unref every handle from ge_client_active()

    // Fill ge_client_options' hooks.
    static void *OnWatch(ge_client *c, int fd, int events, void *socket_data, void *loop_data);
    static void OnTimer(ge_client *c, long timeout_ms, void *loop_data);

private:
    struct Watch;
    static void PollCb(uv_poll_t *h, int status, int events);
    static void TimerCb(uv_timer_t *t);
    void CloseWatch(Watch *w);
    void Enter(const std::function<void()> &f);

    uv_loop_t *loop_;
    uv_timer_t *timer_;
    ge_client *client_ = nullptr;
    Around around_;
    std::unordered_set<Watch *> watches_;
    bool ref_ = true;
};

#endif
