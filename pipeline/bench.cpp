#include "pipeline/bench.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "data/loader.h"
#include "data/pretreat.h"
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/flops.h"
#include "engine/ops.h"
#include "engine/precision.h"
#include "engine/profile.h"
#include "pipeline/data_parallel.h"
#include "pipeline/model_io.h"
#include "pipeline/onnx_export.h"
#include "pipeline/trainer.h"

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

namespace {

// The gate of BenchOptions: a unit of work runs when the other end says so, and its time goes
// back. Both calls do nothing without a gate.
void gate_wait(const BenchOptions& o) {
  if (o.gate_in < 0) return;
  char go = 0;
  ssize_t got;
  while ((got = read(o.gate_in, &go, 1)) < 0 && errno == EINTR) {
  }
  RM_CHECK(got == 1, "bench: gate file descriptor ", o.gate_in, " closed or failed (",
           got < 0 ? std::strerror(errno) : "end of file", ") before the next unit of work");
}

void gate_done(const BenchOptions& o, const char* kind, double seconds) {
  if (o.gate_out < 0) return;
  char line[64];
  const int n = std::snprintf(line, sizeof line, "%s %.6f\n", kind, seconds);
  for (int off = 0; off < n;) {
    const ssize_t put = write(o.gate_out, line + off, size_t(n - off));
    if (put < 0 && errno == EINTR) continue;
    RM_CHECK(put > 0, "bench: writing to gate file descriptor ", o.gate_out, ": ",
             std::strerror(errno));
    off += int(put);
  }
}

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Binary silhouettes [n, frames, 64, width] as real data are (0 background, 1 body): per sequence
// i and frame t an upright ellipse whose centre sways. bench/peer_torch.py's silhouettes() makes
// the same pixels, so that both sides multiply the same zeros (and meet the same denormals).
Tensor silhouettes(int64_t n, int frames, int width, Device device) {
  const int h = data::kFrameSize;
  std::vector<float> v(size_t(n) * frames * h * width);
  float* p = v.data();
  for (int64_t i = 0; i < n; ++i)
    for (int t = 0; t < frames; ++t) {
      const double cx = width / 2.0 + 4 * std::sin(0.4 * t + double(i));
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < width; ++x) {
          const double dy = (y - 34) / 26.0, dx = (x - cx) / 9.0;
          *p++ = dy * dy + dx * dx <= 1 ? 1.f : 0.f;
        }
    }
  return Tensor::from_vector(v, {n, frames, h, width}, device);
}

// The op family a kernel's time is counted under in a breakdown.
std::string family_of(Kernel k) {
  switch (k) {
    case Kernel::conv3d_forward:
      return "conv forward";
    case Kernel::conv3d_backward_data:
      return "conv backward-data";
    case Kernel::conv3d_backward_weights:
      return "conv backward-weights";
    case Kernel::matmul:
      return "matmul";
    case Kernel::unary:
    case Kernel::unary_backward:
    case Kernel::sign_bits:
    case Kernel::leaky_relu_backward_bits:
    case Kernel::binary:
    case Kernel::where:
      return "elementwise";
    case Kernel::reduce:
    case Kernel::scatter_index:
    case Kernel::softmax_rows:
    case Kernel::softmax_rows_backward:
    case Kernel::gem_rows:
    case Kernel::gem_rows_backward:
    case Kernel::gram_distance_mean:
      return "reductions";
    case Kernel::batch_norm_forward_train:
    case Kernel::batch_norm_forward_eval:
    case Kernel::batch_norm_backward:
      return "batch norm";
    case Kernel::max_pool3d_forward:
    case Kernel::max_pool3d_backward:
      return "pooling";
    case Kernel::adam_update:
      return "optimizer";
    case Kernel::random:
      return "random";
    default:
      return "copies";  // copy, fill, index_gather, index_scatter_add
  }
}

// What the timed training steps measured (the warm-up step left out).
struct StepTiming {
  double seconds = 0;   // per step
  double gflop = 0;     // conv + matmul work of one global step
  double wait = 0;      // per step, waiting for gradient sums (data-parallel)
  size_t cpu_peak = 0;  // tensors at the step's peak (CPU)
  Backend::DeviceMemory device;
  std::vector<std::pair<std::string, double>> families;  // breakdown
};

StepTiming time_steps(const TrainConfig& cfg, const BenchOptions& o, gait::ReverseMaskModel& model,
                      DataParallel& dp) {
  auto opt = make_optimizer(cfg, model.named_parameters());
  const int n = cfg.p * cfg.k;
  const int width = data::model_columns(data::kFrameSize).second;
  Tensor x =
      silhouettes(n, cfg.frames, width, o.device).narrow(0, dp.first_row(), dp.rows()).contiguous();
  std::vector<int64_t> labels;
  for (int64_t i = dp.first_row(); i < dp.first_row() + dp.rows(); ++i)
    labels.push_back((i / cfg.k) % o.classes);
  Backend& be = backend(o.device);
  StepTiming t;
  uint64_t flops0 = 0;
  double wait0 = 0;
  std::vector<Tensor> losses;  // read after the timing (no host sync inside it)
  auto step = [&] {
    opt->zero_grad();
    gait::ModelOutput out;
    {
      PrecisionGuard pg(cfg.precision);
      ConvAlgorithmGuard ag(cfg.conv_algorithm);
      out = model.forward(x);
    }
    Tensor loss = dp.losses(out, labels, cfg).loss;
    dp.backward(loss);
    opt->step();
    losses.push_back(loss.detach());
    backend(o.device).synchronize();
  };
  for (int i = 0; i <= o.iters; ++i) {
    if (i == 1) {
      flops0 = dense_flops(), wait0 = dp.comm_wait_seconds();
      reset_peak_cpu_memory(), be.reset_peak_memory();
    }
    // a profiler records the first timed step alone (not the warm-up, whose per-shape algorithm
    // searches would swamp it)
    if (i == 1 && o.profile_step) be.profile_range(true);
    gate_wait(o);
    const auto t0 = Clock::now();
    step();
    const double s = seconds_since(t0);
    gate_done(o, i ? "train" : "warm", s);
    if (i) t.seconds += s / o.iters;
    if (i == 1 && o.profile_step) be.profile_range(false);
  }
  // a step on non-finite weights times other work than a real one: refuse to report it
  for (size_t i = 0; i < losses.size(); ++i)
    RM_CHECK(std::isfinite(losses[i].item()), "bench: training step ", i, "'s loss is ",
             losses[i].item(), ", not finite: the timing would not be of a real step");
  // every rank does the same share of the global batch's work
  t.gflop = double(dense_flops() - flops0) / o.iters / 1e9 * dp.ranks();
  t.wait = (dp.comm_wait_seconds() - wait0) / o.iters;
  t.cpu_peak = cpu_memory_stats().peak;
  t.device = be.device_memory();
  if (o.breakdown) {  // one more step, every kernel timed
    KernelProfile prof(o.device);
    const auto t0 = Clock::now();
    step();
    const double total = seconds_since(t0);
    std::map<std::string, double> per;
    double in_kernels = 0;
    for (int k = 0; k < int(Kernel::count); ++k) {
      per[family_of(Kernel(k))] += prof[Kernel(k)].seconds;
      in_kernels += prof[Kernel(k)].seconds;
    }
    for (auto& [name, s] : per)
      if (s > 0) t.families.emplace_back(name, s);
    std::sort(t.families.begin(), t.families.end(),
              [](auto& a, auto& b) { return a.second > b.second; });
    t.families.emplace_back("outside kernels", total - in_kernels);
  }
  return t;
}

// Seconds per eval-mode forward of one 90-frame sequence.
double time_inference(const TrainConfig& cfg, const BenchOptions& o,
                      gait::ReverseMaskModel& model) {
  model.eval();
  const int width = data::model_columns(data::kFrameSize).second;
  Tensor seq = silhouettes(1, 90, width, o.device);
  NoGradGuard ng;
  double s = 0;
  for (int i = 0; i <= o.iters; ++i) {
    gate_wait(o);
    const auto t0 = Clock::now();
    {
      PrecisionGuard pg(cfg.precision);
      ConvAlgorithmGuard ag(cfg.eval_conv_algorithm);
      model.forward(seq);
      backend(o.device).synchronize();
    }
    const double run = seconds_since(t0);
    gate_done(o, i ? "infer" : "infer-warm", run);
    if (i) s += run / o.iters;
  }
  return s;
}

std::string report(const TrainConfig& cfg, const BenchOptions& o, const gait::ReverseMaskModel& m,
                   const DataParallel& dp, const StepTiming& t, const BenchResult& r) {
  std::string text;
  appendf(text,
          "model %s, channels (%lld, %lld, %lld), %lld parameters, precision %s, conv algorithm "
          "%s (train) / %s (inference)\n",
          gait::block_kind_name(cfg.model.block), (long long)cfg.model.channels[0],
          (long long)cfg.model.channels[1], (long long)cfg.model.channels[2],
          (long long)m.parameter_count(), precision_name(cfg.precision),
          conv_algorithm_name(cfg.conv_algorithm), conv_algorithm_name(cfg.eval_conv_algorithm));
  appendf(text,
          "train step (%dx%d sequences x %d frames): %.3f s/it, %.1f sequences/s, %.1f GFLOP/step "
          "(conv + matmul), %.1f GFLOP/s\n",
          cfg.p, cfg.k, cfg.frames, t.seconds, cfg.p * cfg.k / t.seconds, t.gflop,
          t.gflop / t.seconds);
  if (dp.ranks() > 1) {
    appendf(text,
            "data-parallel: %d ranks x %d sequences; waiting for gradient sums %.3f s/it "
            "(%.1f%% of the step)\n",
            dp.ranks(), int(dp.rows()), t.wait, 100 * t.wait / t.seconds);
    if (o.baseline_step > 0)  // one process given all the cores that the ranks share here
      appendf(text,
              "scaling efficiency against one process on the same cores (%.3f s/it): %.1f%%\n",
              o.baseline_step, 100 * o.baseline_step / t.seconds);
  }
  appendf(text, "inference (one 90-frame sequence): %.3f s, %.1f sequences/s\n",
          r.inference_seconds, 1 / r.inference_seconds);
  const double mib = double(1 << 20);
  if (o.device == Device::cpu)
    appendf(text, "tensors at the peak of a training step: %.1f MiB\n", double(t.cpu_peak) / mib);
  else
    appendf(text,
            "device memory: tensors at the peak of a training step %.1f MiB, allocator "
            "reserved %.1f MiB\n",
            double(t.device.peak_in_use) / mib, double(t.device.reserved) / mib);
  appendf(text, "peak resident memory: %.1f MiB\n", r.peak_resident_mib);
  if (!t.families.empty()) {
    double total = 0;
    for (auto& [name, s] : t.families) total += s;
    appendf(text, "breakdown of one step (%.3f s, every kernel timed):\n", total);
    for (auto& [name, s] : t.families)
      appendf(text, "  %-22s %8.3f s  %5.1f%%\n", name.c_str(), s, 100 * s / total);
  }
  return text;
}

}  // namespace

BenchResult bench(const TrainConfig& cfg, const BenchOptions& o) {
  RM_CHECK(o.iters > 0 && o.classes > 0, "bench: the timed steps (", o.iters, ") and the classes (",
           o.classes, ") must be positive");
  check_precision(cfg.precision, o.device);
  RM_CHECK((o.gate_in < 0) == (o.gate_out < 0), "bench: a gate needs both file descriptors, got ",
           o.gate_in, ",", o.gate_out);
  gait::ReverseMaskModel model(model_config(cfg, o.classes, data::kFrameSize));
  model.to(o.device);
  // under mpirun: the data-parallel step of `train` on this rank's rows of the P x K batch
  DataParallel dp(model, o.device, cfg.p, cfg.k, cfg.sync_bn);
  RM_CHECK(o.gate_in < 0 || dp.ranks() == 1, "bench: --gate times one process, not ", dp.ranks(),
           " ranks");
  const StepTiming t = time_steps(cfg, o, model, dp);
  BenchResult r;
  r.step_seconds = t.seconds;
  r.families = t.families;
  r.inference_seconds = time_inference(cfg, o, model);
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  r.peak_resident_mib = double(ru.ru_maxrss) / 1024.0;
  if (dp.rank() == 0) {
    r.text = report(cfg, o, model, dp, t, r);
    if (!o.export_onnx.empty()) r.text += write_onnx(model, cfg, 0, o.export_onnx) + "\n";
  }
  return r;
}

}  // namespace rmgait::pipeline
