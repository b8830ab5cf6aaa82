#include "native-program.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>

#include <algorithm>
#include <vector>

#include "addon-data.h"
#include "errors.h"
#include "napi-args.h"
#include "native-link.h"
#include "type-names.h"

namespace meshd_bpf {

namespace {

// Room for what a test run may add to the packet (bpf_xdp_adjust_tail/_head, encapsulation).
constexpr size_t kTestRunHeadroom = 4096;
// Output is retried once with this much room when the kernel reports ENOSPC.
constexpr size_t kTestRunLargeOutput = 256 * 1024;

}  // namespace

Napi::Function NativeProgram::Define(Napi::Env env) {
  return DefineClass(env, "NativeProgram",
                     {
                         InstanceAccessor<&NativeProgram::Fd>("fd"),
                         InstanceMethod<&NativeProgram::Info>("info"),
                         InstanceMethod<&NativeProgram::AttachCgroup>("attachCgroup"),
                         InstanceMethod<&NativeProgram::AttachTcx>("attachTcx"),
                         InstanceMethod<&NativeProgram::AttachSockMap>("attachSockMap"),
                         InstanceMethod<&NativeProgram::DetachSockMap>("detachSockMap"),
                         InstanceMethod<&NativeProgram::TestRun>("testRun"),
                         InstanceMethod<&NativeProgram::Close>("close"),
                     });
}

Napi::Object NativeProgram::NewInstance(Napi::Env env, ProgramInit&& init) {
  return GetAddonData(env).program_constructor.New({Napi::External<ProgramInit>::New(env, &init)});
}

NativeProgram::NativeProgram(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeProgram>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "NativeProgram is created by an object's program()");
  }
  program_ = std::move(*info[0].As<Napi::External<ProgramInit>>().Data());
}

int NativeProgram::OpenFd(Napi::Env env, const char* syscall) const {
  if (!program_.fd.Valid()) ThrowErrno(env, EBADF, syscall, Describe() + " is closed");
  return program_.fd.Get();
}

std::string NativeProgram::Describe() const { return "program '" + program_.name + "'"; }

Napi::Value NativeProgram::Fd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), program_.fd.Get());
}

Napi::Value NativeProgram::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", program_.name);
  out.Set("sectionName", program_.section);
  out.Set("id", program_.id);
  out.Set("type", ProgramTypeName(program_.type));
  out.Set("attachType", AttachTypeName(program_.attach_type));
  return out;
}

// A cgroup link made with bpf_link_create and the attach type libbpf derived from the section
// (what bpf_program__attach_cgroup does), on the program's own fd so that the link does not
// depend on the bpf_object staying open.
Napi::Value NativeProgram::AttachCgroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_link_create");
  std::string path = StringArg(info, 0, "cgroupPath");
  UniqueFd cgroup(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup.Valid()) ThrowErrno(env, errno, "open", Describe(), path);
  UniqueFd link(bpf_link_create(fd, cgroup.Get(), static_cast<enum bpf_attach_type>(program_.attach_type), nullptr));
  if (!link.Valid()) {
    ThrowErrno(env, errno, "bpf_link_create", Describe() + " as " + AttachTypeName(program_.attach_type), path);
  }
  return NativeLink::NewInstance(env, std::move(link));
}

// tcx (6.6+): a link on a network device of the caller's netns. libbpf 1.1 has neither
// bpf_program__attach_tcx nor the enum names, so the raw attach types are used (research/bpf.md
// gotcha 11): BPF_TCX_INGRESS = 46, BPF_TCX_EGRESS = 47.
Napi::Value NativeProgram::AttachTcx(const Napi::CallbackInfo& info) {
  constexpr unsigned kTcxIngress = 46;
  constexpr unsigned kTcxEgress = 47;
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_link_create");
  std::string ifname = StringArg(info, 0, "ifname");
  if (info.Length() < 2 || !info[1].IsBoolean()) throw Napi::TypeError::New(env, "attachTcx(ifname: string, ingress: boolean)");
  const bool ingress = info[1].As<Napi::Boolean>();
  unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) ThrowErrno(env, errno, "if_nametoindex", Describe(), ifname);
  UniqueFd link(bpf_link_create(fd, static_cast<int>(ifindex), static_cast<enum bpf_attach_type>(ingress ? kTcxIngress : kTcxEgress), nullptr));
  if (!link.Valid()) ThrowErrno(env, errno, "bpf_link_create", Describe() + (ingress ? " as tcx ingress" : " as tcx egress"), ifname);
  return NativeLink::NewInstance(env, std::move(link));
}

// sk_msg / sk_skb programs attach to a sockmap or sockhash with BPF_PROG_ATTACH: libbpf 1.1 has
// no link type for them.
unsigned NativeProgram::SockMapAttachType() const {
  switch (program_.attach_type) {
    case BPF_SK_SKB_STREAM_PARSER:
    case BPF_SK_SKB_STREAM_VERDICT:
    case BPF_SK_SKB_VERDICT:
    case BPF_SK_MSG_VERDICT:
      return program_.attach_type;
    default:
      return BPF_SK_MSG_VERDICT;
  }
}

Napi::Value NativeProgram::AttachSockMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_prog_attach");
  int map_fd = FdArg(info, 0, "map");
  if (bpf_prog_attach(fd, map_fd, static_cast<enum bpf_attach_type>(SockMapAttachType()), 0) != 0) {
    ThrowErrno(env, errno, "bpf_prog_attach", Describe());
  }
  return env.Undefined();
}

Napi::Value NativeProgram::DetachSockMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_prog_detach2");
  int map_fd = FdArg(info, 0, "map");
  if (bpf_prog_detach2(fd, map_fd, static_cast<enum bpf_attach_type>(SockMapAttachType())) != 0) {
    ThrowErrno(env, errno, "bpf_prog_detach2", Describe());
  }
  return env.Undefined();
}

// testRun(dataIn?: Buffer, ctxIn?: Buffer, repeat: number)
Napi::Value NativeProgram::TestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_prog_test_run_opts");
  std::vector<uint8_t> data_in, ctx_in;
  if (!info[0].IsUndefined()) {
    auto buffer = BufferArg(info, 0, "dataIn");
    data_in.assign(buffer.Data(), buffer.Data() + buffer.Length());
  }
  bool has_ctx = !info[1].IsUndefined();
  if (has_ctx) {
    auto buffer = BufferArg(info, 1, "ctxIn");
    ctx_in.assign(buffer.Data(), buffer.Data() + buffer.Length());
  }
  uint32_t repeat = info[2].IsUndefined() ? 1 : Uint32Arg(info, 2, "repeat");

  std::vector<uint8_t> data_out(data_in.size() + kTestRunHeadroom);
  std::vector<uint8_t> ctx_out(ctx_in.size());
  LIBBPF_OPTS(bpf_test_run_opts, options);
  for (int attempt = 0;; ++attempt) {
    options = {};
    options.sz = sizeof options;
    options.data_in = data_in.empty() ? nullptr : data_in.data();
    options.data_size_in = static_cast<__u32>(data_in.size());
    options.data_out = data_out.data();
    options.data_size_out = static_cast<__u32>(data_out.size());
    options.ctx_in = has_ctx ? ctx_in.data() : nullptr;
    options.ctx_size_in = static_cast<__u32>(ctx_in.size());
    options.ctx_out = has_ctx && !ctx_out.empty() ? ctx_out.data() : nullptr;
    options.ctx_size_out = static_cast<__u32>(ctx_out.size());
    options.repeat = repeat;
    if (bpf_prog_test_run_opts(fd, &options) == 0) break;
    int err = errno;
    if (err == ENOSPC && attempt == 0) {
      data_out.resize(std::max(kTestRunLargeOutput, data_out.size() * 2));
      continue;
    }
    ThrowErrno(env, err, "bpf_prog_test_run_opts", Describe() + " (" + ProgramTypeName(program_.type) + ")");
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("retval", options.retval);
  size_t data_size = std::min<size_t>(options.data_size_out, data_out.size());
  out.Set("dataOut", Napi::Buffer<uint8_t>::Copy(env, data_out.data(), data_size));
  if (has_ctx) {
    size_t ctx_size = std::min<size_t>(options.ctx_size_out, ctx_out.size());
    out.Set("ctxOut", Napi::Buffer<uint8_t>::Copy(env, ctx_out.data(), ctx_size));
  }
  out.Set("durationNs", options.duration);
  return out;
}

Napi::Value NativeProgram::Close(const Napi::CallbackInfo& info) {
  program_.fd.Reset();
  return info.Env().Undefined();
}

}  // namespace meshd_bpf
