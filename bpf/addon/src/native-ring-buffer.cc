#include "native-ring-buffer.h"

#include <errno.h>

#include "addon-data.h"
#include "errors.h"
#include "libbpf-log.h"
#include "napi-args.h"

namespace meshd_bpf {

namespace {

// Records handed to JS per readable event. The rest stay in the ring, whose epoll fd stays
// readable (level-triggered), so the loop comes back for them after other callbacks had a turn.
constexpr size_t kMaxRecordsPerCallback = 4096;
// Returned by OnSample to end a consume early; libbpf then stops and keeps the position.
constexpr int kBatchFull = -EAGAIN;

// Passed to the constructor by open(), so that `new NativeRingBuffer()` from JS is refused.
int construct_token;

}  // namespace

struct NativeRingBuffer::PollHandle {
  uv_poll_t handle;
  NativeRingBuffer* owner;
};

Napi::Function NativeRingBuffer::Define(Napi::Env env) {
  return DefineClass(env, "NativeRingBuffer",
                     {
                         StaticMethod<&NativeRingBuffer::Open>("open"),
                         InstanceMethod<&NativeRingBuffer::Close>("close"),
                         InstanceAccessor<&NativeRingBuffer::IsClosed>("closed"),
                     });
}

// open(mapFd, onRecords)
Napi::Value NativeRingBuffer::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int map_fd = FdArg(info, 0, "map");
  if (!info[1].IsFunction()) throw Napi::TypeError::New(env, "onRecords must be a function");
  // The instance exists before the ring, because libbpf's sample callback needs its address.
  Napi::Object instance =
      GetAddonData(env).ring_buffer_constructor.New({Napi::External<int>::New(env, &construct_token)});
  NativeRingBuffer* self = Unwrap(instance);
  self->on_records_ = Napi::Persistent(info[1].As<Napi::Function>());

  LibbpfLogScope log(env, nullptr);
  self->ring_.reset(ring_buffer__new(map_fd, OnSample, self, nullptr));
  if (!self->ring_) {
    int err = errno;
    self->Shutdown();
    ThrowSystemError(env, SystemErrorInfo{err, "ring_buffer__new", {}, {}, log.WarningTail()});
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    self->Shutdown();
    ThrowErrno(env, EINVAL, "napi_get_uv_event_loop");
  }
  auto* poll = new PollHandle{};
  poll->owner = self;
  int err = uv_poll_init(loop, &poll->handle, ring_buffer__epoll_fd(self->ring_.get()));
  if (err != 0) {
    delete poll;  // never initialised, so libuv does not know it
    self->Shutdown();
    ThrowErrno(env, -err, "uv_poll_init");
  }
  poll->handle.data = poll;
  self->poll_ = poll;
  err = uv_poll_start(&poll->handle, UV_READABLE, OnReadable);
  if (err != 0) {
    self->Shutdown();
    ThrowErrno(env, -err, "uv_poll_start");
  }
  self->async_context_ = std::make_unique<Napi::AsyncContext>(env, "MeshdRingBufferReader", instance);
  // If the environment goes away (worker exit) with the reader open, stop libuv from watching a
  // ring that is about to be freed.
  napi_add_env_cleanup_hook(env, OnEnvCleanup, self);
  self->cleanup_hook_added_ = true;
  // An open reader must not be collected while the kernel still has records for it: it is
  // released by close(), like a socket.
  self->Ref();
  self->holds_open_reference_ = true;
  return instance;
}

NativeRingBuffer::NativeRingBuffer(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<NativeRingBuffer>(info), env_(info.Env()) {
  if (info.Length() != 1 || !info[0].IsExternal() || info[0].As<Napi::External<int>>().Data() != &construct_token) {
    throw Napi::TypeError::New(info.Env(), "NativeRingBuffer is created by NativeRingBuffer.open()");
  }
}

NativeRingBuffer::~NativeRingBuffer() {
  StopNative();
  if (cleanup_hook_added_) napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
}

void NativeRingBuffer::OnEnvCleanup(void* self) {
  auto* reader = static_cast<NativeRingBuffer*>(self);
  reader->cleanup_hook_added_ = false;
  reader->StopNative();
  reader->async_context_.reset();
}

int NativeRingBuffer::OnSample(void* context, void* data, size_t size) {
  auto* self = static_cast<NativeRingBuffer*>(context);
  napi_value record;
  // The C API, not node-addon-api: an exception must not unwind through libbpf's C frames.
  if (napi_create_buffer_copy(self->env_, size, data, nullptr, &record) != napi_ok) {
    self->sample_error_ = ENOMEM;
    return -ENOMEM;
  }
  self->batch_.push_back(record);
  return self->batch_.size() >= kMaxRecordsPerCallback ? kBatchFull : 0;
}

void NativeRingBuffer::OnReadable(uv_poll_t* handle, int status, int /*events*/) {
  auto* poll = static_cast<PollHandle*>(handle->data);
  NativeRingBuffer* self = poll->owner;
  if (self == nullptr || self->closed_) return;
  if (status < 0) {
    // The epoll fd itself failed (it cannot, short of a kernel bug): stop instead of spinning.
    uv_poll_stop(handle);
    return;
  }
  self->Deliver();
}

// Written against the Node-API C functions, not node-addon-api: when a worker thread is being
// terminated, calls into JS fail, and node-addon-api would turn that failure into a C++
// exception whose own construction fails fatally. Here a failure just ends the delivery.
void NativeRingBuffer::Deliver() {
  if (!ring_) return;
  napi_env env = env_;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  in_callback_ = true;
  batch_.clear();
  ring_buffer__consume(ring_.get());
  napi_value records = nullptr;
  bool ready = !batch_.empty() && napi_create_array_with_length(env, batch_.size(), &records) == napi_ok;
  for (size_t i = 0; ready && i < batch_.size(); ++i) {
    ready = napi_set_element(env, records, static_cast<uint32_t>(i), batch_[i]) == napi_ok;
  }
  batch_.clear();
  napi_value receiver = nullptr;
  napi_value callback = nullptr;
  ready = ready && napi_get_reference_value(env, static_cast<napi_ref>(*this), &receiver) == napi_ok &&
          napi_get_reference_value(env, static_cast<napi_ref>(on_records_), &callback) == napi_ok &&
          receiver != nullptr && callback != nullptr && async_context_ != nullptr;
  if (ready) {
    // napi_make_callback, not napi_call_function: it runs the microtasks and async hooks after the
    // callback, as for any I/O callback.
    napi_value result;
    if (napi_make_callback(env, static_cast<napi_async_context>(*async_context_), receiver, callback, 1, &records,
                           &result) == napi_pending_exception) {
      // No JS frame above a libuv callback: report it like any uncaught exception.
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
  }
  in_callback_ = false;
  if (closed_) {
    // close() ran inside the callback: free what it had to leave to us.
    StopNative();
    async_context_.reset();
    if (unref_after_callback_) {
      unref_after_callback_ = false;
      napi_reference_unref(env, static_cast<napi_ref>(*this), nullptr);
    }
  }
  napi_close_handle_scope(env, scope);
}

// Releases libuv and libbpf resources; no JS. Safe to call repeatedly.
void NativeRingBuffer::StopNative() {
  if (poll_ != nullptr) {
    poll_->owner = nullptr;
    // uv_close stops the poll and removes the fd from libuv's epoll at once; the memory is freed
    // in the close callback, after libuv is done with it.
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_->handle),
             [](uv_handle_t* handle) { delete static_cast<PollHandle*>(handle->data); });
    poll_ = nullptr;
  }
  if (!in_callback_) ring_.reset();
}

void NativeRingBuffer::Shutdown() {
  if (closed_) return;
  closed_ = true;
  StopNative();
  if (cleanup_hook_added_) {
    napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
    cleanup_hook_added_ = false;
  }
  on_records_.Reset();
}

// Safe twice, and from inside onRecords: then the ring is freed once libbpf's consume returns.
Napi::Value NativeRingBuffer::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  if (holds_open_reference_) {
    holds_open_reference_ = false;
    // Inside the callback the object must stay alive until Deliver() has returned.
    if (in_callback_) {
      unref_after_callback_ = true;
    } else {
      Unref();
    }
  }
  if (!in_callback_) async_context_.reset();
  return info.Env().Undefined();
}

Napi::Value NativeRingBuffer::IsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), closed_);
}

}  // namespace meshd_bpf
