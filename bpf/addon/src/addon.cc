// Module entry of meshd_bpf.node: registers the native classes and the two global settings
// (libbpf logger, error class). index.ts is the only consumer; see it for the public API.
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <napi.h>

#include <mutex>

#include "addon-data.h"
#include "libbpf-log.h"
#include "native-link.h"
#include "native-map.h"
#include "native-object.h"
#include "native-program.h"
#include "native-ring-buffer.h"

namespace meshd_bpf {

namespace {

// setLibbpfLogger(logger | undefined)
Napi::Value SetLibbpfLogger(const Napi::CallbackInfo& info) {
  AddonData& data = GetAddonData(info.Env());
  if (info[0].IsObject()) {
    data.global_logger = Napi::Persistent(info[0].As<Napi::Object>());
  } else {
    data.global_logger.Reset();
  }
  return info.Env().Undefined();
}

// setErrorClass(BpfSystemError): new (message, code, errno, syscall, path) for every failure.
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "setErrorClass takes a class");
  GetAddonData(info.Env()).error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value LibbpfVersion(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), libbpf_version_string());
}

// Node unloads an addon when the last environment that loaded it ends (a worker thread), but
// libbpf keeps our print callback in a process-wide pointer and libuv may still call a poll
// handle's close callback after the environment's cleanup: both point into this library. So it
// stays mapped for the life of the process (RTLD_NODELETE on a second reference to itself).
void KeepLibraryLoaded() {
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&KeepLibraryLoaded), &self) != 0 && self.dli_fname != nullptr) {
    dlopen(self.dli_fname, RTLD_NOW | RTLD_NODELETE);
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  static std::once_flag once;
  std::call_once(once, [] {
    KeepLibraryLoaded();
    // The callback itself looks for the scope of the calling thread.
    InstallLibbpfPrint();
  });
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted with the environment

  Napi::Function object_class = NativeObject::Define(env);
  Napi::Function map_class = NativeMap::Define(env);
  Napi::Function program_class = NativeProgram::Define(env);
  Napi::Function link_class = NativeLink::Define(env);
  Napi::Function ring_buffer_class = NativeRingBuffer::Define(env);
  data->object_constructor = Napi::Persistent(object_class);
  data->map_constructor = Napi::Persistent(map_class);
  data->program_constructor = Napi::Persistent(program_class);
  data->link_constructor = Napi::Persistent(link_class);
  data->ring_buffer_constructor = Napi::Persistent(ring_buffer_class);

  exports.Set("NativeObject", object_class);
  exports.Set("NativeMap", map_class);
  exports.Set("NativeProgram", program_class);
  exports.Set("NativeLink", link_class);
  exports.Set("NativeRingBuffer", ring_buffer_class);
  exports.Set("setLibbpfLogger", Napi::Function::New<SetLibbpfLogger>(env, "setLibbpfLogger"));
  exports.Set("setErrorClass", Napi::Function::New<SetErrorClass>(env, "setErrorClass"));
  exports.Set("libbpfVersion", Napi::Function::New<LibbpfVersion>(env, "libbpfVersion"));
  return exports;
}

}  // namespace

}  // namespace meshd_bpf

// NODE_API_MODULE pastes the name into an identifier, so it needs an unqualified one.
static Napi::Object InitMeshdBpf(Napi::Env env, Napi::Object exports) { return meshd_bpf::Init(env, exports); }

NODE_API_MODULE(meshd_bpf, InitMeshdBpf)
