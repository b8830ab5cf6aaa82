// Errors shaped like Node's system errors: `code` ('EPERM'), `errno` (negative, -1 for EPERM),
// `syscall` (the libbpf or bpf() call that failed) and `path` when a file was involved. This is the
// one place where errno values become codes (STYLE.md: each boundary translates in one place).
#pragma once

#include <napi.h>

#include <string>

namespace meshd_bpf {

// Linux's ENOTSUPP (524) is kernel-internal but leaks out of bpf(), e.g. for batch operations on
// map types without them; glibc has no name for it.
constexpr int kErrnoNotSupp = 524;

struct SystemErrorInfo {
  int err = 0;              // positive errno
  std::string syscall;      // e.g. "bpf_object__load"
  std::string path;         // pin path or file, empty when none
  std::string detail;       // what we were doing, in words (map/program name, sizes)
  std::string log_tail;     // libbpf's last log lines (verifier output), empty when none
};

// Builds the error object (an instance of the registered BpfSystemError class when index.ts has
// registered it). Never throws itself.
Napi::Value MakeSystemError(Napi::Env env, const SystemErrorInfo& info);

// Throws the error above as a C++ exception; node-addon-api turns it into a JS throw.
[[noreturn]] void ThrowSystemError(Napi::Env env, const SystemErrorInfo& info);

[[noreturn]] inline void ThrowErrno(Napi::Env env, int err, const char* syscall, std::string detail = {},
                                    std::string path = {}) {
  ThrowSystemError(env, SystemErrorInfo{err, syscall, std::move(path), std::move(detail), {}});
}

// 'EPERM' for 1, 'ENOTSUPP' for 524, 'E<n>' for numbers glibc has no name for.
std::string ErrnoCode(int err);

}  // namespace meshd_bpf
