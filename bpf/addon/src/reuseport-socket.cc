// meshd_reuseport.node: one function, a TCP or UDP socket bound with SO_REUSEPORT (and SO_REUSEADDR)
// and handed to Node by its fd (net.Server.listen({ fd }) / dgram bind({ fd })). Node 20's net and
// dgram cannot set SO_REUSEPORT, and a restarted proxy needs it to listen on the port its
// predecessor still holds (TCP: with net.ipv4.tcp_migrate_req=1 the kernel moves the old
// listener's queued connections to the new one when the old closes). Its own module (not part of
// meshd_bpf.node): it needs no libbpf, and the DNS proxy can load it alone.
//
//   bindReusePort(kind: 'tcp' | 'udp', address: string, port: number, ipv6Only: boolean): number
//
// Returns the fd (non-blocking, close-on-exec, bound, not listening: Node calls listen()). Throws an
// Error with code ('EADDRINUSE', …), errno (negative, as Node's) and syscall on failure. Linux puts
// sockets in one SO_REUSEPORT group only when their owners have the same effective uid.
#include <napi.h>
#include <string>
#include <sys/socket.h>

#include "socket-util.h"

namespace {

Napi::Value BindReusePort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsNumber() || !info[3].IsBoolean()) {
    throw Napi::TypeError::New(env, "bindReusePort(kind: 'tcp' | 'udp', address: string, port: number, ipv6Only: boolean)");
  }
  const std::string kind = info[0].As<Napi::String>();
  const std::string address = info[1].As<Napi::String>();
  const int64_t port = info[2].As<Napi::Number>().Int64Value();
  const bool v6only = info[3].As<Napi::Boolean>();
  if (kind != "tcp" && kind != "udp") throw Napi::TypeError::New(env, "kind must be 'tcp' or 'udp'");
  const int type = kind == "tcp" ? SOCK_STREAM : SOCK_DGRAM;
  const int fd = meshd_socket::BindSocket(env, address, port, {type, v6only, /*reuse_port=*/true, /*transparent=*/false});
  return Napi::Number::New(env, fd);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("bindReusePort", Napi::Function::New(env, BindReusePort, "bindReusePort"));
  return exports;
}

}  // namespace

NODE_API_MODULE(meshd_reuseport, Init)
