// The Node-API binding of the C client engine (include/ganomede_events.h).
//
// JS: new Engine(options, handlers) where handlers is an object of
// functions the engine calls on Node's main thread:
//   batch(channel, json, finishedAfter, nextAfter)   a poll answer (JSON array text)
//   error(channel, status, code, message, body, finishedAfter)
//   reply(id, json)  or  reply(id, undefined, status, code, message, body)
//   drain()
// `after` values are numbers, or null when the request had no `after`.
//
// Lifetime: the handlers object is held strongly while the engine has
// something to wait for (a subscription or a request in flight) and
// weakly otherwise, so an idle, unreachable client can be collected; the
// finalizer frees the engine. A JS exception thrown by a handler becomes
// an uncaught exception ('uncaughtException' / process exit), as it would
// from any other I/O callback.
#include <napi.h>
#include <uv.h>

#include <memory>
#include <string>

#include "ganomede_events.h"
#include "uv_driver.h"

namespace {

class Engine : public Napi::ObjectWrap<Engine> {
public:
    static Napi::Function Init(Napi::Env env) {
        return DefineClass(env, "Engine",
                           {InstanceMethod("subscribe", &Engine::Subscribe),
                            InstanceMethod("unsubscribe", &Engine::Unsubscribe),
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
    Napi::Value Send(const Napi::CallbackInfo &info);
    Napi::Value Latest(const Napi::CallbackInfo &info);
    Napi::Value IndexCreate(const Napi::CallbackInfo &info);
    Napi::Value IndexGet(const Napi::CallbackInfo &info);
    Napi::Value Shutdown(const Napi::CallbackInfo &info);
    Napi::Value Active(const Napi::CallbackInfo &info);

    static void OnEvents(ge_client *, const ge_poll *poll, void *ud);
    static void OnError(ge_client *, const ge_poll *poll, void *ud);
    static void OnReply(ge_client *, const ge_error *err, const char *json, size_t len, void *ud);
    static void OnDrain(ge_client *, void *ud);
    static void CleanupHook(void *arg);

    void Call(const char *name, std::initializer_list<napi_value> args);
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
};

std::string OptString(const Napi::Object &o, const char *key) {
    Napi::Value v = o.Get(key);
    return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

long OptNumber(const Napi::Object &o, const char *key) {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) return 0;
    double d = v.As<Napi::Number>().DoubleValue();
    return d > 0 && d < 2147483647.0 ? static_cast<long>(d) : 0;
}

Engine::Engine(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Engine>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject()) {
        Napi::TypeError::New(env, "Engine(options, handlers)").ThrowAsJavaScriptException();
        return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    std::string client_id = OptString(o, "clientId"), secret = OptString(o, "secret"),
                protocol = OptString(o, "protocol"), hostname = OptString(o, "hostname"),
                pathname = OptString(o, "pathname"), ca_file = OptString(o, "caFile");

    uv_loop_t *loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    driver_ = std::make_unique<UvDriver>(loop);

    ge_client_options opts;
    ge_client_options_init(&opts);
    opts.client_id = client_id.empty() ? nullptr : client_id.c_str();
    opts.secret = secret.c_str();
    opts.protocol = protocol.c_str();
    opts.hostname = hostname.c_str();
    opts.port = static_cast<unsigned>(OptNumber(o, "port"));
    opts.pathname = pathname.c_str();
    opts.poll_limit = static_cast<unsigned>(OptNumber(o, "limit"));
    opts.max_host_connections = OptNumber(o, "maxSockets");
    opts.no_keep_alive = o.Get("keepAlive").IsBoolean() && !o.Get("keepAlive").As<Napi::Boolean>().Value();
    opts.connect_timeout_ms = OptNumber(o, "connectTimeout");
    opts.request_timeout_ms = OptNumber(o, "requestTimeout");
    opts.ca_file = ca_file.empty() ? nullptr : ca_file.c_str();
    opts.insecure = o.Get("insecure").ToBoolean().Value();
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
    handlers_ = Napi::Persistent(info[1].As<Napi::Object>());  // refcount 1
    strong_ = true;
    Napi::Object res = Napi::Object::New(env);
    resource_ = Napi::Persistent(res);
    napi_async_init(env, res, Napi::String::New(env, "GanomedeEvents"), &async_);
    driver_->Attach(client_, [this](const std::function<void()> &f) {
        Napi::Env env = Env();
        Napi::HandleScope scope(env);
        Ref();  // keep this object alive while the engine runs callbacks
        {
            napi_callback_scope cs = nullptr;
            napi_open_callback_scope(env, resource_.Value(), async_, &cs);
            f();
            if (cs) napi_close_callback_scope(env, cs);
        }
        Unref();
        Sync();
    });
    napi_add_env_cleanup_hook(env, CleanupHook, this);
    hook_ = true;
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
        napi_remove_env_cleanup_hook(Env(), CleanupHook, this);
        hook_ = false;
    }
    if (client_) {
        ge_client_free(client_);  // pending replies get "Aborted"; not sent to JS
        client_ = nullptr;
        driver_->Detach();
    }
    driver_.reset();
    if (async_) {
        napi_async_destroy(Env(), async_);
        async_ = nullptr;
    }
}

void Engine::Sync() {
    if (!client_) return;
    driver_->UpdateRef();
    bool want = ge_client_active(client_) > 0;
    if (want && !strong_) handlers_.Ref();
    else if (!want && strong_) handlers_.Unref();
    strong_ = want;
}

void Engine::Call(const char *name, std::initializer_list<napi_value> args) {
    if (finalizing_ || handlers_.IsEmpty()) return;
    Napi::Env env = Env();
    Napi::Object h = handlers_.Value();
    if (h.IsEmpty()) return;  // collected while weak
    Napi::Value fn = h.Get(name);
    if (!fn.IsFunction()) return;
    fn.As<Napi::Function>().Call(h, args);
    if (env.IsExceptionPending()) {
        Napi::Error e = env.GetAndClearPendingException();
        napi_fatal_exception(env, e.Value());
    }
}

Napi::Value Engine::After(const ge_cursor &c) {
    if (!c.has_after) return Env().Null();
    return Napi::Number::New(Env(), static_cast<double>(c.after));
}

void Engine::OnEvents(ge_client *, const ge_poll *poll, void *ud) {
    auto *self = static_cast<Engine *>(ud);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    self->Call("batch", {Napi::String::New(env, poll->channel),
                         Napi::String::New(env, poll->json, poll->json_len),
                         self->After(poll->finished), self->After(poll->next)});
}

void Engine::OnError(ge_client *, const ge_poll *poll, void *ud) {
    auto *self = static_cast<Engine *>(ud);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    const ge_error *e = poll->error;
    self->Call("error", {Napi::String::New(env, poll->channel), Napi::Number::New(env, e->status),
                         Napi::String::New(env, e->code), Napi::String::New(env, e->message),
                         Napi::String::New(env, e->body, e->body_len), self->After(poll->finished)});
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

static std::string Str(const Napi::CallbackInfo &info, size_t i) {
    return i < info.Length() && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value()
                                                   : std::string();
}

static void *IdArg(const Napi::CallbackInfo &info, size_t i) {
    double d = i < info.Length() && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : 0;
    return reinterpret_cast<void *>(static_cast<uintptr_t>(d));
}

Napi::Value Engine::Subscribe(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    std::string ch = Str(info, 0);
    int rc = ge_client_subscribe(client_, ch.c_str(), OnEvents, OnError, nullptr, this);
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::Unsubscribe(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    std::string ch = Str(info, 0);
    int rc = ge_client_unsubscribe(client_, ch.c_str());
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::Send(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    std::string ch = Str(info, 1), from = Str(info, 2), type = Str(info, 3);
    bool has_data = info.Length() > 4 && info[4].IsString();
    std::string data = has_data ? info[4].As<Napi::String>().Utf8Value() : std::string();
    int rc = ge_client_send(client_, ch.c_str(), from.c_str(), type.c_str(),
                            has_data ? data.data() : nullptr, data.size(), OnReply, IdArg(info, 0));
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::Latest(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    std::string ch = Str(info, 1);
    double limit = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : 0;
    unsigned lim = limit >= 1 && limit < 4294967295.0 ? static_cast<unsigned>(limit) : 0;
    int rc = ge_client_latest(client_, ch.c_str(), lim, OnReply, IdArg(info, 0));
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::IndexCreate(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    std::string id = Str(info, 1), ch = Str(info, 2), field = Str(info, 3);
    int rc = ge_client_index_create(client_, id.c_str(), ch.c_str(), field.c_str(), OnReply, IdArg(info, 0));
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::IndexGet(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    std::string id = Str(info, 1), value = Str(info, 2);
    int rc = ge_client_index_get(client_, id.c_str(), value.c_str(), OnReply, IdArg(info, 0));
    Sync();
    return Napi::Number::New(info.Env(), rc);
}

Napi::Value Engine::Shutdown(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    ge_client_shutdown(client_);
    Sync();
    return Napi::Number::New(info.Env(), 0);
}

Napi::Value Engine::Active(const Napi::CallbackInfo &info) {
    NEED_CLIENT();
    return Napi::Number::New(info.Env(), static_cast<double>(ge_client_active(client_)));
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
    exports.Set("Engine", Engine::Init(env));
    exports.Set("version", Napi::String::New(env, GE_CLIENT_VERSION));
    return exports;
}

}  // namespace

NODE_API_MODULE(ganomede_events, InitModule)
