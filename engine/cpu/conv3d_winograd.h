#pragma once
// conv3d as Winograd F(4x4, 3x3) on oneDNN's 2D kernels (jit_wino_4x3, AVX-512), for f32 convs
// with weights [Co, Ci, KT, 3, 3], stride 1, spatial padding 1, temporal padding pt < KT, and Ci,
// Co multiples of 16. Such a conv is one 2D conv over frame stacks: for x [N, Ci, T, H, W],
//   x'[n * To + t] = (x[n, :, t - pt], ..., x[n, :, t - pt + KT - 1])   [N * To, KT * Ci, H, W]
// (zero frames outside [0, T)), with weights w'[co, dt * Ci + ci] = w[co, ci, dt]; y is the 2D
// conv's output, and backward-data sums x''s gradient back over the KT frames each stack holds.
// F(4x4, 3x3) takes 36 products per 4x4 output tile where the direct conv takes 144; the stacks
// hold KT copies of x, so each pass runs over groups of samples (at most 64 MiB of stacks a
// call, or one sample). Frame stacks and gradients live in oneDNN's nChw16c layout
// ([N * To][C / 16][H][W][16]), filled and emptied by the loops in the .cpp.
#include "engine/backend.h"

namespace rmgait::cpu {

// Each runs the pass and returns true when p.winograd is set, the conv has the form above and
// oneDNN has Winograd kernels for it on this CPU; otherwise returns false and touches nothing.
bool winograd_conv3d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                             const Conv3dParams& p);
bool winograd_conv3d_backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx,
                                   const Conv3dParams& p);
bool winograd_conv3d_backward_weights(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                      const Tensor& gbias, const Conv3dParams& p);

}  // namespace rmgait::cpu
