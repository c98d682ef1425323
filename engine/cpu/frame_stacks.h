#pragma once
// Frame stacks, shared by the CPU conv3d paths that run a conv with weights [co, ci, kt, 3, 3]
// as a 2D conv (engine/cpu/conv3d_winograd.h, conv3d_bf16_weights.h): for x [n, ci, t, h, w],
//   x'[i * to + f] = (x[i, :, f - pt], ..., x[i, :, f - pt + kt - 1])   [n * to, kt * ci, h, w]
// (zero frames outside [0, t)), and weights w'[co, dt * ci + c] = w[co, c, dt].
#include <algorithm>

#include "engine/backend.h"

namespace rmgait::cpu {

// The conv's sizes: x [n, ci, t, h, w], weights [co, ci, kt, 3, 3], y [n, co, to, h, w].
struct Frames {
  int64_t n, ci, co, t, to, hw, h, w, kt, pt;
};

inline Frames frames_of(const Shape& x, const Shape& w, const Conv3dParams& p) {
  const int64_t to = x[2] + 2 * p.padding[0] - w[2] + 1;
  return {x[0], x[1], w[0], x[2], to, x[3] * x[4], x[3], x[4], w[2], p.padding[0]};
}

// Whether a conv is a 2D conv over frame stacks: 3x3 spatial taps, stride 1, spatial padding
// 1, temporal padding pt < kt <= max_taps.
inline bool stackable(const Shape& w, const Conv3dParams& p, int64_t max_taps) {
  return w[3] == 3 && w[4] == 3 && p.stride[0] == 1 && p.stride[1] == 1 && p.stride[2] == 1 &&
         p.padding[1] == 1 && p.padding[2] == 1 && p.padding[0] < w[2] && w[2] <= max_taps;
}

// Samples per oneDNN call: the largest divisor of n whose stacks (per_sample bytes each) fit
// max_bytes, at least one. Stacks never span two samples, so a pass runs sample group by sample
// group with its scratch bounded whatever the batch.
inline int64_t sample_group(int64_t n, int64_t per_sample, int64_t max_bytes) {
  int64_t c = 1;
  for (int64_t d = 2; d <= n; ++d)
    if (n % d == 0 && d * per_sample <= max_bytes) c = d;
  return c;
}

// w [co, ci, kt, 3, 3] -> w' [co, kt * ci, 3, 3], and back.
inline void stack_weights(const float* w, int64_t co, int64_t ci, int64_t kt, float* wp) {
  for (int64_t o = 0; o < co; ++o)
    for (int64_t c = 0; c < ci; ++c)
      for (int64_t dt = 0; dt < kt; ++dt)
        std::copy_n(w + ((o * ci + c) * kt + dt) * 9, 9, wp + ((o * kt + dt) * ci + c) * 9);
}
inline void unstack_weights(const float* wp, int64_t co, int64_t ci, int64_t kt, float* w) {
  for (int64_t o = 0; o < co; ++o)
    for (int64_t c = 0; c < ci; ++c)
      for (int64_t dt = 0; dt < kt; ++dt)
        std::copy_n(wp + ((o * kt + dt) * ci + c) * 9, 9, w + ((o * ci + c) * kt + dt) * 9);
}

// sum += part, two contiguous f32 tensors of one size
inline void add_into(const Tensor& sum, const Tensor& part) {
  float* a = sum.data<float>();
  const float* b = part.data<float>();
  for (int64_t i = 0; i < sum.numel(); ++i) a[i] += b[i];
}

}  // namespace rmgait::cpu
