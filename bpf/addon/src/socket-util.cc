#include "socket-util.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace meshd_socket {

Napi::Error SystemError(Napi::Env env, int err, const char* syscall) {
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + " failed: " + std::strerror(err));
  const char* code = err == EADDRINUSE ? "EADDRINUSE" : err == EACCES ? "EACCES" : err == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : err == EINVAL ? "EINVAL" : err == EPERM ? "EPERM" : "EIO";
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

int BindSocket(Napi::Env env, const std::string& address, int64_t port, const BindOptions& options) {
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

  const int fd = socket(family, options.type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw SystemError(env, errno, "socket");
  const int one = 1;
  const int v6only_value = options.v6only ? 1 : 0;
  const char* failed = nullptr;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) failed = "setsockopt(SO_REUSEADDR)";
  else if (options.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) failed = "setsockopt(SO_REUSEPORT)";
  else if (options.transparent && family == AF_INET && setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one, sizeof(one)) != 0) failed = "setsockopt(IP_TRANSPARENT)";
  else if (options.transparent && family == AF_INET6 && setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one, sizeof(one)) != 0) failed = "setsockopt(IPV6_TRANSPARENT)";
  else if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only_value, sizeof(v6only_value)) != 0) failed = "setsockopt(IPV6_V6ONLY)";
  else if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) failed = "bind";
  if (failed != nullptr) {
    const int err = errno;
    close(fd);
    throw SystemError(env, err, failed);
  }
  return fd;
}

}  // namespace meshd_socket
