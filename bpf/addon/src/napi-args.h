// Argument readers shared by the native classes. Sizes are checked here, before any pointer goes
// to the kernel: a Buffer shorter than the map's key would let bpf() read past its end.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "errors.h"

namespace meshd_bpf {

inline Napi::Buffer<uint8_t> BufferArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (!info[index].IsBuffer()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a Buffer");
  return info[index].As<Napi::Buffer<uint8_t>>();
}

inline std::string StringArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (!info[index].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[index].As<Napi::String>().Utf8Value();
}

inline uint32_t Uint32Arg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (!info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  double value = info[index].As<Napi::Number>().DoubleValue();
  if (!(value >= 0 && value <= 4294967295.0) || value != static_cast<double>(static_cast<uint32_t>(value))) {
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be an integer from 0 to 2^32-1");
  }
  return static_cast<uint32_t>(value);
}

inline int FdArg(const Napi::CallbackInfo& info, size_t index, const char* what) {
  if (!info[index].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a file descriptor");
  int fd = info[index].As<Napi::Number>().Int32Value();
  if (fd < 0) ThrowErrno(info.Env(), EBADF, "fcntl", std::string(what) + " is closed");
  return fd;
}

}  // namespace meshd_bpf
