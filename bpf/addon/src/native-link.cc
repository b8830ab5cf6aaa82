#include "native-link.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <string.h>

#include <string>

#include "addon-data.h"
#include "errors.h"
#include "napi-args.h"
#include "type-names.h"

namespace meshd_bpf {

Napi::Function NativeLink::Define(Napi::Env env) {
  return DefineClass(env, "NativeLink",
                     {
                         StaticMethod<&NativeLink::OpenPinned>("openPinned"),
                         InstanceAccessor<&NativeLink::Fd>("fd"),
                         InstanceMethod<&NativeLink::Pin>("pin"),
                         InstanceMethod<&NativeLink::UpdateProgram>("updateProgram"),
                         InstanceMethod<&NativeLink::Info>("info"),
                         InstanceMethod<&NativeLink::Detach>("detach"),
                         InstanceMethod<&NativeLink::Close>("close"),
                     });
}

Napi::Object NativeLink::NewInstance(Napi::Env env, UniqueFd&& fd) {
  return GetAddonData(env).link_constructor.New({Napi::External<UniqueFd>::New(env, &fd)});
}

NativeLink::NativeLink(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeLink>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "NativeLink is created by openPinned() or a program's attach");
  }
  fd_ = std::move(*info[0].As<Napi::External<UniqueFd>>().Data());
}

Napi::Value NativeLink::OpenPinned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd.Valid()) ThrowErrno(env, errno, "bpf_obj_get", {}, path);
  std::string kind = BpfFdKind(fd.Get());
  if (kind != "bpf_link" && kind != "bpf-link") {
    ThrowErrno(env, EINVAL, "bpf_obj_get", "not a BPF link" + (kind.empty() ? std::string() : " but a " + kind), path);
  }
  return NewInstance(env, std::move(fd));
}

int NativeLink::OpenFd(Napi::Env env, const char* syscall) const {
  if (!fd_.Valid()) ThrowErrno(env, EBADF, syscall, "the link is closed");
  return fd_.Get();
}

Napi::Value NativeLink::Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_.Get()); }

Napi::Value NativeLink::Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_obj_pin");
  std::string path = StringArg(info, 0, "path");
  if (bpf_obj_pin(fd, path.c_str()) != 0) ThrowErrno(env, errno, "bpf_obj_pin", "link", path);
  return env.Undefined();
}

Napi::Value NativeLink::UpdateProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_link_update");
  int program_fd = FdArg(info, 0, "program");
  // The kernel swaps the program in one step (rcu), so the hook is never without a program.
  if (bpf_link_update(fd, program_fd, nullptr) != 0) ThrowErrno(env, errno, "bpf_link_update");
  return env.Undefined();
}

Napi::Value NativeLink::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_obj_get_info_by_fd");
  struct bpf_link_info link_info;
  memset(&link_info, 0, sizeof link_info);
  __u32 length = sizeof link_info;
  if (bpf_obj_get_info_by_fd(fd, &link_info, &length) != 0) ThrowErrno(env, errno, "bpf_obj_get_info_by_fd", "link");
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", link_info.id);
  out.Set("progId", link_info.prog_id);
  out.Set("type", LinkTypeName(link_info.type));
  if (link_info.type == BPF_LINK_TYPE_CGROUP) {
    out.Set("cgroupId", Napi::BigInt::New(env, static_cast<uint64_t>(link_info.cgroup.cgroup_id)));
    out.Set("attachType", link_info.cgroup.attach_type);
  } else if (link_info.type == BPF_LINK_TYPE_NETNS) {
    out.Set("attachType", link_info.netns.attach_type);
  }
  return out;
}

Napi::Value NativeLink::Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_link_detach");
  if (bpf_link_detach(fd) != 0) ThrowErrno(env, errno, "bpf_link_detach");
  return env.Undefined();
}

Napi::Value NativeLink::Close(const Napi::CallbackInfo& info) {
  fd_.Reset();
  return info.Env().Undefined();
}

}  // namespace meshd_bpf
