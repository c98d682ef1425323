#pragma once
// Seeded random tensors. A Generator is (seed, offset): each call consumes numel counters, so a
// sequence of calls is reproducible and independent of device and thread count.
#include <cstdint>

#include "engine/tensor.h"

namespace rmgait {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed, offset_ = offset; }
  // Reserves n counters, returns the first.
  uint64_t advance(uint64_t n) {
    uint64_t o = offset_;
    offset_ += n;
    return o;
  }

 private:
  uint64_t seed_ = 0, offset_ = 0;
};

// One uniform draw in [0, 1) on the host (the counter-based stream the tensors use, so a draw
// here is the same on every device and rank).
float host_uniform(Generator& gen);

Tensor rand(const Shape& shape, Generator& gen, float lo = 0.f, float hi = 1.f,
            Device device = Device::cpu);
Tensor randn(const Shape& shape, Generator& gen, float mean = 0.f, float std = 1.f,
             Device device = Device::cpu);
Tensor bernoulli(const Shape& shape, float p, Generator& gen, Device device = Device::cpu);

}  // namespace rmgait
