#pragma once
// `rmgait visualize`: the paper's Fig. 1 style pictures of a model on one sequence, as PNG files.
// For the chosen frame: the silhouette; the channel-mean activation of each stage (after the stem,
// LTA, A0, A1, B2) as a heatmap, over the silhouette where the map has its shape; and for
// ReverseMask blocks (plain or Inception-like), at A0, the two RMFE branches lrelu(W (x M)) and
// lrelu(W (x (1 - M))) under a drawn mask pair for each mask strategy (unit, row, block,
// constant), with the mask M itself.
#include <string>
#include <vector>

#include "gait/model.h"

namespace rmgait::pipeline {

// sils [1, T, H, W] in [0, 1]; frame indexes T (the stages after LTA show frame / 3). Returns the
// files written under out_dir.
std::vector<std::string> visualize(gait::ReverseMaskModel& model, const Tensor& sils, int64_t frame,
                                   const std::string& out_dir, uint64_t seed = 1);

}  // namespace rmgait::pipeline
