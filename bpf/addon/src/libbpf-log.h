// libbpf's output (libbpf_set_print) into the caller's logger. The print callback is global to the
// process, but every libbpf call we make is synchronous on a JS thread, so each native method that
// calls into libbpf opens a scope: lines printed while it is open are collected (thread-local, so
// worker threads do not mix) and handed to that scope's logger when the method returns — the
// logger of the object being opened or loaded, else the one from setLibbpfLogger(). Collecting
// instead of calling JS from inside the callback keeps JS exceptions out of libbpf's C frames, and
// lets a failed load put the verifier's last lines into the error message.
#pragma once

#include <bpf/libbpf.h>
#include <napi.h>

#include <string>
#include <vector>

namespace meshd_bpf {

void InstallLibbpfPrint();

class LibbpfLogScope {
 public:
  // `object_logger` may be null or empty: the global logger is used then (or none).
  LibbpfLogScope(Napi::Env env, const Napi::ObjectReference* object_logger);
  ~LibbpfLogScope();
  LibbpfLogScope(const LibbpfLogScope&) = delete;
  LibbpfLogScope& operator=(const LibbpfLogScope&) = delete;

  // The last warning lines (where libbpf puts the verifier log of a failed load), for error messages.
  std::string WarningTail() const;

  // Called by the print callback.
  void Append(enum libbpf_print_level level, const std::string& text);
  bool HasLogger() const { return !logger_.IsEmpty(); }

 private:
  struct Line {
    enum libbpf_print_level level;
    std::string text;
  };
  void Deliver() noexcept;

  Napi::Env env_;
  Napi::Object logger_;
  std::vector<Line> lines_;
  std::string partial_[LIBBPF_DEBUG + 1];
  LibbpfLogScope* previous_;
};

}  // namespace meshd_bpf
