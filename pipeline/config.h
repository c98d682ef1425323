#pragma once
// Training configuration: a YAML file with OpenGait-like sections (data_cfg, model_cfg,
// loss_cfg, optimizer_cfg, scheduler_cfg, trainer_cfg, evaluator_cfg), parsed once into typed
// fields (names become enums at load). Unknown keys and values of the wrong type are errors
// naming the file and the key.
#include <string>
#include <utility>
#include <vector>

#include "engine/precision.h"
#include "gait/evaluator.h"
#include "gait/model.h"

namespace rmgait::pipeline {

enum class Solver { adam, adamw, sgd };  // optimizer_cfg.solver: Adam, AdamW, SGD
Solver parse_solver(const std::string& s);
const char* solver_name(Solver s);
// trainer_cfg.on_nonfinite: a non-finite loss or gradient stops the run (keeping the last good
// checkpoint) or skips the step.
enum class OnNonfinite { stop, skip };

struct TrainConfig {
  // data_cfg
  std::string dataset, protocol = "casiab-lt";
  int num_workers = 2;
  // model_cfg
  gait::ModelConfig model;
  bool random_erasing = false;
  // loss_cfg
  float triplet_weight = 1.f, margin = 0.2f, ce_weight = 1.f, label_smoothing = 0.f;
  // optimizer_cfg
  Solver solver = Solver::adam;
  float lr = 1e-4f, weight_decay = 5e-4f, momentum = 0.9f;
  // scheduler_cfg
  std::vector<int64_t> milestones;
  float gamma = 0.1f;
  std::vector<float> gammas;  // optional, one per milestone
  // trainer_cfg
  int64_t total_iter = 1000, log_iter = 100, save_iter = 0, eval_iter = 0;
  // checkpoints/iter_*.safetensors kept: the newest N (0: all); latest.safetensors and
  // best.safetensors (the best evaluation's) are kept whatever N.
  int64_t keep_checkpoints = 5;
  int p = 8, k = 16, frames = 30;
  Precision precision = Precision::f32;  // of the model's convs and matmuls
  // The CPU's f32 conv algorithm in training steps (engine/precision.h): Winograd's rounding is
  // far below the step's own noise.
  ConvAlgorithm conv_algorithm = ConvAlgorithm::winograd;
  // trainer_cfg.recompute sets model.recompute (block activations recomputed in backward)
  uint64_t seed = 0;
  float clip_grad = 0.f;
  bool flip = false;
  OnNonfinite on_nonfinite = OnNonfinite::stop;
  // Under mpirun: batch norm over the global batch (OpenGait's sync_BN), not each rank's slice.
  bool sync_bn = true;
  std::string output_dir = "output";
  // evaluator_cfg
  gait::Distance distance = gait::Distance::per_part_mean;
  int64_t eval_memory_mb = 1024;  // bound on the scorer's own memory (distance tiles)
  // ... and in eval, embed, enroll and identify: Winograd too, whose embeddings stay as close to
  // PyTorch's (OpenGait's) as direct ones (tests/parity/peer_check.sh checks both).
  ConvAlgorithm eval_conv_algorithm = ConvAlgorithm::winograd;

  std::string yaml;  // the effective configuration, stored in checkpoints
};

// overrides: "section.key=value" (value in YAML syntax, e.g. "[8, 16]"). OpenGait's own
// configurations are read too (pipeline/opengait_config.h), translated before the overrides.
TrainConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});
TrainConfig parse_config(const std::string& yaml_text, const std::string& origin);
// Every key with its effective value (defaults included) as one-line YAML, in key order: what
// two configurations that train the same way agree on.
std::vector<std::pair<std::string, std::string>> effective_settings(const TrainConfig& cfg);
// `rmgait config --from-opengait IN OUT`: the rmgait configuration equivalent to OpenGait's IN,
// written atomically (and validated by parsing it).
void write_config_from_opengait(const std::string& in, const std::string& out);

}  // namespace rmgait::pipeline
