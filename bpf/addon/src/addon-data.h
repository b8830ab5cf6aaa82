// Per-environment state of the addon (one per Node thread that loads it): the constructors the
// native side needs to create instances of its own classes, the JS error class errors are built
// from, and the global libbpf logger. Stored with napi_set_instance_data, so worker threads
// each get their own.
#pragma once

#include <napi.h>

namespace meshd_bpf {

struct AddonData {
  Napi::FunctionReference map_constructor;
  Napi::FunctionReference program_constructor;
  Napi::FunctionReference link_constructor;
  Napi::FunctionReference object_constructor;
  Napi::FunctionReference ring_buffer_constructor;
  // BpfSystemError from index.ts (registered at load); plain Error with the same fields until then.
  Napi::FunctionReference error_class;
  // setLibbpfLogger(): receives libbpf's output when the object being worked on has no logger.
  Napi::ObjectReference global_logger;
};

inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace meshd_bpf
