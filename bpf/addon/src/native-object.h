// NativeObject: a bpf_object from bpf_object__open_file, through load, to close. Maps and
// programs are handed out as NativeMap / NativeProgram holding private dups of libbpf's fds.
// libbpf's output during open and load goes to the object's own logger (see libbpf-log.h).
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>

#include <string>

namespace meshd_bpf {

class NativeObject : public Napi::ObjectWrap<NativeObject> {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit NativeObject(const Napi::CallbackInfo& info);
  ~NativeObject() override;

 private:
  struct Init;

  static Napi::Value Open(const Napi::CallbackInfo& info);

  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value MapNames(const Napi::CallbackInfo& info);
  Napi::Value ProgramNames(const Napi::CallbackInfo& info);
  Napi::Value OpenMap(const Napi::CallbackInfo& info);
  Napi::Value OpenProgram(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  struct bpf_object* OpenObject(Napi::Env env, const char* syscall) const;

  struct bpf_object* object_ = nullptr;
  std::string path_;
  bool loaded_ = false;
  bool load_failed_ = false;
  Napi::ObjectReference logger_;
};

}  // namespace meshd_bpf
