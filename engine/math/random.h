#pragma once
// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
// counter-based generator also used by cuRAND and PyTorch. Element i of a random tensor is a pure
// function of (seed, offset + i), so CPU, GPU and any thread count give the same numbers.
#include <math.h>
#include <stdint.h>

#include "engine/math/hd.h"

namespace rmgait {

enum class RandomKind : int { uniform, normal, bernoulli };

namespace philox {

struct U32x4 {
  uint32_t v[4];
};

RM_HD void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = uint64_t(a) * uint64_t(b);
  hi = uint32_t(p >> 32);
  lo = uint32_t(p);
}

// Ten rounds over the 128-bit counter with the 64-bit key.
RM_HD U32x4 philox4x32_10(U32x4 ctr, uint32_t k0, uint32_t k1) {
  const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(M0, ctr.v[0], hi0, lo0);
    mulhilo(M1, ctr.v[2], hi1, lo1);
    U32x4 next = {{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    ctr = next;
    k0 += W0;
    k1 += W1;
  }
  return ctr;
}

// The four 32-bit words for element `index` of stream `stream` under `seed`.
RM_HD U32x4 block(uint64_t seed, uint64_t index, uint32_t stream) {
  U32x4 ctr = {{uint32_t(index), uint32_t(index >> 32), stream, 0u}};
  return philox4x32_10(ctr, uint32_t(seed), uint32_t(seed >> 32));
}

// 24 random bits -> [0, 1), exactly representable in f32.
RM_HD float to_unit(uint32_t x) {
  return float(x >> 8) * (1.0f / 16777216.0f);
}

RM_HD float uniform(uint64_t seed, uint64_t index) {
  return to_unit(block(seed, index, 0u).v[0]);
}

// Standard normal by Box-Muller on two words of the element's own block.
RM_HD float normal(uint64_t seed, uint64_t index) {
  U32x4 b = block(seed, index, 1u);
  float u1 = 1.0f - to_unit(b.v[0]);  // (0, 1]
  float u2 = to_unit(b.v[1]);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795864769f * u2);
}

RM_HD float bernoulli(uint64_t seed, uint64_t index, float p) {
  return uniform(seed, index) < p ? 1.0f : 0.0f;
}

// Element `index` of a random tensor of `kind`: uniform in [a, b), normal(mean a, std b), or
// bernoulli (1 with probability a). The one definition both backends call; the CPU build keeps
// -ffp-contract=off and random.cu --fmad=false, so that a + (b - a) * u rounds identically.
RM_HD float sample(RandomKind kind, uint64_t seed, uint64_t index, float a, float b) {
  switch (kind) {
    case RandomKind::uniform:
      return a + (b - a) * uniform(seed, index);
    case RandomKind::normal:
      return a + b * normal(seed, index);
    case RandomKind::bernoulli:
      return bernoulli(seed, index, a);
  }
  return 0.f;
}

}  // namespace philox
}  // namespace rmgait
