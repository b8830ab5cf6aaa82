#include "errors.h"

#include <bpf/libbpf.h>
#include <string.h>

#include <cctype>

#include "addon-data.h"

namespace meshd_bpf {

std::string ErrnoCode(int err) {
  if (err == kErrnoNotSupp) return "ENOTSUPP";
  const char* name = strerrorname_np(err);  // glibc 2.32+ (Debian 12 has 2.36)
  return name != nullptr ? name : "E" + std::to_string(err);
}

static std::string Describe(int err) {
  if (err == kErrnoNotSupp) return "operation not supported for this map or program type";
  char buf[256];
  std::string text;
  if (err >= __LIBBPF_ERRNO__START && err < __LIBBPF_ERRNO__END) {
    // libbpf's own numbers (LIBBPF_ERRNO__*, e.g. 4001 for a file that is not ELF): strerror
    // only knows them as "Unknown error 4001", libbpf_strerror has their words.
    libbpf_strerror(err, buf, sizeof buf);
    text = buf;
  } else {
    text = strerror_r(err, buf, sizeof buf);  // GNU variant: returns the message
  }
  // Node's system errors use libuv's lower-case wording ("no such file or directory"); an
  // acronym ("BPF object format invalid") keeps its capitals.
  if (text.size() > 1 && std::islower(static_cast<unsigned char>(text[1]))) {
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  }
  return text;
}

Napi::Value MakeSystemError(Napi::Env env, const SystemErrorInfo& info) {
  std::string code = ErrnoCode(info.err);
  // Node's format: "ENOENT: no such file or directory, open '/x'"; what we were doing goes in
  // parentheses after the description, the libbpf log tail on the following lines.
  std::string message = code + ": " + Describe(info.err);
  if (!info.detail.empty()) message += " (" + info.detail + ")";
  message += ", " + info.syscall;
  if (!info.path.empty()) message += " '" + info.path + "'";
  if (!info.log_tail.empty()) message += "\n" + info.log_tail;

  Napi::Value path = info.path.empty() ? env.Undefined() : Napi::String::New(env, info.path);
  AddonData& data = GetAddonData(env);
  try {
    if (!data.error_class.IsEmpty()) {
      return data.error_class.New({Napi::String::New(env, message), Napi::String::New(env, code),
                                   Napi::Number::New(env, -info.err), Napi::String::New(env, info.syscall), path});
    }
    Napi::Error error = Napi::Error::New(env, message);
    error.Set("code", code);
    error.Set("errno", Napi::Number::New(env, -info.err));
    error.Set("syscall", info.syscall);
    if (!info.path.empty()) error.Set("path", path);
    return error.Value();
  } catch (const Napi::Error& failure) {
    return failure.Value();  // the error class itself threw: report that rather than nothing
  }
}

void ThrowSystemError(Napi::Env env, const SystemErrorInfo& info) {
  throw Napi::Error(env, MakeSystemError(env, info));
}

}  // namespace meshd_bpf
