#pragma once
// bfloat16: the upper 16 bits of an IEEE f32 (8-bit exponent, 8-bit significand with the implicit
// bit). The storage type of tensors kept in bf16 (DType::bf16). One conversion rule for the CPU
// and the CUDA kernels, that of AVX512-BF16's VCVTNEPS2BF16, which oneDNN's reorders use on CPUs
// that have it (the only ones rmgait runs bf16 on; oneDNN's emulation elsewhere rounds denormals
// instead): round to nearest, ties to even; f32 denormals become zeros of their sign (bf16 has
// the same exponent range, so a normal f32 never rounds to a bf16 denormal); NaN stays a quiet
// NaN of its sign. Widening is exact.
#include <stdint.h>
#include <string.h>

#include "engine/math/hd.h"

namespace rmgait {

RM_HD uint16_t bf16_bits_from_float(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // NaN -> quiet NaN
  if ((u & 0x7f800000u) == 0) return uint16_t((u >> 16) & 0x8000u);        // denormal -> +-0
  u += 0x7fffu + ((u >> 16) & 1u);  // ties to even; overflow carries into inf, as it should
  return uint16_t(u >> 16);
}

RM_HD float float_from_bf16_bits(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

struct BFloat16 {
  uint16_t bits;
  BFloat16() = default;
  // From any arithmetic value through f32 (integers round twice: to f32, then to bf16).
  template <class T>
  RM_HD explicit BFloat16(T v) : bits(bf16_bits_from_float(float(v))) {}
  RM_HD operator float() const { return float_from_bf16_bits(bits); }
};
static_assert(sizeof(BFloat16) == 2, "BFloat16 is two bytes");

}  // namespace rmgait
