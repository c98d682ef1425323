#pragma once
// One sequence in, one embedding out (`rmgait embed`, `rmgait visualize`): silhouettes from a
// .npy or a folder of raw PNG frames (pretreated on the way in), the model's columns of them,
// and the [C, P] embedding of a loaded model.
#include <string>
#include <vector>

#include "engine/precision.h"
#include "engine/tensor.h"
#include "pipeline/model_io.h"

namespace rmgait::pipeline {

struct Sequence {
  Tensor frames;                     // [1, T, H, W] f32 in [0, 1], the columns the model sees
  std::vector<std::string> dropped;  // PNG frames pretreatment dropped: "file: why"
};
// `npy`: f32 [T, H, W] in [0, 1] or u8; or `png_dir`: raw silhouette frames, in name order.
Sequence read_sequence(const std::string& npy, const std::string& png_dir);

// The embedding [C, P] of frames [1, T, H, W] (eval mode, no gradients), on `device` in
// `precision` (checked to be usable there).
Tensor embed(LoadedModel& lm, const Tensor& frames, Precision precision, Device device);

}  // namespace rmgait::pipeline
