// meshd_transparent.node: one function, a TCP socket with IP_TRANSPARENT (IPV6_TRANSPARENT for
// IPv6) and SO_REUSEADDR, bound and handed to Node by its fd (net.Server.listen({ fd })). The
// proxy's ingress listeners need it for BPF TPROXY (bpf/progs/tc.bpf.c, docs/adr/0003): tc
// assigns a connection to a pod's address to the listener with bpf_sk_assign, and only a
// transparent listener may accept a connection whose local address is not one of the node's
// (the SYN-ACK leaves from the pod's address). Node 20's net cannot set the option. Its own
// module, like meshd_reuseport.node: it needs no libbpf.
//
//   bindTransparent(address: string, port: number, ipv6Only: boolean, reusePort: boolean): number
//
// Returns the fd (non-blocking, close-on-exec, bound, not listening: Node calls listen()). Throws
// an Error with code ('EPERM' without CAP_NET_ADMIN, 'EADDRINUSE', …), errno (negative, as Node's)
// and syscall.
#include <napi.h>
#include <string>
#include <sys/socket.h>

#include "socket-util.h"

namespace {

Napi::Value BindTransparent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsBoolean() || !info[3].IsBoolean()) {
    throw Napi::TypeError::New(env, "bindTransparent(address: string, port: number, ipv6Only: boolean, reusePort: boolean)");
  }
  const std::string address = info[0].As<Napi::String>();
  const int64_t port = info[1].As<Napi::Number>().Int64Value();
  const bool v6only = info[2].As<Napi::Boolean>();
  const bool reuse_port = info[3].As<Napi::Boolean>();
  const int fd = meshd_socket::BindSocket(env, address, port, {SOCK_STREAM, v6only, reuse_port, /*transparent=*/true});
  return Napi::Number::New(env, fd);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("bindTransparent", Napi::Function::New(env, BindTransparent, "bindTransparent"));
  return exports;
}

}  // namespace

NODE_API_MODULE(meshd_transparent, Init)
