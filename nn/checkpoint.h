#pragma once
// Training checkpoints in one safetensors file: the model's state dict under its own keys, the
// optimizer's state under "optimizer/<key>", and string metadata (iteration, RNG states, config)
// so that training resumes exactly. Written atomically.
#include <functional>
#include <map>
#include <string>

#include "nn/module.h"
#include "nn/optim.h"

namespace rmgait::nn {

struct CheckpointInfo {
  int64_t iteration = 0;
  std::map<std::string, std::string> metadata;  // free-form, e.g. "rng", "config"
};

// `before_commit`: as write_file_atomically's (engine/atomic_file.h).
void save_checkpoint(const std::string& path, const Module& model, const Optimizer* optimizer,
                     const CheckpointInfo& info, const std::function<void()>& before_commit = {});
// Loads the model (strict) and, when given, the optimizer; returns the metadata. Errors name the
// file and the offending keys.
CheckpointInfo load_checkpoint(const std::string& path, Module& model, Optimizer* optimizer);

// The model's own tensors of a checkpoint's (the optimizer's state left out).
std::map<std::string, Tensor> model_tensors(const std::map<std::string, Tensor>& checkpoint);

}  // namespace rmgait::nn
