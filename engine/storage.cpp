#include "engine/storage.h"

#include <sys/mman.h>

#include <algorithm>
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
// fresh pages from the kernel cost a page fault and a zero-fill each. Freed blocks are kept (in
// size buckets of 1/8 powers of two) and reused for requests of up to their size and down to half
// of it. The cache never makes the process hold more than twice the most memory ever in use at
// once: before a fresh allocation would push held memory past that, cached blocks are returned to
// the system, largest first. So resident memory follows the true peak, not the sum of every size
// ever freed. (Inception step, batch 4: peak RSS 947 MiB with an unbounded cache, 638 MiB with
// this bound at 2.75 s a step, 420 MiB with a bound of 1x the peak but 3.0 s: the churn costs
// page faults.)
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
  // A block of at least n bytes; *capacity receives its size (to pass back to release).
  void* allocate(size_t n, size_t* capacity) {
    n = bucket(n ? n : 1);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = n >= kMinCached ? free_.lower_bound(n) : free_.end();
    if (it != free_.end() && it->first < 2 * n) {
      void* p = it->second.back();
      *capacity = it->first;
      it->second.pop_back();
      if (it->second.empty()) free_.erase(it);
      cached_ -= *capacity;
      in_use_ += *capacity;
      note_peak();
      return p;
    }
    const size_t limit = std::max(2 * high_water_, in_use_ + n);
    while (cached_ > 0 && in_use_ + cached_ + n > limit) free_largest();
    void* p = system_alloc(n);
    if (!p) {
      while (cached_ > 0) free_largest();
      p = system_alloc(n);
    }
    if (!p) throw std::bad_alloc();
    *capacity = n;
    in_use_ += n;
    note_peak();
    return p;
  }
  void release(void* p, size_t capacity) {
    std::lock_guard<std::mutex> lock(mu_);
    in_use_ -= capacity;
    if (capacity >= kMinCached && cached_ + capacity <= kBudget) {
      free_[capacity].push_back(p);
      cached_ += capacity;
      return;
    }
    system_free(p, capacity);
  }
  CpuMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return {in_use_, peak_, cached_, high_water_};
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mu_);
    peak_ = in_use_;
  }
  void release_all() {
    std::lock_guard<std::mutex> lock(mu_);
    while (cached_ > 0) free_largest();
  }

 private:
  static constexpr size_t kBudget = size_t(6) << 30, kMinCached = size_t(1) << 12,
                          kMapped = size_t(1) << 18, kHuge = size_t(4) << 20;
  void note_peak() {
    peak_ = std::max(peak_, in_use_);
    high_water_ = std::max(high_water_, in_use_);
  }
  // Large blocks come straight from mmap, so that returning one really lowers resident memory
  // (glibc keeps freed chunks in its heap once its dynamic mmap threshold has grown).
  static void* system_alloc(size_t n) {
    if (n < kMapped) return std::aligned_alloc(64, n);
    void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    if (n >= kHuge) madvise(p, n, MADV_HUGEPAGE);  // 2 MiB pages: 512 times fewer faults
    return p;
  }
  static void system_free(void* p, size_t n) {
    if (n < kMapped)
      std::free(p);
    else
      munmap(p, n);
  }
  void free_largest() {  // mu_ held, cached_ > 0
    auto it = std::prev(free_.end());
    system_free(it->second.back(), it->first);
    cached_ -= it->first;
    it->second.pop_back();
    if (it->second.empty()) free_.erase(it);
  }
  std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0, in_use_ = 0, peak_ = 0, high_water_ = 0;
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
    case DType::bf16:
      return 2;
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
    case DType::bf16:
      return "bf16";
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
    data_ = CpuCache::get().allocate(nbytes, &capacity_);
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
    CpuCache::get().release(data_, capacity_);
  else
    g_allocators[int(device_)].release(data_, nbytes_);
}

}  // namespace rmgait
