// Shared by meshd_reuseport.node and meshd_transparent.node (each links its own copy of
// socket-util.cc): an IPv4/IPv6 socket bound before Node adopts it by fd, and the Node-style
// system error both modules throw.
#pragma once

#include <cstdint>
#include <napi.h>
#include <string>

namespace meshd_socket {

// An Error with code ('EADDRINUSE', …), errno (negative, as Node's) and syscall.
Napi::Error SystemError(Napi::Env env, int err, const char* syscall);

struct BindOptions {
  int type;          // SOCK_STREAM or SOCK_DGRAM; SOCK_NONBLOCK | SOCK_CLOEXEC are added
  bool v6only;       // IPV6_V6ONLY (IPv6 addresses only)
  bool reuse_port;   // SO_REUSEPORT
  bool transparent;  // IP_TRANSPARENT / IPV6_TRANSPARENT
};

// Checks port, parses address (an IPv4 or IPv6 literal), creates the socket with SO_REUSEADDR and
// the options asked for, and binds it. Returns the fd (bound, not listening); throws a TypeError
// or RangeError for bad arguments and SystemError when a syscall fails (the fd is closed then).
int BindSocket(Napi::Env env, const std::string& address, int64_t port, const BindOptions& options);

}  // namespace meshd_socket
