#include "native-object.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <errno.h>
#include <string.h>

#include <memory>
#include <vector>

#include "addon-data.h"
#include "errors.h"
#include "libbpf-log.h"
#include "napi-args.h"
#include "native-map.h"
#include "native-program.h"

namespace meshd_bpf {

namespace {

struct ObjectCloser {
  void operator()(struct bpf_object* object) const { bpf_object__close(object); }
};
using ObjectPtr = std::unique_ptr<struct bpf_object, ObjectCloser>;

// Sets the `const volatile` global `name` before load. Its place comes from the object's BTF:
// the DATASEC of a .rodata section lists each variable with its offset and size. clang drops
// globals the program never reads, so "not found" usually means "unused".
void SetRodata(Napi::Env env, struct bpf_object* object, const std::string& object_path, const std::string& name,
               const Napi::Buffer<uint8_t>& value) {
  const struct btf* btf = bpf_object__btf(object);
  if (btf == nullptr) ThrowErrno(env, ENOENT, "bpf_object__btf", "the object has no BTF, so rodata cannot be set", object_path);
  const __u32 type_count = btf__type_cnt(btf);
  for (__u32 id = 1; id < type_count; ++id) {
    const struct btf_type* section = btf__type_by_id(btf, id);
    if (!btf_is_datasec(section)) continue;
    const char* section_name = btf__name_by_offset(btf, section->name_off);
    if (section_name == nullptr || strncmp(section_name, ".rodata", 7) != 0) continue;
    const struct btf_var_secinfo* variable = btf_var_secinfos(section);
    for (__u16 i = 0; i < btf_vlen(section); ++i, ++variable) {
      const struct btf_type* var_type = btf__type_by_id(btf, variable->type);
      const char* var_name = btf__name_by_offset(btf, var_type->name_off);
      if (var_name == nullptr || name != var_name) continue;
      if (value.Length() != variable->size) {
        ThrowErrno(env, EINVAL, "bpf_map__set_initial_value",
                   "rodata '" + name + "' is " + std::to_string(variable->size) + " bytes, got " +
                       std::to_string(value.Length()),
                   object_path);
      }
      struct bpf_map* map = bpf_object__find_map_by_name(object, section_name);
      size_t size = 0;
      const void* current = map != nullptr ? bpf_map__initial_value(map, &size) : nullptr;
      if (current == nullptr || static_cast<size_t>(variable->offset) + variable->size > size) {
        ThrowErrno(env, ENOENT, "bpf_map__initial_value", "no data for section " + std::string(section_name), object_path);
      }
      std::vector<uint8_t> data(static_cast<const uint8_t*>(current), static_cast<const uint8_t*>(current) + size);
      memcpy(data.data() + variable->offset, value.Data(), value.Length());
      if (bpf_map__set_initial_value(map, data.data(), data.size()) != 0) {
        ThrowErrno(env, errno, "bpf_map__set_initial_value", "rodata '" + name + "'", object_path);
      }
      return;
    }
  }
  ThrowErrno(env, ENOENT, "btf__find_by_name_kind",
             "no const volatile global '" + name + "' in .rodata (clang drops globals no program reads)", object_path);
}

}  // namespace

Napi::Function NativeObject::Define(Napi::Env env) {
  return DefineClass(env, "NativeObject",
                     {
                         StaticMethod<&NativeObject::Open>("open"),
                         InstanceMethod<&NativeObject::Load>("load"),
                         InstanceMethod<&NativeObject::MapNames>("mapNames"),
                         InstanceMethod<&NativeObject::ProgramNames>("programNames"),
                         InstanceMethod<&NativeObject::OpenMap>("map"),
                         InstanceMethod<&NativeObject::OpenProgram>("program"),
                         InstanceMethod<&NativeObject::Close>("close"),
                     });
}

struct NativeObject::Init {
  ObjectPtr object;
  std::string path;
  Napi::ObjectReference logger;
};

NativeObject::NativeObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeObject>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "NativeObject is created by NativeObject.open()");
  }
  Init& init = *info[0].As<Napi::External<Init>>().Data();
  object_ = init.object.release();
  path_ = std::move(init.path);
  logger_ = std::move(init.logger);
}

NativeObject::~NativeObject() {
  // Finalizer of an object JS forgot to close: libbpf closes every fd it holds.
  if (object_ != nullptr) bpf_object__close(object_);
}

// open(path, pinRoot, logger | undefined, rodata: Array<[name, Buffer]>)
Napi::Value NativeObject::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Init init;
  init.path = StringArg(info, 0, "objectPath");
  std::string pin_root = StringArg(info, 1, "pinRoot");
  if (info[2].IsObject()) init.logger = Napi::Persistent(info[2].As<Napi::Object>());
  if (!info[3].IsArray()) throw Napi::TypeError::New(env, "rodata must be an array of [name, Buffer]");
  Napi::Array rodata = info[3].As<Napi::Array>();

  LibbpfLogScope log(env, &init.logger);
  LIBBPF_OPTS(bpf_object_open_opts, options, .pin_root_path = pin_root.c_str());
  init.object.reset(bpf_object__open_file(init.path.c_str(), &options));
  if (!init.object) {
    int err = errno;
    ThrowSystemError(env, SystemErrorInfo{err, "bpf_object__open_file", init.path, {}, log.WarningTail()});
  }
  for (uint32_t i = 0; i < rodata.Length(); ++i) {
    Napi::Value entry = rodata.Get(i);
    if (!entry.IsArray() || !entry.As<Napi::Array>().Get(0u).IsString() || !entry.As<Napi::Array>().Get(1u).IsBuffer()) {
      throw Napi::TypeError::New(env, "rodata entries must be [name, Buffer]");
    }
    Napi::Array pair = entry.As<Napi::Array>();
    SetRodata(env, init.object.get(), init.path, pair.Get(0u).As<Napi::String>().Utf8Value(),
              pair.Get(1u).As<Napi::Buffer<uint8_t>>());
  }
  return GetAddonData(env).object_constructor.New({Napi::External<Init>::New(env, &init)});
}

struct bpf_object* NativeObject::OpenObject(Napi::Env env, const char* syscall) const {
  if (object_ == nullptr) ThrowErrno(env, EBADF, syscall, "the object is closed", path_);
  return object_;
}

Napi::Value NativeObject::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_object* object = OpenObject(env, "bpf_object__load");
  if (loaded_ || load_failed_) {
    ThrowErrno(env, EINVAL, "bpf_object__load", loaded_ ? "already loaded" : "a failed load cannot be retried", path_);
  }
  LibbpfLogScope log(env, &logger_);
  if (bpf_object__load(object) != 0) {
    int err = errno;
    load_failed_ = true;
    ThrowSystemError(env, SystemErrorInfo{err, "bpf_object__load", path_, {}, log.WarningTail()});
  }
  loaded_ = true;
  return env.Undefined();
}

Napi::Value NativeObject::MapNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_object* object = OpenObject(env, "bpf_object__next_map");
  Napi::Array out = Napi::Array::New(env);
  uint32_t count = 0;
  struct bpf_map* map = nullptr;
  // .rodata/.data/.bss are left out: they are the globals, reached through `rodata`, not by name.
  while ((map = bpf_object__next_map(object, map)) != nullptr) {
    if (!bpf_map__is_internal(map)) out.Set(count++, bpf_map__name(map));
  }
  return out;
}

Napi::Value NativeObject::ProgramNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_object* object = OpenObject(env, "bpf_object__next_program");
  Napi::Array out = Napi::Array::New(env);
  uint32_t count = 0;
  struct bpf_program* program = nullptr;
  while ((program = bpf_object__next_program(object, program)) != nullptr) out.Set(count++, bpf_program__name(program));
  return out;
}

Napi::Value NativeObject::OpenMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_object* object = OpenObject(env, "bpf_object__find_map_by_name");
  std::string name = StringArg(info, 0, "name");
  struct bpf_map* map = bpf_object__find_map_by_name(object, name.c_str());
  if (map == nullptr) ThrowErrno(env, ENOENT, "bpf_object__find_map_by_name", "no map '" + name + "' in the object", path_);
  if (!loaded_ || bpf_map__fd(map) < 0) {
    ThrowErrno(env, EINVAL, "bpf_map__fd", "map '" + name + "' exists only after a successful load()", path_);
  }
  UniqueFd fd(DupCloexec(bpf_map__fd(map)));
  if (!fd.Valid()) ThrowErrno(env, errno, "fcntl", "map '" + name + "'");
  return NativeMap::NewInstance(env, DescribeMapFd(env, std::move(fd), bpf_map__name(map), {}));
}

Napi::Value NativeObject::OpenProgram(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_object* object = OpenObject(env, "bpf_object__find_program_by_name");
  std::string name = StringArg(info, 0, "name");
  struct bpf_program* program = bpf_object__find_program_by_name(object, name.c_str());
  if (program == nullptr) {
    ThrowErrno(env, ENOENT, "bpf_object__find_program_by_name", "no program '" + name + "' in the object", path_);
  }
  if (!loaded_ || bpf_program__fd(program) < 0) {
    ThrowErrno(env, EINVAL, "bpf_program__fd", "program '" + name + "' exists only after a successful load()", path_);
  }
  ProgramInit init;
  init.fd = UniqueFd(DupCloexec(bpf_program__fd(program)));
  if (!init.fd.Valid()) ThrowErrno(env, errno, "fcntl", "program '" + name + "'");
  struct bpf_prog_info prog_info;
  memset(&prog_info, 0, sizeof prog_info);
  __u32 length = sizeof prog_info;
  if (bpf_obj_get_info_by_fd(init.fd.Get(), &prog_info, &length) != 0) {
    ThrowErrno(env, errno, "bpf_obj_get_info_by_fd", "program '" + name + "'");
  }
  init.name = name;
  init.section = bpf_program__section_name(program);
  init.type = bpf_program__type(program);
  init.attach_type = bpf_program__expected_attach_type(program);
  init.id = prog_info.id;
  return NativeProgram::NewInstance(env, std::move(init));
}

Napi::Value NativeObject::Close(const Napi::CallbackInfo& info) {
  if (object_ != nullptr) {
    bpf_object__close(object_);
    object_ = nullptr;
  }
  logger_.Reset();
  return info.Env().Undefined();
}

}  // namespace meshd_bpf
