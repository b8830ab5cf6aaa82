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
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <napi.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

Napi::Error SystemError(Napi::Env env, int err, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + " failed: " + std::strerror(err));
  const char* code = err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == EINVAL ? "EINVAL" : err == EPERM ? "EPERM" : "EIO";
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

Napi::Value BindTransparent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsBoolean() || !info[3].IsBoolean()) {
    throw Napi::TypeError::New(env, "bindTransparent(address: string, port: number, ipv6Only: boolean, reusePort: boolean)");
  }
  const std::string address = info[0].As<Napi::String>();
  const int64_t port = info[1].As<Napi::Number>().Int64Value();
  const bool v6only = info[2].As<Napi::Boolean>();
  const bool reuse_port = info[3].As<Napi::Boolean>();
  if (port < 0 || port > 65535) throw Napi::RangeError::New(env, "port must be in [0, 65535]");

  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    family = AF_INET6;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in6);
  } else {
    throw Napi::TypeError::New(env, "address must be an IPv4 or IPv6 literal: " + address);
  }

  const int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw SystemError(env, errno, "socket");
  const int one = 1;
  const int v6only_value = v6only ? 1 : 0;
  const char* failed = nullptr;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) failed = "setsockopt(SO_REUSEADDR)";
  else if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) failed = "setsockopt(SO_REUSEPORT)";
  else if (family == AF_INET && setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) != 0) failed = "setsockopt(IP_TRANSPARENT)";
  else if (family == AF_INET6 && setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) != 0) failed = "setsockopt(IPV6_TRANSPARENT)";
  else if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only_value, sizeof(v6only_value)) != 0) failed = "setsockopt(IPV6_V6ONLY)";
  else if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) failed = "bind";
  if (failed != nullptr) {
    const int err = errno;
    close(fd);
    throw SystemError(env, err, failed);
  }
  return Napi::Number::New(env, fd);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("bindTransparent", Napi::Function::New(env, BindTransparent, "bindTransparent"));
  return exports;
}

}  // namespace

NODE_API_MODULE(meshd_transparent, Init)
