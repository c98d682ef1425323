// Unary elementwise ops, their backward, and the sign bits of relu / leaky_relu, from the shared
// per-element rules. The op is made a compile-time constant outside the loop, so each loop is
// one straight vectorised body instead of a per-element switch.
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "engine/cpu/cpu_backend.h"

namespace rmgait::cpu {

namespace {
template <UnaryOp Op>
using OpC = std::integral_constant<UnaryOp, Op>;

// Calls f(OpC<op>{}).
template <class F>
void with_op(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::neg:
      return f(OpC<UnaryOp::neg>{});
    case UnaryOp::abs:
      return f(OpC<UnaryOp::abs>{});
    case UnaryOp::exp:
      return f(OpC<UnaryOp::exp>{});
    case UnaryOp::log:
      return f(OpC<UnaryOp::log>{});
    case UnaryOp::sqrt:
      return f(OpC<UnaryOp::sqrt>{});
    case UnaryOp::relu:
      return f(OpC<UnaryOp::relu>{});
    case UnaryOp::leaky_relu:
      return f(OpC<UnaryOp::leaky_relu>{});
    case UnaryOp::pow_scalar:
      return f(OpC<UnaryOp::pow_scalar>{});
    case UnaryOp::clamp:
      return f(OpC<UnaryOp::clamp>{});
    case UnaryOp::add_scalar:
      return f(OpC<UnaryOp::add_scalar>{});
    case UnaryOp::mul_scalar:
      return f(OpC<UnaryOp::mul_scalar>{});
    case UnaryOp::rsub_scalar:
      return f(OpC<UnaryOp::rsub_scalar>{});
    case UnaryOp::rdiv_scalar:
      return f(OpC<UnaryOp::rdiv_scalar>{});
  }
}

constexpr int64_t kParallel = 32768;  // elements below which a loop stays on one thread
}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& y, float a, float b) {
  const float* xp = x.data<float>();
  float* yp = y.data<float>();
  const int64_t n = x.numel();
  with_op(op, [&](auto o) {
#pragma omp parallel for simd schedule(static) if (n > kParallel)
    for (int64_t i = 0; i < n; ++i) yp[i] = unary_forward(o(), xp[i], a, b);
  });
}

void CpuBackend::unary_backward(UnaryOp op, const Tensor& gy, const Tensor& saved, const Tensor& gx,
                                float a, float b) {
  const float *gp = gy.data<float>(), *sp = saved.data<float>();
  float* gxp = gx.data<float>();
  const int64_t n = saved.numel();
  with_op(op, [&](auto o) {
#pragma omp parallel for simd schedule(static) if (n > kParallel)
    for (int64_t i = 0; i < n; ++i) gxp[i] = rmgait::unary_backward(o(), gp[i], sp[i], a, b);
  });
}

// The sign bits in 16-element steps with AVX-512 mask registers, or 8-element steps with AVX2's
// compare + movemask, where the build has them (the byte loops below do not vectorise), the
// bytewise rule for the rest. Bit i % 8 of byte i / 8 is element i, so two bytes are one 16-bit
// mask, little-endian.
void CpuBackend::sign_bits(const Tensor& y, const Tensor& bits) {
  const float* yp = y.data<float>();
  uint8_t* bp = bits.data<uint8_t>();
  const int64_t n = y.numel();
  int64_t done = 0;
#ifdef __AVX512F__
  done = n / 16 * 16;
#pragma omp parallel for schedule(static) if (n > kParallel)
  for (int64_t k = 0; k < n / 16; ++k) {
    __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(yp + 16 * k), _mm512_setzero_ps(), _CMP_GT_OQ);
    std::memcpy(bp + 2 * k, &m, 2);
  }
#elif defined(__AVX2__)
  done = n / 8 * 8;  // one byte per 8 elements: the sign mask of a compare
#pragma omp parallel for schedule(static) if (n > kParallel)
  for (int64_t k = 0; k < n / 8; ++k)
    bp[k] = uint8_t(_mm256_movemask_ps(
        _mm256_cmp_ps(_mm256_loadu_ps(yp + 8 * k), _mm256_setzero_ps(), _CMP_GT_OQ)));
#endif
  const int64_t full = n / 8;
#pragma omp parallel for schedule(static) if (n - done > kParallel)
  for (int64_t k = done / 8; k < full; ++k) {
    const float* v = yp + 8 * k;
    uint8_t m = 0;
    for (int j = 0; j < 8; ++j) m |= uint8_t(v[j] > 0.f) << j;
    bp[k] = m;
  }
  if (n % 8) {
    uint8_t m = 0;
    for (int64_t i = 8 * full; i < n; ++i) m |= uint8_t(yp[i] > 0.f) << (i % 8);
    bp[full] = m;
  }
}

namespace {
// gx (f32 or bf16) = the leaky_relu backward of gy from the sign bits; bf16 rounds as oneDNN's
// reorders do (AVX512-BF16's conversion, or the same rule per element: engine/math/bf16.h).
template <class Out>
void leaky_relu_backward_bits_into(const float* gp, const uint8_t* bp, Out* gxp, int64_t n,
                                   float slope) {
  int64_t done = 0;
#ifdef __AVX512F__
  done = n / 16 * 16;
  const __m512 s = _mm512_set1_ps(slope);
#pragma omp parallel for schedule(static) if (n > kParallel)
  for (int64_t k = 0; k < n / 16; ++k) {
    __mmask16 m;
    std::memcpy(&m, bp + 2 * k, 2);
    const __m512 g = _mm512_loadu_ps(gp + 16 * k);
    const __m512 flat = slope == 0.f ? _mm512_setzero_ps() : _mm512_mul_ps(g, s);
    const __m512 v = _mm512_mask_blend_ps(m, flat, g);  // bit set: g
    if constexpr (std::is_same_v<Out, float>) {
      _mm512_storeu_ps(gxp + 16 * k, v);
    } else {
#ifdef __AVX512BF16__
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(gxp + 16 * k), (__m256i)_mm512_cvtneps_pbh(v));
#else
      alignas(64) float tmp[16];
      _mm512_store_ps(tmp, v);
      for (int j = 0; j < 16; ++j) gxp[16 * k + j] = Out(tmp[j]);
#endif
    }
  }
#elif defined(__AVX2__)
  if constexpr (std::is_same_v<Out, float>) {  // bf16 needs AVX512-BF16 on the CPU anyway
    done = n / 8 * 8;
    const __m256 s = _mm256_set1_ps(slope);
    const __m256i lane_bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
#pragma omp parallel for schedule(static) if (n > kParallel)
    for (int64_t k = 0; k < n / 8; ++k) {
      // byte k's bits as a lane mask: lane j all ones where bit j is set
      const __m256i set =
          _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(bp[k]), lane_bit), lane_bit);
      const __m256 g = _mm256_loadu_ps(gp + 8 * k);
      const __m256 flat = slope == 0.f ? _mm256_setzero_ps() : _mm256_mul_ps(g, s);
      _mm256_storeu_ps(gxp + 8 * k, _mm256_blendv_ps(flat, g, _mm256_castsi256_ps(set)));
    }
  }
#endif
#pragma omp parallel for schedule(static) if (n - done > kParallel)
  for (int64_t i = done; i < n; ++i)
    gxp[i] = Out(leaky_relu_backward_bit(gp[i], (bp[i / 8] >> (i % 8)) & 1, slope));
}
}  // namespace

void CpuBackend::leaky_relu_backward_bits(const Tensor& gy, const Tensor& bits, const Tensor& gx,
                                          float slope) {
  const float* gp = gy.data<float>();
  const uint8_t* bp = bits.data<uint8_t>();
  if (gx.dtype() == DType::bf16)
    leaky_relu_backward_bits_into(gp, bp, gx.data<BFloat16>(), gy.numel(), slope);
  else
    leaky_relu_backward_bits_into(gp, bp, gx.data<float>(), gy.numel(), slope);
}

}  // namespace rmgait::cpu
