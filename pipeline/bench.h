#pragma once
// `rmgait bench`: the training step of a configuration's model on random silhouettes (the
// data-parallel step under mpirun) and inference on one 90-frame sequence, timed after a warm-up
// step, with the work done (GFLOP of convolutions and matmuls) and the memory held.
#include <string>
#include <utility>
#include <vector>

#include "pipeline/config.h"

namespace rmgait::pipeline {

struct BenchOptions {
  int iters = 3;         // timed steps (after one warm-up step)
  int64_t classes = 74;  // the model's identities (CASIA-B LT: 74)
  Device device = Device::cpu;
  // under mpirun: one process's step time on the same cores, for the scaling efficiency
  double baseline_step = 0;
  bool profile_step = false;  // a device profiler records the first timed step alone
  bool breakdown = false;     // one more step with every kernel timed, summed per op family
  // the benchmarked model (eval mode) written here as ONNX, for ONNX Runtime to time the same
  // inference (bench/onnx_runtime.sh); "" writes nothing
  std::string export_onnx;
  // Step by step against another process (bench/interleave.py): before each training step and
  // each inference run, read one byte from file descriptor gate_in; after it, write
  // "<warm|train|infer-warm|infer> SECONDS\n" to gate_out. -1: no gate.
  int gate_in = -1, gate_out = -1;
};

struct BenchResult {
  double step_seconds = 0, inference_seconds = 0, peak_resident_mib = 0;
  std::string text;  // the report rank 0 prints (empty on the other ranks)
  // with breakdown: seconds of one step per op family ("conv forward", "elementwise", ...,
  // "outside kernels": autograd, allocation and the rest)
  std::vector<std::pair<std::string, double>> families;
};

BenchResult bench(const TrainConfig& cfg, const BenchOptions& options);

}  // namespace rmgait::pipeline
