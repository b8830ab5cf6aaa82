// NativeRingBuffer: a BPF ring buffer read from the libuv event loop. ring_buffer__new gives an
// epoll fd that becomes readable when the kernel has records; a uv_poll on that fd calls
// ring_buffer__consume and hands every record (a Buffer copy, in kernel order) to JS in one call.
// Nothing runs while the ring is empty: no timer, no thread.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>
#include <uv.h>

#include <memory>
#include <vector>

namespace meshd_bpf {

class NativeRingBuffer : public Napi::ObjectWrap<NativeRingBuffer> {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit NativeRingBuffer(const Napi::CallbackInfo& info);
  ~NativeRingBuffer() override;

 private:
  struct PollHandle;
  struct RingFree {
    void operator()(struct ring_buffer* ring) const { ring_buffer__free(ring); }
  };

  static Napi::Value Open(const Napi::CallbackInfo& info);
  static void OnReadable(uv_poll_t* handle, int status, int events);
  static int OnSample(void* context, void* data, size_t size);
  static void OnEnvCleanup(void* self);

  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);

  void Deliver();
  void StopNative();
  void Shutdown();

  Napi::Env env_;
  std::unique_ptr<struct ring_buffer, RingFree> ring_;
  PollHandle* poll_ = nullptr;  // owned by libuv between uv_close and its close callback
  Napi::FunctionReference on_records_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  std::vector<napi_value> batch_;  // records of the consume in progress, valid in its handle scope
  int sample_error_ = 0;
  bool in_callback_ = false;
  bool closed_ = false;
  bool cleanup_hook_added_ = false;
  bool holds_open_reference_ = false;
  bool unref_after_callback_ = false;
};

}  // namespace meshd_bpf
