#pragma once
// Evaluation on a protocol's test set: every test sequence embedded (all its frames, eval
// mode), sharded over the ranks under mpirun, and scored by rank 0 (gait/evaluator.h) into the
// rank-1 table; the table written as JSON and CSV.
#include <optional>
#include <string>

#include "data/packed.h"
#include "data/protocol.h"
#include "distributed/communicator.h"
#include "engine/precision.h"
#include "gait/evaluator.h"
#include "gait/model.h"
#include "pipeline/config.h"

namespace rmgait::pipeline {

// How evaluate() runs: the distance, the bound on the scorer's memory, progress on stderr, and
// the device the model and the embeddings live on.
struct EvalOptions {
  gait::Distance distance = gait::Distance::per_part_mean;
  int64_t memory_bytes = gait::kDefaultEvalMemoryBytes;
  bool progress = false;
  Device device = Device::cpu;
  Precision precision = Precision::f32;  // of the model's forward (distances stay f32)
  ConvAlgorithm conv_algorithm = ConvAlgorithm::winograd;  // of its f32 convs on the CPU
  // Under mpirun (world()): each rank embeds its share of the test sequences and rank 0 gathers
  // and scores them; the other ranks get an empty table.
  dist::Communicator* comm = nullptr;
};
EvalOptions eval_options(const TrainConfig& cfg, Device device);  // from evaluator_cfg

// Embeds every test sequence of the protocol (all frames, eval mode) and scores it (sharded over
// options.comm's ranks: the same numbers as one process).
gait::EvalTable evaluate(gait::ReverseMaskModel& model, const data::PackedDataset& ds,
                         const data::Protocol& protocol, const EvalOptions& options);

// `rmgait eval`: a checkpoint on a packed dataset's protocol, sharded over the ranks under
// mpirun. The table and the text rank 0 prints (both empty on the other ranks).
struct CheckpointEval {
  std::string checkpoint, config;  // config: for a checkpoint without one (PyTorch .pt)
  std::string dataset, protocol = "casiab-lt";
  gait::Distance distance = gait::Distance::per_part_mean;
  int64_t memory_mb = 1024;
  std::optional<Precision> precision;           // default: the training's
  std::optional<ConvAlgorithm> conv_algorithm;  // default: evaluator_cfg.conv_algorithm
  Device device = Device::cpu;
};
struct EvalReport {
  gait::EvalTable table;
  std::string text;
};
EvalReport evaluate_checkpoint(const CheckpointEval& request);

// Writes the table as JSON and CSV (atomically) next to `stem` (stem.json, stem.csv).
void write_results(const gait::EvalTable& t, const std::string& stem);

}  // namespace rmgait::pipeline
