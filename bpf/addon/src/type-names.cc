#include "type-names.h"

#include <bpf/libbpf.h>

#include <cstdlib>

namespace meshd_bpf {

namespace {

// libbpf's tables are indexed by the enum; this bounds the reverse search well past the
// 33 map types of libbpf 1.1.
constexpr unsigned kMaxMapTypeSearched = 256;

std::string OrNumber(const char* name, unsigned value) { return name != nullptr ? name : std::to_string(value); }

}  // namespace

std::string MapTypeName(unsigned type) {
  return OrNumber(libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(type)), type);
}

std::optional<unsigned> MapTypeFromName(const std::string& name) {
  for (unsigned type = 0; type < kMaxMapTypeSearched; ++type) {
    const char* known = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(type));
    if (known != nullptr && name == known) return type;
  }
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos && name.size() < 10) {
    return static_cast<unsigned>(std::strtoul(name.c_str(), nullptr, 10));
  }
  return std::nullopt;
}

std::string ProgramTypeName(unsigned type) {
  return OrNumber(libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(type)), type);
}

std::string LinkTypeName(unsigned type) {
  return OrNumber(libbpf_bpf_link_type_str(static_cast<enum bpf_link_type>(type)), type);
}

std::string AttachTypeName(unsigned type) {
  return OrNumber(libbpf_bpf_attach_type_str(static_cast<enum bpf_attach_type>(type)), type);
}

bool IsPerCpuMapType(unsigned type) {
  switch (type) {
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
      return true;
    default:
      return false;
  }
}

}  // namespace meshd_bpf
