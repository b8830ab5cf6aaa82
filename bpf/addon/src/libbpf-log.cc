#include "libbpf-log.h"

#include <stdarg.h>
#include <stdio.h>

#include "addon-data.h"

namespace meshd_bpf {

namespace {

thread_local LibbpfLogScope* current_scope = nullptr;

// Enough for the verifier's verdict, its statistics and libbpf's summary after it.
constexpr size_t kTailLines = 40;
constexpr size_t kTailBytes = 6000;

int PrintToScope(enum libbpf_print_level level, const char* format, va_list args) {
  LibbpfLogScope* scope = current_scope;
  // Warnings are always kept (they end up in error messages); chatter only when someone listens.
  if (scope == nullptr || (level != LIBBPF_WARN && !scope->HasLogger())) return 0;
  va_list copy;
  va_copy(copy, args);
  int length = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (length <= 0) return length;
  std::string text(static_cast<size_t>(length) + 1, '\0');
  vsnprintf(text.data(), text.size(), format, args);
  text.resize(static_cast<size_t>(length));
  try {
    scope->Append(level, text);
  } catch (...) {
    // Out of memory while logging: drop the line rather than unwind through libbpf's C frames.
  }
  return length;
}

const char* MethodName(enum libbpf_print_level level) {
  switch (level) {
    case LIBBPF_WARN:
      return "warn";
    case LIBBPF_INFO:
      return "info";
    default:
      return "debug";
  }
}

}  // namespace

void InstallLibbpfPrint() { libbpf_set_print(PrintToScope); }

LibbpfLogScope::LibbpfLogScope(Napi::Env env, const Napi::ObjectReference* object_logger)
    : env_(env), previous_(current_scope) {
  if (object_logger != nullptr && !object_logger->IsEmpty()) {
    logger_ = object_logger->Value();
  } else {
    AddonData& data = GetAddonData(env);
    if (!data.global_logger.IsEmpty()) logger_ = data.global_logger.Value();
  }
  current_scope = this;
}

LibbpfLogScope::~LibbpfLogScope() {
  current_scope = previous_;
  Deliver();
}

void LibbpfLogScope::Append(enum libbpf_print_level level, const std::string& text) {
  std::string& pending = partial_[level];
  pending += text;
  size_t start = 0;
  for (size_t newline; (newline = pending.find('\n', start)) != std::string::npos; start = newline + 1) {
    lines_.push_back(Line{level, pending.substr(start, newline - start)});
  }
  pending.erase(0, start);
}

std::string LibbpfLogScope::WarningTail() const {
  std::vector<const std::string*> tail;
  size_t bytes = 0;
  for (auto it = lines_.rbegin(); it != lines_.rend() && tail.size() < kTailLines; ++it) {
    if (it->level != LIBBPF_WARN || it->text.empty()) continue;
    if (bytes + it->text.size() + 1 > kTailBytes) break;
    bytes += it->text.size() + 1;
    tail.push_back(&it->text);
  }
  std::string out;
  for (auto it = tail.rbegin(); it != tail.rend(); ++it) {
    if (!out.empty()) out += '\n';
    out += **it;
  }
  return out;
}

// Runs in the destructor, possibly while a C++ exception unwinds: nothing may escape from here.
void LibbpfLogScope::Deliver() noexcept {
  for (int level = LIBBPF_WARN; level <= LIBBPF_DEBUG; ++level) {
    if (!partial_[level].empty()) lines_.push_back(Line{static_cast<enum libbpf_print_level>(level), partial_[level]});
  }
  if (logger_.IsEmpty() || lines_.empty()) return;
  try {
    Napi::HandleScope scope(env_);
    for (const Line& line : lines_) {
      Napi::Value method = logger_.Get(MethodName(line.level));
      if (!method.IsFunction()) continue;
      method.As<Napi::Function>().Call(logger_, {Napi::String::New(env_, line.text)});
    }
  } catch (...) {
    // A logger that throws must not turn a successful load into a failure, nor hide the real
    // error of a failed one. Napi::Error has already taken the JS exception off the env.
  }
}

}  // namespace meshd_bpf
