// NativeLink: one owned fd of a BPF link. Closing it detaches the program unless the link is
// pinned (the pin holds its own reference); detach() ends it for everyone, pin included.
#pragma once

#include <napi.h>

#include "unique-fd.h"

namespace meshd_bpf {

class NativeLink : public Napi::ObjectWrap<NativeLink> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, UniqueFd&& fd);

  explicit NativeLink(const Napi::CallbackInfo& info);

 private:
  static Napi::Value OpenPinned(const Napi::CallbackInfo& info);

  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value Pin(const Napi::CallbackInfo& info);
  Napi::Value UpdateProgram(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  int OpenFd(Napi::Env env, const char* syscall) const;

  UniqueFd fd_;
};

}  // namespace meshd_bpf
