// The whole-map and many-entry operations of NativeMap: batches (BPF_MAP_*_BATCH where the kernel
// has them for the map type, else the same loop here, still one call from JS), every key, every entry.
#include <bpf/bpf.h>
#include <errno.h>
#include <string.h>

#include <algorithm>
#include <vector>

#include "errors.h"
#include "native-map.h"

namespace meshd_bpf {

namespace {

// Entries fetched per BPF_MAP_LOOKUP_BATCH call: bounds the temporary buffers for huge maps.
constexpr uint32_t kLookupBatchChunk = 4096;

// The kernel answers ENOTSUPP (524) when a map type has no batch operation (devmaps, sockmaps,
// prog arrays on 6.18; older kernels also LPM tries and maps of maps); EOPNOTSUPP is accepted
// too in case that changes.
bool IsBatchUnsupported(int err) { return err == kErrnoNotSupp || err == EOPNOTSUPP; }

std::vector<uint8_t> ConcatExact(Napi::Env env, const Napi::Array& items, size_t item_size, const char* what,
                                 const char* syscall, const std::string& map_description) {
  uint32_t count = items.Length();
  std::vector<uint8_t> out(static_cast<size_t>(count) * item_size);
  for (uint32_t i = 0; i < count; ++i) {
    Napi::Value item = items.Get(i);
    if (!item.IsBuffer()) {
      throw Napi::TypeError::New(env, std::string(what) + "[" + std::to_string(i) + "] must be a Buffer");
    }
    auto buffer = item.As<Napi::Buffer<uint8_t>>();
    if (buffer.Length() != item_size) {
      ThrowErrno(env, EINVAL, syscall,
                 map_description + ": " + what + "[" + std::to_string(i) + "] is " + std::to_string(buffer.Length()) +
                     " bytes, the map takes " + std::to_string(item_size));
    }
    if (item_size != 0) memcpy(out.data() + static_cast<size_t>(i) * item_size, buffer.Data(), item_size);
  }
  return out;
}

}  // namespace

Napi::Value NativeMap::UpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_map_update_batch");
  if (!info[0].IsArray() || !info[1].IsArray()) throw Napi::TypeError::New(env, "keys and values must be arrays");
  Napi::Array key_list = info[0].As<Napi::Array>();
  Napi::Array value_list = info[1].As<Napi::Array>();
  if (key_list.Length() != value_list.Length()) {
    ThrowErrno(env, EINVAL, "bpf_map_update_batch",
               Describe() + ": " + std::to_string(key_list.Length()) + " keys but " +
                   std::to_string(value_list.Length()) + " values");
  }
  const size_t value_bytes = ValueBytes();
  std::vector<uint8_t> keys = ConcatExact(env, key_list, map_.key_size, "keys", "bpf_map_update_batch", Describe());
  std::vector<uint8_t> values = ConcatExact(env, value_list, value_bytes, "values", "bpf_map_update_batch", Describe());
  const uint32_t total = key_list.Length();
  if (total == 0) return env.Undefined();

  if (update_batch_ != BatchSupport::kUnsupported) {
    LIBBPF_OPTS(bpf_map_batch_opts, options, .elem_flags = BPF_ANY);
    uint32_t count = total;
    if (bpf_map_update_batch(fd, keys.data(), values.data(), &count, &options) == 0) {
      update_batch_ = BatchSupport::kSupported;
      return env.Undefined();
    }
    int err = errno;
    if (!IsBatchUnsupported(err)) {
      ThrowErrno(env, err, "bpf_map_update_batch",
                 Describe() + ": " + std::to_string(count) + " of " + std::to_string(total) + " updated");
    }
    update_batch_ = BatchSupport::kUnsupported;
  }
  // No batch operation for this map type: the same loop in C++, still one call from JS.
  for (uint32_t i = 0; i < total; ++i) {
    if (bpf_map_update_elem(fd, keys.data() + static_cast<size_t>(i) * map_.key_size,
                            values.data() + static_cast<size_t>(i) * value_bytes, BPF_ANY) != 0) {
      ThrowErrno(env, errno, "bpf_map_update_elem",
                 Describe() + ": " + std::to_string(i) + " of " + std::to_string(total) + " updated");
    }
  }
  return env.Undefined();
}

// Returns how many of the keys were deleted; keys that are not in the map are skipped.
Napi::Value NativeMap::DeleteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_map_delete_batch");
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "keys must be an array");
  Napi::Array key_list = info[0].As<Napi::Array>();
  std::vector<uint8_t> keys = ConcatExact(env, key_list, map_.key_size, "keys", "bpf_map_delete_batch", Describe());
  const uint32_t total = key_list.Length();
  uint32_t deleted = 0;
  uint32_t offset = 0;

  if (total != 0 && delete_batch_ != BatchSupport::kUnsupported) {
    // The kernel stops at the first missing key and reports how many it deleted before it:
    // skip that key and go on with the rest. At most `total` rounds.
    while (offset < total) {
      LIBBPF_OPTS(bpf_map_batch_opts, options);
      uint32_t count = total - offset;
      if (bpf_map_delete_batch(fd, keys.data() + static_cast<size_t>(offset) * map_.key_size, &count, &options) == 0) {
        delete_batch_ = BatchSupport::kSupported;
        return Napi::Number::New(env, deleted + count);
      }
      int err = errno;
      if (IsBatchUnsupported(err) && offset == 0 && delete_batch_ == BatchSupport::kUnknown) {
        delete_batch_ = BatchSupport::kUnsupported;
        break;
      }
      if (err != ENOENT) {
        ThrowErrno(env, err, "bpf_map_delete_batch",
                   Describe() + ": " + std::to_string(deleted + count) + " of " + std::to_string(total) + " deleted");
      }
      delete_batch_ = BatchSupport::kSupported;
      deleted += count;
      offset += count + 1;
    }
    if (delete_batch_ == BatchSupport::kSupported) return Napi::Number::New(env, deleted);
  }
  for (uint32_t i = 0; i < total; ++i) {
    if (bpf_map_delete_elem(fd, keys.data() + static_cast<size_t>(i) * map_.key_size) == 0) {
      ++deleted;
    } else if (errno != ENOENT) {
      ThrowErrno(env, errno, "bpf_map_delete_elem",
                 Describe() + ": " + std::to_string(deleted) + " of " + std::to_string(total) + " deleted");
    }
  }
  return Napi::Number::New(env, deleted);
}

Napi::Value NativeMap::Keys(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return CollectKeys(env, OpenFd(env, "bpf_map_get_next_key"));
}

Napi::Array NativeMap::CollectKeys(Napi::Env env, int fd) {
  Napi::Array out = Napi::Array::New(env);
  std::vector<uint8_t> current(map_.key_size), next(map_.key_size);
  const void* previous = nullptr;
  // Bounded by max_entries: a hash map restarts from its first key when the previous one is
  // deleted under us, which could otherwise loop for as long as someone keeps deleting.
  for (uint32_t count = 0; count < map_.max_entries; ++count) {
    if (bpf_map_get_next_key(fd, previous, next.data()) != 0) {
      if (errno == ENOENT) break;
      ThrowErrno(env, errno, "bpf_map_get_next_key", Describe());
    }
    out.Set(count, Napi::Buffer<uint8_t>::Copy(env, next.data(), next.size()));
    current.swap(next);
    previous = current.data();
  }
  return out;
}

Napi::Array NativeMap::EntriesByLookupBatch(Napi::Env env, int fd, bool* unsupported) {
  *unsupported = false;
  Napi::Array out = Napi::Array::New(env);
  const size_t value_bytes = ValueBytes();
  const uint32_t chunk = std::max<uint32_t>(1, std::min(map_.max_entries, kLookupBatchChunk));
  // The position token is a u32 bucket for hash maps and a key for the generic implementation.
  const size_t token_size = std::max<size_t>(map_.key_size, 8);
  std::vector<uint8_t> in_token(token_size), out_token(token_size);
  std::vector<uint8_t> keys(static_cast<size_t>(chunk) * map_.key_size);
  std::vector<uint8_t> values(static_cast<size_t>(chunk) * value_bytes);
  uint32_t total = 0;
  for (bool first = true;; first = false) {
    LIBBPF_OPTS(bpf_map_batch_opts, options);
    uint32_t count = chunk;
    int result = bpf_map_lookup_batch(fd, first ? nullptr : in_token.data(), out_token.data(), keys.data(),
                                      values.data(), &count, &options);
    int err = result == 0 ? 0 : errno;
    if (err != 0 && err != ENOENT) {
      if (first && IsBatchUnsupported(err)) {
        *unsupported = true;
        return out;
      }
      ThrowErrno(env, err, "bpf_map_lookup_batch", Describe());
    }
    for (uint32_t i = 0; i < count && i < chunk; ++i) {
      Napi::Array pair = Napi::Array::New(env, 2);
      pair.Set(0u, Napi::Buffer<uint8_t>::Copy(env, keys.data() + static_cast<size_t>(i) * map_.key_size, map_.key_size));
      pair.Set(1u, Napi::Buffer<uint8_t>::Copy(env, values.data() + static_cast<size_t>(i) * value_bytes, value_bytes));
      out.Set(total++, pair);
    }
    // ENOENT marks the end; a full map also ends once every possible entry was returned.
    if (err == ENOENT || count == 0 || total >= map_.max_entries) return out;
    in_token.swap(out_token);
  }
}

// For map types without BPF_MAP_LOOKUP_BATCH: every key, then one lookup each. A key deleted
// between the two steps is left out rather than reported as an error.
Napi::Array NativeMap::EntriesByKeys(Napi::Env env, int fd) {
  Napi::Array keys = CollectKeys(env, fd);
  Napi::Array out = Napi::Array::New(env);
  const size_t value_bytes = ValueBytes();
  std::vector<uint8_t> value(value_bytes);
  uint32_t total = 0;
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    auto key = keys.Get(i).As<Napi::Buffer<uint8_t>>();
    if (bpf_map_lookup_elem(fd, key.Data(), value.data()) != 0) {
      if (errno == ENOENT) continue;
      ThrowErrno(env, errno, "bpf_map_lookup_elem", Describe());
    }
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, key);
    pair.Set(1u, Napi::Buffer<uint8_t>::Copy(env, value.data(), value_bytes));
    out.Set(total++, pair);
  }
  return out;
}

Napi::Value NativeMap::Entries(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = OpenFd(env, "bpf_map_lookup_batch");
  if (lookup_batch_ != BatchSupport::kUnsupported) {
    bool unsupported = false;
    Napi::Array out = EntriesByLookupBatch(env, fd, &unsupported);
    if (!unsupported) {
      lookup_batch_ = BatchSupport::kSupported;
      return out;
    }
    lookup_batch_ = BatchSupport::kUnsupported;
  }
  return EntriesByKeys(env, fd);
}

}  // namespace meshd_bpf
