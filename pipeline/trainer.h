#pragma once
// Training (what `rmgait train` runs): the P x K sampler -> model -> triplet + cross entropy ->
// optimizer, with a progress line, a JSONL log, atomic checkpoints that resume to the last digit,
// periodic evaluation keeping the best, and checkpoint rotation (pipeline/run_dir.h). Under
// mpirun, data-parallel (pipeline/data_parallel.h): N ranks compute one process's steps, rank 0
// alone logs, prints and writes.
//   Trainer t(load_config("run.yaml"), {});
//   t.run();                      // or: while (t.iteration() < n) t.step(); t.checkpoint();
#include <functional>
#include <memory>
#include <string>

#include "gait/evaluator.h"
#include "nn/module.h"
#include "nn/optim.h"
#include "pipeline/config.h"
#include "pipeline/data_parallel.h"

namespace rmgait::pipeline {

// Ways in for tests (a diverging run, a slow disk) and for programs that watch a run; all
// optional. `iteration` counts from 1: the step being taken.
struct TrainHooks {
  // After the step's losses, before backward: may change them (make the loss NaN).
  std::function<void(int64_t iteration, StepLosses& losses)> after_losses;
  // After backward, with the gradients summed over ranks: may change them.
  std::function<void(int64_t iteration, const nn::NamedTensors& params)> after_backward;
  // With a checkpoint's temporary file written, before it is renamed into place.
  std::function<void(const std::string& path)> checkpoint_writing;
};

struct TrainOptions {
  std::string resume;   // continue from this checkpoint (its iteration, optimizer and RNGs)
  std::string weights;  // or start from these weights (rmgait, safetensors or PyTorch .pt)
  Device device = Device::cpu;
  TrainHooks hooks;
};

class Trainer {
 public:
  // Opens the dataset, checks that every rank runs the same job, builds the model and the
  // optimizer, restores `options.resume`, prepares the output folder.
  Trainer(const TrainConfig& cfg, TrainOptions options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  int64_t iteration() const;  // steps taken (the checkpoint's, when resumed)
  // One step; logs, checkpoints and evaluates when trainer_cfg says so. An error (a non-finite
  // loss under on_nonfinite: stop) names the iteration.
  void step();
  // checkpoints/iter_NNNNNNN.safetensors and latest.safetensors at this iteration (rank 0).
  void checkpoint();
  // The test set's rank-1 table at this iteration; on rank 0 also printed, written to eval.json
  // / .csv and, when the best so far, kept as best.safetensors. Other ranks get an empty table.
  gait::EvalTable evaluate();
  // Steps to trainer_cfg.total_iter, then the final checkpoint and evaluation.
  void run();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// The optimizer optimizer_cfg names (Adam, AdamW or SGD) over `params`.
std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& cfg, nn::NamedTensors params);

// `rmgait train`: Trainer(cfg, options).run().
void train(const TrainConfig& cfg, const TrainOptions& options);

}  // namespace rmgait::pipeline
