#include "engine/storage.h"

#include <cstdlib>
#include <new>

#include "engine/error.h"

namespace rmgait {

namespace {
DeviceAllocator g_allocators[2];
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
    size_t rounded = (nbytes + 63) / 64 * 64;
    data_ = std::aligned_alloc(64, rounded ? rounded : 64);
    if (!data_) throw std::bad_alloc();
    return;
  }
  const DeviceAllocator& a = g_allocators[int(device)];
  RM_CHECK(a.allocate, "no allocator for device ", device_name(device),
           ": this build has no CUDA backend or no GPU is present");
  data_ = a.allocate(nbytes);
}

Storage::~Storage() {
  if (device_ == Device::cpu)
    std::free(data_);
  else
    g_allocators[int(device_)].release(data_, nbytes_);
}

}  // namespace rmgait
