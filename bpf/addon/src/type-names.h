// Names of map, program, link and attach types as libbpf spells them ('hash', 'lpm_trie',
// 'cgroup_sock_addr', 'cgroup'), and back. A number libbpf 1.1 does not know (a newer kernel's
// type) round-trips as its decimal string, so nothing is lost or refused for being new.
#pragma once

#include <linux/bpf.h>

#include <optional>
#include <string>

namespace meshd_bpf {

std::string MapTypeName(unsigned type);
std::optional<unsigned> MapTypeFromName(const std::string& name);
std::string ProgramTypeName(unsigned type);
std::string LinkTypeName(unsigned type);
std::string AttachTypeName(unsigned type);

// Types whose values the kernel keeps once per possible CPU: user space reads and writes
// round_up(value_size, 8) * nr_cpus bytes for each element.
bool IsPerCpuMapType(unsigned type);

}  // namespace meshd_bpf
