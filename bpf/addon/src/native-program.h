// NativeProgram: a private fd of a loaded program plus what attaching it needs (type and the
// attach type libbpf derived from the ELF section). It does not point into the bpf_object, so it
// stays usable (e.g. for BpfLink.updateProgram) until its object closes it.
#pragma once

#include <napi.h>

#include <string>

#include "unique-fd.h"

namespace meshd_bpf {

struct ProgramInit {
  UniqueFd fd;
  std::string name;
  std::string section;
  unsigned type = 0;
  unsigned attach_type = 0;
  unsigned id = 0;
};

class NativeProgram : public Napi::ObjectWrap<NativeProgram> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, ProgramInit&& init);

  explicit NativeProgram(const Napi::CallbackInfo& info);

 private:
  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value AttachCgroup(const Napi::CallbackInfo& info);
  Napi::Value AttachTcx(const Napi::CallbackInfo& info);
  Napi::Value AttachSockMap(const Napi::CallbackInfo& info);
  Napi::Value DetachSockMap(const Napi::CallbackInfo& info);
  Napi::Value TestRun(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  int OpenFd(Napi::Env env, const char* syscall) const;
  unsigned SockMapAttachType() const;
  std::string Describe() const;

  ProgramInit program_;
};

}  // namespace meshd_bpf
