#include "pipeline/bench.h"

#include <sys/resource.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/flops.h"
#include "engine/ops.h"
#include "engine/precision.h"
#include "engine/random.h"
#include "nn/optim.h"
#include "pipeline/data_parallel.h"
#include "pipeline/model_io.h"

namespace rmgait::pipeline {

namespace {
void appendf(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  out += buf;
}
}  // namespace

BenchResult bench(const TrainConfig& cfg, const BenchOptions& options) {
  const int iters = options.iters;
  const int64_t classes = options.classes;
  const Device device = options.device;
  const double baseline_step = options.baseline_step;
  RM_CHECK(iters > 0 && classes > 0, "bench: --iters and --classes must be positive");
  using Clock = std::chrono::steady_clock;
  const Precision precision = cfg.precision;
  check_precision(precision, device);
  gait::ReverseMaskModel model(model_config(cfg, classes, 64));
  model.to(device);
  // under mpirun: the data-parallel step of `train` on this rank's rows of the P x K batch
  DataParallel dp(model, device, cfg.p, cfg.k, cfg.sync_bn);
  const bool lead = dp.rank() == 0;
  nn::Adam opt(model.named_parameters(), cfg.lr, cfg.weight_decay);
  Generator g(1);
  const int n = cfg.p * cfg.k;
  Tensor x = rand({n, cfg.frames, 64, 44}, g, 0.f, 1.f, device)
                 .narrow(0, dp.first_row(), dp.rows())
                 .contiguous();
  std::vector<int64_t> labels;
  for (int64_t i = dp.first_row(); i < dp.first_row() + dp.rows(); ++i)
    labels.push_back((i / cfg.k) % classes);
  TrainConfig loss_cfg;  // the default losses: triplet (margin 0.2) + cross entropy
  double train_s = 0, wait0 = 0;
  uint64_t flops0 = 0;
  const bool profile_step = options.profile_step;
  size_t train_peak = 0;
  for (int i = 0; i <= iters; ++i) {
    if (i == 1) {
      flops0 = dense_flops(), wait0 = dp.comm_wait_seconds();
      reset_peak_cpu_memory(), backend(device).reset_peak_memory();
    }
    // profile_step: a profiler records the first timed step alone (not the warm-up, whose
    // per-shape algorithm searches would swamp it)
    if (i == 1 && profile_step) backend(device).profile_range(true);
    auto t0 = Clock::now();
    opt.zero_grad();
    gait::ModelOutput out;
    {
      PrecisionGuard pg(precision);
      out = model.forward(x);
    }
    dp.backward(dp.losses(out, labels, loss_cfg).loss);
    opt.step();
    backend(device).synchronize();
    if (i) train_s += std::chrono::duration<double>(Clock::now() - t0).count();
    if (i == 1 && profile_step) backend(device).profile_range(false);
  }
  // every rank does the same share of the global batch's work
  const double step_gflop = double(dense_flops() - flops0) / iters / 1e9 * dp.ranks();
  train_peak = cpu_memory_stats().peak;
  const Backend::DeviceMemory gpu_train = backend(device).device_memory();
  model.eval();
  Tensor seq = rand({1, 90, 64, 44}, g, 0.f, 1.f, device);
  double infer_s = 0;
  {
    NoGradGuard ng;
    for (int i = 0; i <= iters; ++i) {
      auto t0 = Clock::now();
      PrecisionGuard pg(precision);
      model.forward(seq);
      backend(device).synchronize();
      if (i) infer_s += std::chrono::duration<double>(Clock::now() - t0).count();
    }
  }
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  BenchResult r;
  r.step_seconds = train_s / iters, r.inference_seconds = infer_s / iters;
  r.peak_resident_mib = double(ru.ru_maxrss) / 1024.0;
  if (!lead) return r;
  std::string& text = r.text;
  appendf(text, "model %s, channels (%lld, %lld, %lld), %lld parameters, precision %s\n",
          gait::block_kind_name(cfg.model.block), (long long)cfg.model.channels[0],
          (long long)cfg.model.channels[1], (long long)cfg.model.channels[2],
          (long long)model.parameter_count(), precision_name(precision));
  appendf(text,
          "train step (%dx%d sequences x %d frames): %.3f s/it, %.1f sequences/s, %.1f GFLOP/step "
          "(conv + matmul), %.1f GFLOP/s\n",
          cfg.p, cfg.k, cfg.frames, train_s / iters, n * iters / train_s, step_gflop,
          step_gflop * iters / train_s);
  if (dp.ranks() > 1) {
    const double wait = (dp.comm_wait_seconds() - wait0) / iters, step = train_s / iters;
    appendf(text,
            "data-parallel: %d ranks x %d sequences; waiting for gradient sums %.3f s/it "
            "(%.1f%% of the step)\n",
            dp.ranks(), int(dp.rows()), wait, 100 * wait / step);
    if (baseline_step > 0)  // one process given all the cores that the ranks share here
      appendf(text,
              "scaling efficiency against one process on the same cores (%.3f s/it): "
              "%.1f%%\n",
              baseline_step, 100 * baseline_step / step);
  }
  appendf(text, "inference (one 90-frame sequence): %.3f s, %.1f sequences/s\n", infer_s / iters,
          iters / infer_s);
  const double mib = double(1 << 20);
  if (device == Device::cpu)
    appendf(text, "tensors at the peak of a training step: %.1f MiB\n", double(train_peak) / mib);
  else
    appendf(text,
            "device memory: tensors at the peak of a training step %.1f MiB, allocator "
            "reserved %.1f MiB\n",
            double(gpu_train.peak_in_use) / mib, double(gpu_train.reserved) / mib);
  appendf(text, "peak resident memory: %.1f MiB\n", double(ru.ru_maxrss) / 1024.0);
  return r;
}

}  // namespace rmgait::pipeline
