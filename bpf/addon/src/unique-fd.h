// A file descriptor owned by exactly one C++ object: closed by its destructor, so every early
// return and every exception path closes it without a hand-written cleanup.
#pragma once

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace meshd_bpf {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }

  int Get() const { return fd_; }
  bool Valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A private copy of an fd that libbpf owns, so our handle outlives bpf_object__close. CLOEXEC like
// every fd the bpf() syscall returns: a link or map fd inherited by a child process would keep the
// object alive (and a link attached) after we closed ours. The minimum of 3 keeps stdio numbers free,
// as libbpf itself does.
inline int DupCloexec(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 3); }

// What /proc/self/fd/N links to after "anon_inode:": "bpf-map", "bpf-prog", and "bpf_link" or
// "bpf-link" (the kernel spells it both ways, for new and re-opened links); empty for anything
// else. bpf_obj_get opens any pinned object, so this is how a map pin is told from a link pin.
inline std::string BpfFdKind(int fd) {
  char link_path[64];
  snprintf(link_path, sizeof link_path, "/proc/self/fd/%d", fd);
  char target[128];
  ssize_t length = readlink(link_path, target, sizeof target - 1);
  if (length < 0) return {};
  target[length] = '\0';
  static constexpr char kPrefix[] = "anon_inode:";
  if (strncmp(target, kPrefix, sizeof kPrefix - 1) != 0) return {};
  return target + sizeof kPrefix - 1;
}

}  // namespace meshd_bpf
