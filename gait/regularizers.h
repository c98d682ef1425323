#pragma once
// Comparison regularizers of the paper's Table 5: DropBlock, Scaling DropBlock (the selected
// region scaled by U(0, 1) instead of zeroed) and input-level Random Erasing.
#include "engine/random.h"
#include "engine/tensor.h"

namespace rmgait::gait {

struct DropBlockConfig {
  float drop_prob = 0.1f;  // share of the map to drop (1 - keep_prob)
  int64_t block_size = 3;
  float reg_prob = 1.f;  // probability that a training call applies it
  bool scaling = false;  // Scaling DropBlock
};

// A batch that is rows [offset, offset + n) of a global batch of `global` rows (data-parallel
// training); global 0: the batch is the whole batch.
struct BatchSlice {
  int64_t offset = 0, global = 0;
};

// x [N, C, T, H, W]; one block mask per sample, shared by channels and frames. DropBlock rescales
// the kept values by count / sum(mask) as Ghiasi et al. do. With a slice, the masks and the
// rescaling are those of the global batch, and x gets its rows' masks.
Tensor drop_block(const Tensor& x, const DropBlockConfig& cfg, Generator& gen,
                  const BatchSlice& slice = {});

struct RandomErasingConfig {
  float prob = 0.5f, area_min = 0.02f, area_max = 0.4f, aspect_min = 0.3f;
};

// sils [N, T, H, W]: with probability prob per sequence, zeroes one random rectangle (the same on
// every frame of the sequence). Not differentiable (applied to the input).
Tensor random_erasing(const Tensor& sils, const RandomErasingConfig& cfg, Generator& gen);
// Its mask [n, 1, h, w] (1 kept, 0 erased), drawn for n sequences in order (a data-parallel
// rank draws the global batch's and keeps its rows).
Tensor random_erasing_mask(int64_t n, int64_t h, int64_t w, const RandomErasingConfig& cfg,
                           Generator& gen);

}  // namespace rmgait::gait
