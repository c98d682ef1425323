#pragma once
// What train, eval, embed and bench share: building the model from a configuration, loading
// checkpoints, embedding sequences, evaluating on a protocol, writing results.
#include <memory>
#include <string>

#include "data/packed.h"
#include "data/protocol.h"
#include "distributed/communicator.h"
#include "engine/precision.h"
#include "gait/evaluator.h"
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

// How evaluate() runs: the distance, the bound on the scorer's memory, progress on stderr, and
// the device the model and the embeddings live on.
struct EvalOptions {
  gait::Distance distance = gait::Distance::per_part_mean;
  int64_t memory_bytes = gait::kDefaultEvalMemoryBytes;
  bool progress = false;
  Device device = Device::cpu;
  Precision precision = Precision::f32;  // of the model's forward (distances stay f32)
  // Under mpirun (world()): each rank embeds its share of the test sequences and rank 0 gathers
  // and scores them; the other ranks get an empty table.
  dist::Communicator* comm = nullptr;
};
EvalOptions eval_options(const TrainConfig& cfg, Device device);  // from evaluator_cfg

// Embeds every test sequence of the protocol (all frames, eval mode) and scores it (sharded over
// options.comm's ranks: the same numbers as one process).
gait::EvalTable evaluate(gait::ReverseMaskModel& model, const data::PackedDataset& ds,
                         const data::Protocol& protocol, const EvalOptions& options);

// Writes the table as JSON and CSV (atomically) next to `stem` (stem.json, stem.csv).
void write_results(const gait::EvalTable& t, const std::string& stem);

std::string rng_to_string(const std::vector<std::pair<uint64_t, uint64_t>>& s);
std::vector<std::pair<uint64_t, uint64_t>> rng_from_string(const std::string& s);

Device parse_device(const std::string& s);  // "cpu" or "cuda" (checked to be usable)

// `weights`: start from a checkpoint's weights (rmgait, safetensors or PyTorch .pt), not its
// optimizer state or iteration (fine-tuning); excludes `resume`.
int run_train(const TrainConfig& cfg, const std::string& resume, Device device = Device::cpu,
              const std::string& weights = "");

}  // namespace rmgait::pipeline
