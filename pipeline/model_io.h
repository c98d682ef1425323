#pragma once
// Models from configurations and checkpoints: building the model a configuration describes,
// restoring one from a checkpoint (rmgait's carry their configuration; PyTorch .pt and bare
// safetensors state dicts take one from --config), reading weights, choosing the device.
#include <map>
#include <memory>
#include <string>

#include "gait/model.h"
#include "pipeline/config.h"

namespace rmgait::pipeline {

// The model for a configuration and a dataset frame size; num_classes from the training subjects.
gait::ModelConfig model_config(const TrainConfig& cfg, int64_t num_classes, int64_t height);

// A model restored from a checkpoint: one written by `rmgait train` (its configuration is
// inside), or a PyTorch .pt / a bare safetensors state dict with the configuration from `config`
// (the class count read from Head1.fc_bin's shape, 64-row input).
struct LoadedModel {
  TrainConfig cfg;
  std::unique_ptr<gait::ReverseMaskModel> model;
  int64_t iteration = 0;
};
LoadedModel load_model(const std::string& checkpoint, const std::string& config = "");
// A model's weights from an rmgait checkpoint, a safetensors state dict or a PyTorch .pt (bare
// state dict or OpenGait's {'model': ...}); the optimizer's entries are left out.
std::map<std::string, Tensor> read_weights(const std::string& path);

Device parse_device(const std::string& s);  // "cpu" or "cuda" (checked to be usable)

// `rmgait convert`: IN.pt -> OUT.safetensors (the state dict, OpenGait's iteration kept), or a
// safetensors checkpoint -> OUT.pt / .pth that torch.load(weights_only=True) reads, with
// `opengait` OpenGait's {'model': ..., 'iteration': n}. Returns a line saying what was written.
std::string convert_checkpoint(const std::string& in, const std::string& out, bool opengait);

}  // namespace rmgait::pipeline
