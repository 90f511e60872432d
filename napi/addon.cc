// The Node-API binding of the C client engine (include/ganomede_events.h).
//
// JS: new Engine(options, handlers) where handlers is an object of
// functions the engine calls on Node's main thread. For each completed poll
// request of a channel, in this order (ge_poll_cb, include/ganomede_events.h):
//   signal(channel, code, message, fields)   a signal of a successful
//     answer, before its batch: code 'CursorReset' with fields {counter}
//     (the channel's last id), then 'EventsLost' with fields {from, to}
//     (the ids lost, inclusive)
//   batch(channel, json)    a successful answer's events (JSON array text)
//   or error(channel, status, code, message, body)   a failed request
//   cycle(channel, finishedAfter, nextAfter)   the `after` of the request
//     that completed and the engine's cursor of the next one
//     (poll->finished, poll->next): past the events handed over (see
//     consumed), a lost range or a reset included
// and:
//   reply(id, json)  or  reply(id, undefined, status, code, message, body)
//   drain()
// `after` values are numbers, or null when the request had no `after`.
// engine.consumed(channel, n), from inside batch(), says that only the
// first n events were handed to listeners (ge_client_consumed).
// cycle comes from the engine's on_cycle; when batch() or error()
// unsubscribed the channel (or shut the engine down), the engine calls no
// more callbacks of that request, and this file calls cycle itself, with
// the same cursors, once batch() or error() returned. So every batch or
// error is followed by its cycle, also after a handler threw.
//
// Options and arguments are checked by lib/ (lib/options.js) and by the C
// engine (ge_client_new); this file only converts them, and a value of
// the wrong JS type is a TypeError, never silently replaced.
//
// Lifetime: the handlers object is held strongly while the engine has
// something to wait for (a subscription or a request in flight) and
// weakly otherwise, so an idle, unreachable client can be collected; the
// finalizer frees the engine. Between the collection of the JS object and
// its finalizer (which Node runs later, from the loop), socket and timer
// events can still arrive: they drive the engine but reach no JS, and
// nothing here touches the collected object's reference.
// A JS exception thrown by a handler becomes an uncaught exception
// ('uncaughtException' / process exit), as it would from any other I/O
// callback. Every napi_status is checked: a failure in a method is a JS
// exception; in a callback from the loop, where nothing could catch it,
// it is a fatal error with its own message (never a stray pending
// exception that surfaces later as "Unknown failure").
#include <napi.h>
#include <uv.h>

#include <cstring>
#include <memory>
#include <string>

#include "ganomede_events.h"
#include "uv_driver.h"

namespace {

// Whether this environment can still run JS: a property read is refused
// (a status, not an exception) once the environment is being torn down.
bool CanRunJs(napi_env env) {
    napi_value global, v;
    return napi_get_global(env, &global) == napi_ok &&
           napi_get_named_property(env, global, "undefined", &v) == napi_ok;
}

class Engine : public Napi::ObjectWrap<Engine> {
public:
    static Napi::Function Init(Napi::Env env) {
        return DefineClass(env, "Engine",
                           {InstanceMethod("subscribe", &Engine::Subscribe),
                            InstanceMethod("unsubscribe", &Engine::Unsubscribe),
                            InstanceMethod("consumed", &Engine::Consumed),
                            InstanceMethod("send", &Engine::Send),
                            InstanceMethod("latest", &Engine::Latest),
                            InstanceMethod("indexCreate", &Engine::IndexCreate),
                            InstanceMethod("indexGet", &Engine::IndexGet),
                            InstanceMethod("shutdown", &Engine::Shutdown),
                            InstanceMethod("active", &Engine::Active)});
    }

    Engine(const Napi::CallbackInfo &info);
    ~Engine() override { Destroy(); }

private:
    Napi::Value Subscribe(const Napi::CallbackInfo &info);
    Napi::Value Unsubscribe(const Napi::CallbackInfo &info);
    Napi::Value Consumed(const Napi::CallbackInfo &info);
    Napi::Value Send(const Napi::CallbackInfo &info);
    Napi::Value Latest(const Napi::CallbackInfo &info);
    Napi::Value IndexCreate(const Napi::CallbackInfo &info);
    Napi::Value IndexGet(const Napi::CallbackInfo &info);
    Napi::Value Shutdown(const Napi::CallbackInfo &info);
    Napi::Value Active(const Napi::CallbackInfo &info);

    static void OnEvents(ge_client *, const ge_poll *poll, void *ud);
    static void OnError(ge_client *, const ge_poll *poll, void *ud);
    static void OnCycle(ge_client *, const ge_poll *poll, void *ud);
    static void OnReply(ge_client *, const ge_error *err, const char *json, size_t len, void *ud);
    static void OnDrain(ge_client *, void *ud);
    static void CleanupHook(void *arg);

    void Call(const char *name, std::initializer_list<napi_value> args);
    // Call `name` for the request of poll, then its cycle if the handler
    // left the channel meanwhile (no on_cycle will come).
    void CallThenCycle(const ge_poll *poll, const char *name, std::initializer_list<napi_value> args);
    void Left(const char *channel);  // JS unsubscribed channel (NULL: all)
    Napi::Value After(const ge_cursor &c);
    void Sync();  // ref/unref handles and the handlers object
    void Destroy();

    ge_client *client_ = nullptr;
    std::unique_ptr<UvDriver> driver_;
    Napi::ObjectReference handlers_;
    Napi::ObjectReference resource_;
    napi_async_context async_ = nullptr;
    bool strong_ = false;
    bool finalizing_ = false;
    bool hook_ = false;
    // The channel whose batch or error JS is handling (NULL: none), and
    // whether JS unsubscribed it meanwhile.
    const char *handling_ = nullptr;
    bool left_ = false;
};

// A failed Node-API call where no JS caller could catch an exception (a
// callback from the loop): abort with a message naming the call.
void CheckFatal(napi_env env, napi_status st, const char *what) {
    if (st == napi_ok) return;
    const napi_extended_error_info *info = nullptr;
    napi_get_last_error_info(env, &info);
    std::string msg = std::string("ganomede-events: ") + what + " failed: " +
                      (info && info->error_message ? info->error_message : "unknown status");
    napi_fatal_error("ganomede-events", NAPI_AUTO_LENGTH, msg.c_str(), NAPI_AUTO_LENGTH);
}

// In a method: a failed call becomes a JS Error naming the call (unless
// the failure already left an exception pending). Returns st == napi_ok.
bool Check(Napi::Env env, napi_status st, const char *what) {
    if (st == napi_ok) return true;
    if (!env.IsExceptionPending())
        Napi::Error::New(env, std::string("ganomede-events: ") + what + " failed").ThrowAsJavaScriptException();
    return false;
}

// Option values: undefined/null leaves the C default; any other type than
// the expected one is a TypeError (*ok = false).
std::string OptString(const Napi::Object &o, const char *key, bool *ok) {
    Napi::Value v = o.Get(key);
    if (v.IsEmpty() || v.IsUndefined() || v.IsNull()) return std::string();
    if (!v.IsString()) {
        if (*ok) Napi::TypeError::New(o.Env(), std::string("options.") + key + " must be a string").ThrowAsJavaScriptException();
        *ok = false;
        return std::string();
    }
    return v.As<Napi::String>().Utf8Value();
}

// An integer that fits a C long (the engine checks its range).
long OptInteger(const Napi::Object &o, const char *key, bool *ok) {
    Napi::Value v = o.Get(key);
    if (v.IsEmpty() || v.IsUndefined() || v.IsNull()) return 0;
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0.5;
    if (!v.IsNumber() || d != static_cast<double>(static_cast<long long>(d)) || d < -2147483648.0 ||
        d > 9007199254740991.0) {
        if (*ok) Napi::TypeError::New(o.Env(), std::string("options.") + key + " must be an integer").ThrowAsJavaScriptException();
        *ok = false;
        return 0;
    }
    return static_cast<long>(d);
}

bool OptBool(const Napi::Object &o, const char *key, bool *ok) {
    Napi::Value v = o.Get(key);
    if (v.IsEmpty() || v.IsUndefined() || v.IsNull()) return false;
    if (!v.IsBoolean()) {
        if (*ok) Napi::TypeError::New(o.Env(), std::string("options.") + key + " must be a boolean").ThrowAsJavaScriptException();
        *ok = false;
        return false;
    }
    return v.As<Napi::Boolean>().Value();
}

Engine::Engine(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Engine>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject()) {
        Napi::TypeError::New(env, "Engine(options, handlers)").ThrowAsJavaScriptException();
        return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    bool ok = true;
    std::string client_id = OptString(o, "clientId", &ok), secret = OptString(o, "secret", &ok),
                protocol = OptString(o, "protocol", &ok), hostname = OptString(o, "hostname", &ok),
                pathname = OptString(o, "pathname", &ok), ca_file = OptString(o, "caFile", &ok),
                ca_pem = OptString(o, "caPem", &ok);

    ge_client_options opts;
    ge_client_options_init(&opts);
    opts.client_id = client_id.empty() ? nullptr : client_id.c_str();
    opts.secret = secret.c_str();
    opts.protocol = protocol.c_str();
    opts.hostname = hostname.c_str();
    long port = OptInteger(o, "port", &ok), limit = OptInteger(o, "limit", &ok);
    long max_bytes = OptInteger(o, "maxResponseBytes", &ok);
    // Out of the C types' range: refused by the engine, not wrapped.
    opts.port = port < 0 || port > 65535 ? 65536u : static_cast<unsigned>(port);
    opts.pathname = pathname.c_str();
    opts.poll_limit = limit < 0 ? 0u : static_cast<unsigned>(limit);
    opts.max_host_connections = OptInteger(o, "maxSockets", &ok);
    opts.no_keep_alive = OptBool(o, "noKeepAlive", &ok);
    opts.connect_timeout_ms = OptInteger(o, "connectTimeout", &ok);
    opts.request_timeout_ms = OptInteger(o, "requestTimeout", &ok);
    opts.max_response_bytes = max_bytes < 0 ? 0 : static_cast<size_t>(max_bytes);
    opts.ca_file = ca_file.empty() ? nullptr : ca_file.c_str();
    opts.ca_pem = ca_pem.empty() ? nullptr : ca_pem.c_str();
    opts.insecure = OptBool(o, "insecure", &ok);
    const int per_channel = OptBool(o, "pollPerChannel", &ok);
    // Sends (docs/client.md, "Sends through a failover"); checked in lib/options.js.
    const long send_tries = OptInteger(o, "sendTries", &ok), send_backoff = OptInteger(o, "sendBackoff", &ok),
               send_max_backoff = OptInteger(o, "sendMaxBackoff", &ok);
    const int no_keys = OptBool(o, "noIdempotencyKeys", &ok);
    if (!ok) return;
    if (limit < 0 || limit > 4294967295L || max_bytes < 0) {
        Napi::TypeError::New(env, max_bytes < 0 ? "options.maxResponseBytes must be positive"
                                                : "options.limit must be an integer from 1 to 2^32-1")
            .ThrowAsJavaScriptException();
        return;
    }

    uv_loop_t *loop = nullptr;
    if (!Check(env, napi_get_uv_event_loop(env, &loop), "napi_get_uv_event_loop")) return;
    driver_ = std::make_unique<UvDriver>(loop);
    opts.on_drain = OnDrain;
    opts.userdata = this;
    opts.watch = UvDriver::OnWatch;
    opts.timer = UvDriver::OnTimer;
    opts.loop_data = driver_.get();

    const char *err = nullptr;
    client_ = ge_client_new(&opts, &err);
    if (!client_) {
        Napi::TypeError::New(env, err ? err : "invalid options").ThrowAsJavaScriptException();
        return;
    }
    ge_client_poll_per_channel(client_, per_channel);
    auto in_range = [](long v) { return v < 0 || v > 4294967295L ? 0u : static_cast<unsigned>(v); };
    ge_client_send_retries(client_, in_range(send_tries), in_range(send_backoff), in_range(send_max_backoff));
    ge_client_send_idempotent(client_, !no_keys);
    handlers_ = Napi::Persistent(info[1].As<Napi::Object>());  // refcount 1
    strong_ = true;
    Napi::Object res = Napi::Object::New(env);
    resource_ = Napi::Persistent(res);
    if (!Check(env, napi_async_init(env, res, Napi::String::New(env, "GanomedeEvents"), &async_),
               "napi_async_init")) {
        async_ = nullptr;
        Destroy();
        return;
    }
    if (!Check(env, napi_add_env_cleanup_hook(env, CleanupHook, this), "napi_add_env_cleanup_hook")) {
        Destroy();
        return;
    }
    hook_ = true;
    // Every entry from the loop runs in a callback scope (async context,
    // microtasks and nextTicks after it, as for Node's own I/O). The JS
    // object itself is neither needed nor touched here: it may already be
    // collected (see the top of this file).
    driver_->Attach(client_, [this](const std::function<void()> &f) {
        napi_env env = Env();
        Napi::HandleScope scope(Env());
        // At the environment's teardown (Node 18 runs the loop's handles
        // once more before the cleanup hooks) JS can no longer run: the
        // engine is still driven, so it closes its sockets, but reaches no JS.
        if (!finalizing_ && !CanRunJs(env)) finalizing_ = true;
        if (finalizing_) {
            f();
            return;
        }
        napi_callback_scope cs = nullptr;
        CheckFatal(env, napi_open_callback_scope(env, resource_.Value(), async_, &cs), "napi_open_callback_scope");
        f();
        CheckFatal(env, napi_close_callback_scope(env, cs), "napi_close_callback_scope");
        Sync();
    });
    Sync();
}

void Engine::CleanupHook(void *arg) {
    auto *self = static_cast<Engine *>(arg);
    self->hook_ = false;
    self->Destroy();
}

void Engine::Destroy() {
    finalizing_ = true;
    if (hook_) {
        // Fails only for a hook never added: nothing to undo then.
        (void)napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
        hook_ = false;
    }
    if (client_) {
        ge_client_free(client_);  // pending replies get "Aborted"; not sent to JS
        client_ = nullptr;
        driver_->Detach();
    }
    driver_.reset();
    if (async_) {
        (void)napi_async_destroy(Env(), async_);  // at teardown: nothing left to report to
        async_ = nullptr;
    }
}

// Hold the handlers strongly exactly while the engine is active. The raw
// calls, not Napi::Reference's: those leave a pending "Unknown failure"
// exception when the count is already 0 (an unref of a reference whose
// object was collected), which would surface as an uncaught error.
void Engine::Sync() {
    if (!client_ || handlers_.IsEmpty()) return;
    driver_->UpdateRef();
    bool want = ge_client_active(client_) > 0;
    uint32_t count = 0;
    if (want && !strong_) {
        CheckFatal(Env(), napi_reference_ref(Env(), handlers_, &count), "napi_reference_ref");
        strong_ = count > 0;  // 0: the object is gone, there is nothing to hold
    } else if (!want && strong_) {
        CheckFatal(Env(), napi_reference_unref(Env(), handlers_, &count), "napi_reference_unref");
        strong_ = false;
    }
}

void Engine::Call(const char *name, std::initializer_list<napi_value> args) {
    if (finalizing_ || handlers_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::Object h = handlers_.Value();
    if (h.IsEmpty()) return;  // collected while weak
    Napi::Value fn = h.Get(name);
    if (!env.IsExceptionPending() && fn.IsFunction()) fn.As<Napi::Function>().Call(h, args);
    if (env.IsExceptionPending()) {
        Napi::Error e = env.GetAndClearPendingException();
        CheckFatal(env, napi_fatal_exception(env, e.Value()), "napi_fatal_exception");
    }
}

Napi::Value Engine::After(const ge_cursor &c) {
    if (!c.has_after) return Env().Null();
    return Napi::Number::New(Env(), static_cast<double>(c.after));
}

void Engine::CallThenCycle(const ge_poll *poll, const char *name, std::initializer_list<napi_value> args) {
    handling_ = poll->channel;
    left_ = false;
    Call(name, args);
    handling_ = nullptr;
    if (left_) OnCycle(client_, poll, this);
}

void Engine::Left(const char *channel) {
    if (handling_ && (!channel || strcmp(channel, handling_) == 0)) left_ = true;
}

void Engine::OnEvents(ge_client *, const ge_poll *poll, void *ud) {
    auto *self = static_cast<Engine *>(ud);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    self->CallThenCycle(poll, "batch", {Napi::String::New(env, poll->channel),
                                        Napi::String::New(env, poll->json, poll->json_len)});
}

// A failed request, or a signal of a successful answer (status 200) with
// its numbers by name: the lost range, or the channel's last id.
void Engine::OnError(ge_client *, const ge_poll *poll, void *ud) {
    auto *self = static_cast<Engine *>(ud);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    const ge_error *e = poll->error;
    Napi::String channel = Napi::String::New(env, poll->channel);
    Napi::String code = Napi::String::New(env, e->code);
    Napi::String message = Napi::String::New(env, e->message);
    if (e->status != 200) {
        self->CallThenCycle(poll, "error", {channel, Napi::Number::New(env, e->status), code, message,
                                            Napi::String::New(env, e->body, e->body_len)});
        return;
    }
    Napi::Object fields = Napi::Object::New(env);
    if (strcmp(e->code, GE_CODE_CURSOR_RESET) == 0) {
        fields.Set("counter", Napi::Number::New(env, static_cast<double>(poll->reset_counter)));
    } else {
        fields.Set("from", Napi::Number::New(env, static_cast<double>(poll->lost_from)));
        fields.Set("to", Napi::Number::New(env, static_cast<double>(poll->lost_to)));
    }
    self->Call("signal", {channel, code, message, fields});
}

// poll->next as ge_client_consumed left it.
void Engine::OnCycle(ge_client *, const ge_poll *poll, void *ud) {
    auto *self = static_cast<Engine *>(ud);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    self->Call("cycle", {Napi::String::New(env, poll->channel), self->After(poll->finished), self->After(poll->next)});
}

void Engine::OnReply(ge_client *c, const ge_error *e, const char *json, size_t len, void *ud) {
    auto *self = static_cast<Engine *>(ge_client_userdata(c));
    double id = static_cast<double>(reinterpret_cast<uintptr_t>(ud));
    if (self->finalizing_) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    if (!e) {
        self->Call("reply", {Napi::Number::New(env, id), Napi::String::New(env, json, len)});
        return;
    }
    self->Call("reply", {Napi::Number::New(env, id), env.Undefined(), Napi::Number::New(env, e->status),
                         Napi::String::New(env, e->code), Napi::String::New(env, e->message),
                         Napi::String::New(env, e->body, e->body_len)});
}

void Engine::OnDrain(ge_client *, void *ud) {
    auto *self = static_cast<Engine *>(ud);
    Napi::HandleScope scope(self->Env());
    self->Call("drain", {});
}

// ---- methods (each returns the engine's return code, 0 = ok) -------------

#define NEED_CLIENT()                                                          \
    if (!client_) return Napi::Number::New(info.Env(), GE_ECLOSED)

// Arguments of the methods: lib/ passes them checked; another type is a
// TypeError (ok = false), never replaced by a default.
static std::string Str(const Napi::CallbackInfo &info, size_t i, bool *ok) {
    if (i < info.Length() && info[i].IsString()) return info[i].As<Napi::String>().Utf8Value();
    if (*ok) Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a string").ThrowAsJavaScriptException();
    *ok = false;
    return std::string();
}

// A non-negative integer below 2^32.
static uint32_t Uint(const Napi::CallbackInfo &info, size_t i, bool *ok) {
    double d = i < info.Length() && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : -1;
    if (d >= 0 && d <= 4294967295.0 && d == static_cast<double>(static_cast<uint32_t>(d)))
        return static_cast<uint32_t>(d);
    if (*ok) Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be an integer from 0 to 2^32-1").ThrowAsJavaScriptException();
    *ok = false;
    return 0;
}

static void *IdArg(const Napi::CallbackInfo &info, size_t i, bool *ok) {
    return reinterpret_cast<void *>(static_cast<uintptr_t>(Uint(info, i, ok)));
}

#define ARGS_OK()                                                              \
    if (!ok) return info.Env().Undefined()

Napi::Value Engine::Subscribe(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    bool ok = true;
    std::string ch = Str(info, 0, &ok);
    ARGS_OK();
    int rc = ge_client_subscribe(client_, ch.c_str(), OnEvents, OnError, OnCycle, this);
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::Unsubscribe(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    bool ok = true;
    std::string ch = Str(info, 0, &ok);
    ARGS_OK();
    int rc = ge_client_unsubscribe(client_, ch.c_str());
    if (rc == GE_OK) Left(ch.c_str());
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::Consumed(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    bool ok = true;
    std::string ch = Str(info, 0, &ok);
    uint32_t n = Uint(info, 1, &ok);
    ARGS_OK();
    return Napi::Number::New(info.Env(), ge_client_consumed(client_, ch.c_str(), n));
}

Napi::Value Engine::Send(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    bool ok = true;
    void *id = IdArg(info, 0, &ok);
    std::string ch = Str(info, 1, &ok), from = Str(info, 2, &ok), type = Str(info, 3, &ok);
    bool has_data = info.Length() > 4 && !info[4].IsUndefined();
    std::string data = has_data ? Str(info, 4, &ok) : std::string();
    ARGS_OK();
    int rc = ge_client_send(client_, ch.c_str(), from.c_str(), type.c_str(),
                            has_data ? data.data() : nullptr, data.size(), OnReply, id);
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::Latest(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    bool ok = true;
    void *id = IdArg(info, 0, &ok);
    std::string ch = Str(info, 1, &ok);
    uint32_t lim = Uint(info, 2, &ok);
    ARGS_OK();
    int rc = ge_client_latest(client_, ch.c_str(), lim, OnReply, id);
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::IndexCreate(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    bool ok = true;
    void *rid = IdArg(info, 0, &ok);
    std::string id = Str(info, 1, &ok), ch = Str(info, 2, &ok), field = Str(info, 3, &ok);
    ARGS_OK();
    int rc = ge_client_index_create(client_, id.c_str(), ch.c_str(), field.c_str(), OnReply, rid);
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::IndexGet(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    bool ok = true;
    void *rid = IdArg(info, 0, &ok);
    std::string id = Str(info, 1, &ok), value = Str(info, 2, &ok);
    ARGS_OK();
    int rc = ge_client_index_get(client_, id.c_str(), value.c_str(), OnReply, rid);
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::Shutdown(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    ge_client_shutdown(client_);
    Left(nullptr);
    Sync();
    return Napi::Number::New(info.Env(), 0);
}

Napi::Value Engine::Active(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    return Napi::Number::New(info.Env(), static_cast<double>(ge_client_active(client_)));
}

// The engine's return codes by name ({GE_EINVAL: -22, ...}) and their
// texts, so that lib/errors.js hard-codes no number.
Napi::Value StrError(const Napi::CallbackInfo &info) {
    int rc = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
    return Napi::String::New(info.Env(), ge_strerror(rc));
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
    exports.Set("Engine", Engine::Init(env));
    exports.Set("version", Napi::String::New(env, GE_CLIENT_VERSION));
    exports.Set("strerror", Napi::Function::New(env, StrError, "strerror"));
    Napi::Object codes = Napi::Object::New(env);
    for (int rc : {GE_OK, GE_EINVAL, GE_EEXIST, GE_ENOENT, GE_ECLOSED, GE_EFAILED, GE_EBUSY})
        codes.Set(ge_err_name(rc), Napi::Number::New(env, rc));
    exports.Set("codes", codes);
    return exports;
}

}  // namespace

NODE_API_MODULE(ganomede_events, InitModule)
