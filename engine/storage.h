#pragma once
// Storage: one device allocation shared by a tensor and its views. CPU memory is 64-byte
// aligned. `version` is bumped by in-place writes so caches keyed on weights (reordered
// oneDNN weights) can tell when to refresh.
#include <atomic>
#include <cstddef>
#include <memory>

#include "engine/dtype.h"

namespace rmgait {

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_.load(); }
  uint64_t id() const { return id_; }  // unique for the process, never reused
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  size_t capacity_ = 0;  // the CPU block's size (the cache may hand out a larger one)
  Device device_;
  std::atomic<uint64_t> version_{0};
  uint64_t id_;
};

// Device allocators: the CUDA backend registers its own when it is built and a GPU is present.
struct DeviceAllocator {
  void* (*allocate)(size_t nbytes) = nullptr;
  void (*release)(void* ptr, size_t nbytes) = nullptr;
};
void register_allocator(Device device, DeviceAllocator alloc);
// Returns the CPU blocks kept for reuse to the system.
void release_cached_cpu_memory();

// Bytes of CPU tensor storage (the cache's block sizes): held by tensors now, the most held at
// once since the start or the last reset_peak_cpu_memory(), kept for reuse, and the most ever
// held at once (the cache keeps in_use + cached under twice that).
struct CpuMemoryStats {
  size_t in_use = 0, peak = 0, cached = 0, high_water = 0;
};
CpuMemoryStats cpu_memory_stats();
void reset_peak_cpu_memory();

}  // namespace rmgait
