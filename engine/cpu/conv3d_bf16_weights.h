#pragma once
// bf16 backward-weights of a conv with weights [Co, Ci, KT, 3, 3], stride 1, spatial padding 1,
// temporal padding pt < KT, Ci >= 64 and Ci, Co multiples of 16, as the backward-weights of one 2D
// conv over frame stacks (engine/cpu/frame_stacks.h): x' [N * To, KT * Ci, H, W] and gy [N * To,
// Co, H, W], both bf16 channels-last. oneDNN 2.6's AMX backward-weights kernel runs the 2D form
// about 20% faster than the 3D one on the paper's shapes with Ci >= 64 (its longer reduction over
// KT * Ci channels), and the stacks replace the reorder of x that the 3D form needs anyway. gy
// comes as backward-data reordered it (ReorderedGrad, engine/cpu/conv3d_cache.h); x' is built a
// group of samples at a time (at most 32 MiB a call, or one sample), and the groups' gradients
// summed.
#include "engine/backend.h"

namespace rmgait::cpu {

// Runs backward-weights and returns true when p.bf16 is set, the conv has the form above, it has
// no bias and oneDNN runs its 2D form on AMX; otherwise returns false and touches nothing.
bool bf16_conv3d_backward_weights(const Tensor& x, const Tensor& gy, const Tensor& gw,
                                  const Tensor& gbias, const Conv3dParams& p);

}  // namespace rmgait::cpu
