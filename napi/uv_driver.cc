#include "uv_driver.h"

struct UvDriver::Watch {
    uv_poll_t poll;
    UvDriver *owner;
    int fd;
};

UvDriver::UvDriver(uv_loop_t *loop) : loop_(loop), timer_(new uv_timer_t) {
    uv_timer_init(loop_, timer_);
    timer_->data = this;
    uv_unref(reinterpret_cast<uv_handle_t *>(timer_));
    ref_ = false;
}

UvDriver::~UvDriver() {
    for (Watch *w : watches_) {
        uv_poll_stop(&w->poll);
        w->owner = nullptr;
        uv_close(reinterpret_cast<uv_handle_t *>(&w->poll),
                 [](uv_handle_t *h) { delete reinterpret_cast<Watch *>(h->data); });
    }
    watches_.clear();
    uv_timer_stop(timer_);
    timer_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t *>(timer_),
             [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
}

void UvDriver::Attach(ge_client *client, Around around) {
    client_ = client;
    around_ = std::move(around);
}

void UvDriver::Detach() {
    client_ = nullptr;
    uv_timer_stop(timer_);
}

void UvDriver::UpdateRef() {
    bool want = client_ && ge_client_active(client_) > 0;
    if (want == ref_) return;
    ref_ = want;
    auto apply = [want](uv_handle_t *h) {
        if (want) uv_ref(h);
        else uv_unref(h);
    };
    apply(reinterpret_cast<uv_handle_t *>(timer_));
    for (Watch *w : watches_) apply(reinterpret_cast<uv_handle_t *>(&w->poll));
}

void UvDriver::Enter(const std::function<void()> &f) {
    if (around_) around_(f);
    else f();
    UpdateRef();
}

void UvDriver::CloseWatch(Watch *w) {
    watches_.erase(w);
    uv_poll_stop(&w->poll);
    w->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t *>(&w->poll),
             [](uv_handle_t *h) { delete reinterpret_cast<Watch *>(h->data); });
}

void *UvDriver::OnWatch(ge_client *, int fd, int events, void *socket_data, void *loop_data) {
    auto *self = static_cast<UvDriver *>(loop_data);
    auto *w = static_cast<Watch *>(socket_data);
    if (events & GE_WATCH_REMOVE) {
        if (w) self->CloseWatch(w);
        return nullptr;
    }
    if (!w) {
        w = new Watch;
        w->owner = self;
        w->fd = fd;
        w->poll.data = w;
        if (uv_poll_init_socket(self->loop_, &w->poll, fd) != 0) {
            delete w;
            return nullptr;
        }
        if (!self->ref_) uv_unref(reinterpret_cast<uv_handle_t *>(&w->poll));
        self->watches_.insert(w);
    }
    int uvev = ((events & GE_WATCH_IN) ? UV_READABLE : 0) | ((events & GE_WATCH_OUT) ? UV_WRITABLE : 0);
    if (uvev) uv_poll_start(&w->poll, uvev, PollCb);
    else uv_poll_stop(&w->poll);
    return w;
}

void UvDriver::OnTimer(ge_client *, long timeout_ms, void *loop_data) {
    auto *self = static_cast<UvDriver *>(loop_data);
    if (timeout_ms < 0) uv_timer_stop(self->timer_);
    else uv_timer_start(self->timer_, TimerCb, static_cast<uint64_t>(timeout_ms), 0);
}

void UvDriver::PollCb(uv_poll_t *h, int status, int events) {
    auto *w = static_cast<Watch *>(h->data);
    UvDriver *self = w->owner;
    if (!self || !self->client_) return;
    int ev = 0;
    if (status < 0) ev |= GE_WATCH_ERR | GE_WATCH_IN | GE_WATCH_OUT;
    if (events & UV_READABLE) ev |= GE_WATCH_IN;
    if (events & UV_WRITABLE) ev |= GE_WATCH_OUT;
    int fd = w->fd;
    self->Enter([self, fd, ev] { ge_client_socket_action(self->client_, fd, ev); });
}

void UvDriver::TimerCb(uv_timer_t *t) {
    auto *self = static_cast<UvDriver *>(t->data);
    if (!self || !self->client_) return;
    self->Enter([self] { ge_client_timeout_action(self->client_); });
}
