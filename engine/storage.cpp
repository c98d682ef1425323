#include "engine/storage.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "engine/backend.h"
#include "engine/error.h"

namespace rmgait {

namespace {
DeviceAllocator g_allocators[2];

// CPU memory cache: training allocates the same large activation sizes every iteration, and
// fresh pages from the kernel cost a page fault and a zero-fill each. Freed blocks are kept in
// size buckets (rounded up to 1/8 powers of two) up to a byte budget and reused.
class CpuCache {
 public:
  static CpuCache& get() {
    static CpuCache* c = new CpuCache();  // never destroyed: tensors may outlive statics
    return *c;
  }
  static size_t bucket(size_t n) {
    if (n <= 4096) return (n + 63) / 64 * 64;
    size_t p = 1;
    while (p * 2 <= n) p *= 2;
    size_t step = p / 8;
    return (n + step - 1) / step * step;
  }
  void* allocate(size_t n) {
    in_use_ += n;
    for (size_t peak = peak_.load();
         in_use_.load() > peak && !peak_.compare_exchange_weak(peak, in_use_.load());) {
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(n);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_ -= n;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, n);
    if (!p) {
      release_all();
      p = std::aligned_alloc(64, n);
    }
    if (!p) throw std::bad_alloc();
    return p;
  }
  void release(void* p, size_t n) {
    in_use_ -= n;
    std::lock_guard<std::mutex> lock(mu_);
    if (n >= (size_t(1) << 12) && cached_ + n <= kBudget) {
      free_[n].push_back(p);
      cached_ += n;
      return;
    }
    std::free(p);
  }
  CpuMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return {in_use_.load(), peak_.load(), cached_};
  }
  void reset_peak() { peak_ = in_use_.load(); }
  void release_all() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [n, v] : free_)
      for (void* p : v) std::free(p);
    free_.clear();
    cached_ = 0;
  }

 private:
  static constexpr size_t kBudget = size_t(6) << 30;
  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
  std::atomic<size_t> in_use_{0}, peak_{0};
};
}  // namespace

void release_cached_cpu_memory() {
  CpuCache::get().release_all();
}

CpuMemoryStats cpu_memory_stats() {
  return CpuCache::get().stats();
}

void reset_peak_cpu_memory() {
  CpuCache::get().reset_peak();
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
      return 4;
    case DType::u8:
      return 1;
    case DType::i32:
      return 4;
    case DType::i64:
      return 8;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32:
      return "f32";
    case DType::u8:
      return "u8";
    case DType::i32:
      return "i32";
    case DType::i64:
      return "i64";
  }
  return "?";
}

const char* device_name(Device d) {
  return d == Device::cpu ? "cpu" : "cuda";
}

void register_allocator(Device device, DeviceAllocator alloc) {
  g_allocators[int(device)] = alloc;
}

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  static std::atomic<uint64_t> next_id{1};
  id_ = next_id++;
  if (device == Device::cpu) {
    data_ = CpuCache::get().allocate(CpuCache::bucket(nbytes ? nbytes : 1));
    return;
  }
  device_available(device);  // registers the device's backend and allocator on first use
  const DeviceAllocator& a = g_allocators[int(device)];
  RM_CHECK(a.allocate, "no allocator for device ", device_name(device),
           ": this build has no CUDA backend or no GPU is present");
  data_ = a.allocate(nbytes);
}

Storage::~Storage() {
  if (device_ == Device::cpu)
    CpuCache::get().release(data_, CpuCache::bucket(nbytes_ ? nbytes_ : 1));
  else
    g_allocators[int(device_)].release(data_, nbytes_);
}

}  // namespace rmgait
