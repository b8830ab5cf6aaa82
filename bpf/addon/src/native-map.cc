#include "native-map.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "addon-data.h"
#include "errors.h"
#include "napi-args.h"
#include "type-names.h"

namespace meshd_bpf {

namespace {

size_t RoundUp8(size_t n) { return (n + 7) & ~size_t{7}; }

}  // namespace

MapInit DescribeMapFd(Napi::Env env, UniqueFd fd, const std::string& name, const std::string& path_for_errors) {
  if (BpfFdKind(fd.Get()) != "bpf-map") {
    ThrowErrno(env, EINVAL, "bpf_obj_get_info_by_fd", "not a BPF map", path_for_errors);
  }
  struct bpf_map_info info;
  memset(&info, 0, sizeof info);
  __u32 length = sizeof info;
  if (bpf_obj_get_info_by_fd(fd.Get(), &info, &length) != 0) {
    ThrowErrno(env, errno, "bpf_obj_get_info_by_fd", name.empty() ? std::string() : "map '" + name + "'",
               path_for_errors);
  }
  MapInit init;
  init.fd = std::move(fd);
  init.name = name.empty() ? std::string(info.name) : name;
  init.type = info.type;
  init.key_size = info.key_size;
  init.value_size = info.value_size;
  init.max_entries = info.max_entries;
  init.flags = info.map_flags;
  init.id = info.id;
  return init;
}

Napi::Function NativeMap::Define(Napi::Env env) {
  return DefineClass(env, "NativeMap",
                     {
                         StaticMethod<&NativeMap::OpenPinned>("openPinned"),
                         StaticMethod<&NativeMap::Create>("create"),
                         StaticMethod<&NativeMap::OpenById>("openById"),
                         InstanceAccessor<&NativeMap::Fd>("fd"),
                         InstanceMethod<&NativeMap::Info>("info"),
                         InstanceMethod<&NativeMap::Lookup>("lookup"),
                         InstanceMethod<&NativeMap::Update>("update"),
                         InstanceMethod<&NativeMap::Delete>("delete"),
                         InstanceMethod<&NativeMap::UpdateBatch>("updateBatch"),
                         InstanceMethod<&NativeMap::DeleteBatch>("deleteBatch"),
                         InstanceMethod<&NativeMap::Keys>("keys"),
                         InstanceMethod<&NativeMap::Entries>("entries"),
                         InstanceMethod<&NativeMap::SetInner>("setInner"),
                         InstanceMethod<&NativeMap::Pin>("pin"),
                         InstanceMethod<&NativeMap::Unpin>("unpin"),
                         InstanceMethod<&NativeMap::Close>("close"),
                     });
}

Napi::Object NativeMap::NewInstance(Napi::Env env, MapInit&& init) {
  // The constructor moves the fd out of `init` only once it runs; if New() fails before that,
  // `init` still owns the fd and closes it.
  return GetAddonData(env).map_constructor.New({Napi::External<MapInit>::New(env, &init)});
}

NativeMap::NativeMap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeMap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "NativeMap is created by openPinned(), create() or an object's map()");
  }
  map_ = std::move(*info[0].As<Napi::External<MapInit>>().Data());
}

Napi::Value NativeMap::OpenPinned(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd.Valid()) ThrowErrno(env, errno, "bpf_obj_get", {}, path);
  return NewInstance(env, DescribeMapFd(env, std::move(fd), {}, path));
}

// openById(id): bpf_map_get_fd_by_id, e.g. for the inner map a map of maps names by id.
Napi::Value NativeMap::OpenById(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t id = Uint32Arg(info, 0, "id");
  UniqueFd fd(bpf_map_get_fd_by_id(id));
  if (!fd.Valid()) ThrowErrno(env, errno, "bpf_map_get_fd_by_id", "map id " + std::to_string(id));
  return NewInstance(env, DescribeMapFd(env, std::move(fd), {}, {}));
}

// create({ type, keySize, valueSize, maxEntries, flags, name, innerMapFd })
Napi::Value NativeMap::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "create() takes an options object");
  Napi::Object options = info[0].As<Napi::Object>();
  auto number = [&](const char* key, bool required) -> uint32_t {
    Napi::Value value = options.Get(key);
    if (value.IsUndefined() && !required) return 0;
    if (!value.IsNumber()) throw Napi::TypeError::New(env, std::string(key) + " must be a number");
    return value.As<Napi::Number>().Uint32Value();
  };
  Napi::Value type_value = options.Get("type");
  if (!type_value.IsString()) throw Napi::TypeError::New(env, "type must be a map type name");
  std::string type_name = type_value.As<Napi::String>().Utf8Value();
  std::optional<unsigned> type = MapTypeFromName(type_name);
  if (!type) ThrowErrno(env, EINVAL, "bpf_map_create", "unknown map type '" + type_name + "'");
  std::string name;
  if (options.Get("name").IsString()) name = options.Get("name").As<Napi::String>().Utf8Value();

  LIBBPF_OPTS(bpf_map_create_opts, create_options);
  create_options.map_flags = number("flags", false);
  Napi::Value inner = options.Get("innerMapFd");
  if (!inner.IsUndefined()) {
    if (!inner.IsNumber() || inner.As<Napi::Number>().Int32Value() < 0) {
      ThrowErrno(env, EBADF, "bpf_map_create", "innerMapFd is not an open map");
    }
    create_options.inner_map_fd = inner.As<Napi::Number>().Uint32Value();
  }
  UniqueFd fd(bpf_map_create(static_cast<enum bpf_map_type>(*type), name.empty() ? nullptr : name.c_str(),
                             number("keySize", true), number("valueSize", true), number("maxEntries", true),
                             &create_options));
  if (!fd.Valid()) {
    ThrowErrno(env, errno, "bpf_map_create", "type " + type_name + (name.empty() ? "" : ", name '" + name + "'"));
  }
  return NewInstance(env, DescribeMapFd(env, std::move(fd), name, {}));
}

int NativeMap::OpenFd(Napi::Env env, const char* syscall) const {
  if (!map_.fd.Valid()) ThrowErrno(env, EBADF, syscall, Describe() + " is closed");
  return map_.fd.Get();
}

size_t NativeMap::ValueBytes() const {
  if (!IsPerCpuMapType(map_.type)) return map_.value_size;
  static const int possible_cpus = std::max(1, libbpf_num_possible_cpus());
  return RoundUp8(map_.value_size) * static_cast<size_t>(possible_cpus);
}

std::string NativeMap::Describe() const {
  return map_.name.empty() ? "map id " + std::to_string(map_.id) : "map '" + map_.name + "'";
}

void NativeMap::CheckSize(Napi::Env env, size_t actual, size_t expected, const char* what,
                          const char* syscall) const {
  if (actual != expected) {
    ThrowErrno(env, EINVAL, syscall,
               Describe() + ": " + what + " is " + std::to_string(actual) + " bytes, the map takes " +
                   std::to_string(expected));
  }
}

Napi::Value NativeMap::Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), map_.fd.Get()); }

Napi::Value NativeMap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", map_.name);
  out.Set("type", MapTypeName(map_.type));
  out.Set("keySize", map_.key_size);
  out.Set("valueSize", map_.value_size);
  out.Set("maxEntries", map_.max_entries);
  out.Set("flags", map_.flags);
  out.Set("id", map_.id);
  out.Set("valueBytes", static_cast<double>(ValueBytes()));
  return out;
}

Napi::Value NativeMap::Lookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_map_lookup_elem");
  auto key = BufferArg(info, 0, "key");
  CheckSize(env, key.Length(), map_.key_size, "key", "bpf_map_lookup_elem");
  auto value = Napi::Buffer<uint8_t>::New(env, ValueBytes());
  if (bpf_map_lookup_elem(fd, key.Data(), value.Data()) != 0) {
    if (errno == ENOENT) return env.Undefined();
    ThrowErrno(env, errno, "bpf_map_lookup_elem", Describe());
  }
  return value;
}

// update(key, value, flags): flags is BPF_ANY / BPF_NOEXIST / BPF_EXIST (index.ts maps the names).
Napi::Value NativeMap::Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_map_update_elem");
  auto key = BufferArg(info, 0, "key");
  auto value = BufferArg(info, 1, "value");
  uint32_t flags = info[2].IsUndefined() ? uint32_t{BPF_ANY} : Uint32Arg(info, 2, "flags");
  CheckSize(env, key.Length(), map_.key_size, "key", "bpf_map_update_elem");
  CheckSize(env, value.Length(), ValueBytes(), "value", "bpf_map_update_elem");
  if (bpf_map_update_elem(fd, key.Data(), value.Data(), flags) != 0) {
    ThrowErrno(env, errno, "bpf_map_update_elem", Describe());
  }
  return env.Undefined();
}

Napi::Value NativeMap::Delete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_map_delete_elem");
  auto key = BufferArg(info, 0, "key");
  CheckSize(env, key.Length(), map_.key_size, "key", "bpf_map_delete_elem");
  if (bpf_map_delete_elem(fd, key.Data()) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(env, false);
    ThrowErrno(env, errno, "bpf_map_delete_elem", Describe());
  }
  return Napi::Boolean::New(env, true);
}

Napi::Value NativeMap::SetInner(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_map_update_elem");
  auto key = BufferArg(info, 0, "key");
  int inner_fd = FdArg(info, 1, "inner map");
  if (map_.type != BPF_MAP_TYPE_HASH_OF_MAPS && map_.type != BPF_MAP_TYPE_ARRAY_OF_MAPS) {
    ThrowErrno(env, EINVAL, "bpf_map_update_elem", Describe() + " is a " + MapTypeName(map_.type) + ", not a map of maps");
  }
  CheckSize(env, key.Length(), map_.key_size, "key", "bpf_map_update_elem");
  // For maps of maps user space writes the inner map's fd; the kernel stores the map itself.
  __u32 value = static_cast<__u32>(inner_fd);
  if (bpf_map_update_elem(fd, key.Data(), &value, BPF_ANY) != 0) {
    ThrowErrno(env, errno, "bpf_map_update_elem", Describe() + ": inner map");
  }
  return env.Undefined();
}

Napi::Value NativeMap::Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_obj_pin");
  std::string path = StringArg(info, 0, "path");
  if (bpf_obj_pin(fd, path.c_str()) != 0) ThrowErrno(env, errno, "bpf_obj_pin", Describe(), path);
  return env.Undefined();
}

Napi::Value NativeMap::Unpin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  if (unlink(path.c_str()) != 0) ThrowErrno(env, errno, "unlink", Describe(), path);
  return env.Undefined();
}

Napi::Value NativeMap::Close(const Napi::CallbackInfo& info) {
  map_.fd.Reset();
  return info.Env().Undefined();
}

}  // namespace meshd_bpf
