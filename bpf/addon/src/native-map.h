// NativeMap: one owned fd of a BPF map plus what the kernel says about it (type, sizes, id).
// Created from an object's map (a private dup of libbpf's fd), a pin, or bpf_map_create.
#pragma once

#include <napi.h>

#include <string>

#include "unique-fd.h"

namespace meshd_bpf {

struct MapInit {
  UniqueFd fd;
  std::string name;
  unsigned type = 0;
  unsigned key_size = 0;
  unsigned value_size = 0;
  unsigned max_entries = 0;
  unsigned flags = 0;
  unsigned id = 0;
};

// Fills a MapInit from the kernel's view of `fd` (bpf_obj_get_info_by_fd). `name` replaces the
// kernel's name, which is cut at 15 characters, when not empty. Throws on failure; `fd` is closed then.
MapInit DescribeMapFd(Napi::Env env, UniqueFd fd, const std::string& name, const std::string& path_for_errors);

class NativeMap : public Napi::ObjectWrap<NativeMap> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, MapInit&& init);

  explicit NativeMap(const Napi::CallbackInfo& info);

 private:
  enum class BatchSupport { kUnknown, kSupported, kUnsupported };

  static Napi::Value OpenPinned(const Napi::CallbackInfo& info);
  static Napi::Value Create(const Napi::CallbackInfo& info);
  static Napi::Value OpenById(const Napi::CallbackInfo& info);

  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Lookup(const Napi::CallbackInfo& info);
  Napi::Value Update(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value UpdateBatch(const Napi::CallbackInfo& info);
  Napi::Value DeleteBatch(const Napi::CallbackInfo& info);
  Napi::Value Keys(const Napi::CallbackInfo& info);
  Napi::Value Entries(const Napi::CallbackInfo& info);
  Napi::Value SetInner(const Napi::CallbackInfo& info);
  Napi::Value Pin(const Napi::CallbackInfo& info);
  Napi::Value Unpin(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  int OpenFd(Napi::Env env, const char* syscall) const;
  size_t ValueBytes() const;
  std::string Describe() const;
  void CheckSize(Napi::Env env, size_t actual, size_t expected, const char* what, const char* syscall) const;
  Napi::Array CollectKeys(Napi::Env env, int fd);
  Napi::Array EntriesByLookupBatch(Napi::Env env, int fd, bool* unsupported);
  Napi::Array EntriesByKeys(Napi::Env env, int fd);

  MapInit map_;
  BatchSupport update_batch_ = BatchSupport::kUnknown;
  BatchSupport delete_batch_ = BatchSupport::kUnknown;
  BatchSupport lookup_batch_ = BatchSupport::kUnknown;
};

}  // namespace meshd_bpf
