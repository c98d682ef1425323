#pragma once
// One sequence in, one embedding out (`rmgait embed`, `rmgait visualize`): silhouettes from a
// .npy or a folder of raw PNG frames (pretreated on the way in), the model's columns of them,
// and the [C, P] embedding of a loaded model.
#include <optional>
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
// `precision` (checked to be usable there), f32 convs on the CPU by `algorithm`.
Tensor embed(LoadedModel& lm, const Tensor& frames, Precision precision, Device device,
             ConvAlgorithm algorithm);

// A checkpoint and one sequence (`rmgait embed`, `rmgait visualize`): the sequence is read
// first, so that bad input fails before the model loads.
struct SequenceRequest {
  std::string checkpoint, config;      // config: for a checkpoint without one (PyTorch .pt)
  std::string npy, png_dir;            // one of them
  std::optional<Precision> precision;  // default: the training's
  std::optional<ConvAlgorithm> conv_algorithm;  // default: evaluator_cfg.conv_algorithm
  Device device = Device::cpu;
};
struct Embedding {
  Tensor embedding;                  // [C, P]
  std::vector<std::string> dropped;  // PNG frames pretreatment dropped
};
Embedding embed_sequence(const SequenceRequest& request);
// The paper's Fig. 1 pictures (pipeline/visualize.h) of `frame` (-1: the middle one), under
// out_dir; returns the files written, and the dropped frames in *dropped.
std::vector<std::string> visualize_sequence(const SequenceRequest& request, int64_t frame,
                                            const std::string& out_dir, uint64_t seed,
                                            std::vector<std::string>* dropped);

}  // namespace rmgait::pipeline
