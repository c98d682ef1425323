// rmgait: one binary, subcommands as verbs.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <new>
#include <set>

#include "data/convert.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "data/packed.h"
#include "data/pretreat.h"
#include "data/syngait.h"
#include "distributed/world.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/flops.h"
#include "engine/npy.h"
#include "engine/ops.h"
#include "engine/precision.h"
#include "engine/random.h"
#include "formats/safetensors.h"
#include "formats/torch_pt.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "pipeline/data_parallel.h"
#include "pipeline/evaluation.h"
#include "pipeline/model_io.h"
#include "pipeline/report.h"
#include "pipeline/trainer.h"
#include "pipeline/visualize.h"

using namespace rmgait;

namespace {

int cmd_info(const std::string& path) {
  data::PackedDataset ds(path);
  std::set<std::string> subjects, views;
  std::map<std::string, int> per_cond;
  std::map<std::string, int> per_view;
  uint64_t frames = 0;
  for (const auto& s : ds.table()) {
    subjects.insert(s.subject);
    views.insert(s.view);
    per_cond[s.condition + "-" + (s.seq < 10 ? "0" : "") + std::to_string(s.seq)]++;
    per_view[s.view]++;
    frames += s.frames;
  }
  std::printf("%s: %zu subjects, %zu sequences, %llu frames of %ux%u\n", path.c_str(),
              subjects.size(), ds.size(), (unsigned long long)frames, ds.height(), ds.width());
  std::printf("sequences per condition:");
  for (auto& [c, n] : per_cond) std::printf(" %s:%d", c.c_str(), n);
  std::printf("\nsequences per view:");
  for (auto& [v, n] : per_view) std::printf(" %s:%d", v.c_str(), n);
  std::printf("\n");
  return 0;
}

int cmd_eval(const std::string& ckpt, const std::string& config, const std::string& dataset,
             const std::string& protocol, const std::string& out, const std::string& distance,
             int64_t memory_mb, const std::string& precision, Device device) {
  RM_CHECK(memory_mb > 0, "eval: --memory-mb must be positive, got ", memory_mb);
  pipeline::LoadedModel lm = pipeline::load_model(ckpt, config);
  lm.model->to(device);
  data::PackedDataset ds(dataset);
  data::Protocol p = data::parse_protocol(protocol);
  pipeline::EvalOptions o;
  o.distance = gait::parse_distance(distance);
  o.memory_bytes = memory_mb << 20;
  o.device = device;
  o.precision = precision.empty() ? lm.cfg.precision : parse_precision(precision);
  o.comm = &dist::world();  // under mpirun: sharded, scored by rank 0
  o.progress = o.comm->rank() == 0;
  gait::EvalTable t = pipeline::evaluate(*lm.model, ds, p, o);
  if (o.comm->rank() != 0) return 0;
  std::printf("rank-1 (%%), excluding identical views, %s, %s:\n%s", p.name.c_str(), ckpt.c_str(),
              gait::format_table(t).c_str());
  if (p.kind == data::ProtocolKind::oumvlp)
    std::printf("excluding invalid probes:\n%s", gait::format_table(t, true).c_str());
  if (!out.empty()) pipeline::write_results(t, out);
  return 0;
}

// A sequence for embedding: .npy f32 [T, H, W] in [0, 1] or u8, or a folder of raw PNG frames.
Tensor read_sequence(const std::string& npy, const std::string& dir) {
  Tensor x;
  if (!npy.empty()) {
    x = load_npy(npy);
    RM_CHECK(x.dim() == 3, npy, ": expected [T, H, W], got ", shape_str(x.shape()));
    x = x.dtype() == DType::u8 ? mul(x.to(DType::f32), 1.f / 255.f) : x.to(DType::f32);
  } else {
    std::vector<std::string> files;
    for (auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".png") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    std::vector<float> frames;
    for (const auto& f : files) {
      data::GrayImage g = data::read_gray(f);
      data::PretreatResult r = data::pretreat_frame(g.pixels.data(), g.height, g.width);
      if (!r.dropped.empty()) {
        std::fprintf(stderr, "embed: skipping %s: %s\n", f.c_str(), r.dropped.c_str());
        continue;
      }
      for (uint8_t v : r.image) frames.push_back(float(v) / 255.f);
    }
    RM_CHECK(!frames.empty(), dir, ": no usable PNG frames");
    x = Tensor::from_vector(frames, {int64_t(frames.size() / 4096), 64, 64});
  }
  if (x.size(2) == 64) x = x.narrow(2, data::kCutLeft, data::kModelWidth).contiguous();
  return x.unsqueeze(0);
}

int cmd_embed(const std::string& ckpt, const std::string& config, const std::string& npy,
              const std::string& dir, const std::string& out, const std::string& precision,
              Device device) {
  Tensor x = read_sequence(npy, dir);  // first: bad input fails before the model loads
  pipeline::LoadedModel lm = pipeline::load_model(ckpt, config);
  const Precision prec = precision.empty() ? lm.cfg.precision : parse_precision(precision);
  check_precision(prec, device);
  lm.model->to(device);
  x = x.to(device);
  lm.model->eval();
  NoGradGuard ng;
  PrecisionGuard pg(prec);
  Tensor e = lm.model->forward(x).embedding.squeeze(0);  // [C, P]
  save_npy(out, e);
  std::printf("%s: embedding %s\n", out.c_str(), shape_str(e.shape()).c_str());
  return 0;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// IN.pt -> OUT.safetensors (the state dict, OpenGait's iteration kept), or a safetensors
// checkpoint -> OUT.pt (.pth) that torch.load(weights_only=True) reads; --opengait writes
// OpenGait's {'model': ..., 'iteration': n}.
int cmd_convert(const std::string& in, const std::string& out, bool opengait) {
  const bool to_torch = ends_with(out, ".pt") || ends_with(out, ".pth");
  if (formats::is_torch_checkpoint(in)) {
    RM_CHECK(!to_torch, "convert: ", in, " is already a PyTorch checkpoint; write a .safetensors");
    formats::TorchCheckpoint ck = formats::load_torch_checkpoint(in);
    std::map<std::string, std::string> meta;
    if (ck.iteration) meta["iteration"] = std::to_string(*ck.iteration);
    formats::save_safetensors(out, ck.state, meta);
    std::printf("%s: %zu tensors from %s%s\n", out.c_str(), ck.state.size(), in.c_str(),
                ck.opengait_layout ? " (OpenGait layout)" : "");
    return 0;
  }
  RM_CHECK(to_torch, "convert: ", out, ": expected a .pt or .pth output for a safetensors input");
  formats::SafetensorsFile f = formats::load_safetensors(in);
  const std::map<std::string, Tensor> state = nn::model_tensors(f.tensors);
  int64_t iteration = 0;
  if (auto it = f.metadata.find("iteration"); it != f.metadata.end())
    iteration = std::stoll(it->second);
  formats::save_torch_checkpoint(out, state, opengait, iteration);
  std::printf("%s: %zu tensors from %s%s\n", out.c_str(), state.size(), in.c_str(),
              opengait ? " (OpenGait layout)" : "");
  return 0;
}

int cmd_bench(const pipeline::TrainConfig& cfg, int iters, int64_t classes, Device device,
              double baseline_step) {
  using Clock = std::chrono::steady_clock;
  const Precision precision = cfg.precision;
  check_precision(precision, device);
  gait::ReverseMaskModel model(pipeline::model_config(cfg, classes, 64));
  model.to(device);
  // under mpirun: the data-parallel step of `train` on this rank's rows of the P x K batch
  pipeline::DataParallel dp(model, device, cfg.p, cfg.k, cfg.sync_bn);
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
  pipeline::TrainConfig loss_cfg;  // the default losses: triplet (margin 0.2) + cross entropy
  double train_s = 0, wait0 = 0;
  uint64_t flops0 = 0;
  const bool profile_step = std::getenv("RMGAIT_PROFILE_STEP") != nullptr;
  size_t train_peak = 0;
  for (int i = 0; i <= iters; ++i) {
    if (i == 1) {
      flops0 = dense_flops(), wait0 = dp.comm_wait_seconds();
      reset_peak_cpu_memory(), backend(device).reset_peak_memory();
    }
    // RMGAIT_PROFILE_STEP=1: a profiler records the first timed step alone (not the warm-up,
    // whose per-shape algorithm searches would swamp it)
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
  if (!lead) return 0;
  std::printf("model %s, channels (%lld, %lld, %lld), %lld parameters, precision %s\n",
              gait::block_kind_name(cfg.model.block), (long long)cfg.model.channels[0],
              (long long)cfg.model.channels[1], (long long)cfg.model.channels[2],
              (long long)model.parameter_count(), precision_name(precision));
  std::printf(
      "train step (%dx%d sequences x %d frames): %.3f s/it, %.1f sequences/s, %.1f GFLOP/step "
      "(conv + matmul), %.1f GFLOP/s\n",
      cfg.p, cfg.k, cfg.frames, train_s / iters, n * iters / train_s, step_gflop,
      step_gflop * iters / train_s);
  if (dp.ranks() > 1) {
    const double wait = (dp.comm_wait_seconds() - wait0) / iters, step = train_s / iters;
    std::printf(
        "data-parallel: %d ranks x %d sequences; waiting for gradient sums %.3f s/it "
        "(%.1f%% of the step)\n",
        dp.ranks(), int(dp.rows()), wait, 100 * wait / step);
    if (baseline_step > 0)  // one process given all the cores that the ranks share here
      std::printf(
          "scaling efficiency against one process on the same cores (%.3f s/it): "
          "%.1f%%\n",
          baseline_step, 100 * baseline_step / step);
  }
  std::printf("inference (one 90-frame sequence): %.3f s, %.1f sequences/s\n", infer_s / iters,
              iters / infer_s);
  const double mib = double(1 << 20);
  if (device == Device::cpu)
    std::printf("tensors at the peak of a training step: %.1f MiB\n", double(train_peak) / mib);
  else
    std::printf(
        "device memory: tensors at the peak of a training step %.1f MiB, allocator "
        "reserved %.1f MiB\n",
        double(gpu_train.peak_in_use) / mib, double(gpu_train.reserved) / mib);
  std::printf("peak resident memory: %.1f MiB\n", double(ru.ru_maxrss) / 1024.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rmgait: gait recognition with ReverseMask"};
  app.require_subcommand(1);

  data::SynGaitOptions so;
  std::string synth_out;
  bool aligned = false;
  auto* synth = app.add_subcommand("synth", "render the SynGait procedural dataset");
  synth->add_option("out", synth_out, "output (a packed dataset with --aligned)")->required();
  synth->add_option("--subjects", so.subjects, "number of subjects (CASIA-B: 124)");
  synth->add_option("--seed", so.seed, "seed");
  synth->add_option("--frames", so.frames, "frames per sequence (default 60-90)");
  synth->add_flag("--aligned", aligned, "pretreat and write the packed 64x64 dataset directly");
  std::string size;
  synth->add_option("--size", size, "frame size WxH (default 160x120)");

  std::string src, dst, layout = "casiab";
  auto* pretreat = app.add_subcommand("pretreat", "pretreat a raw PNG tree into a packed dataset");
  pretreat->add_option("src", src, "CASIA-B (<sid>/<cond>-<seq>/<view>/*.png) or OU-MVLP tree")
      ->required();
  pretreat->add_option("dst", dst, "packed dataset to write")->required();
  pretreat->add_option("--layout", layout)->check(CLI::IsMember({"casiab", "oumvlp"}));

  std::string pkl_dir;
  auto* pack = app.add_subcommand("pack", "pack OpenGait's pretreated pkl tree");
  pack->add_option("--from-pkl", pkl_dir, "<sid>/<cond>-<seq>/<view>/<name>.pkl")->required();
  pack->add_option("out", dst, "packed dataset to write")->required();

  std::string info_path;
  auto* info = app.add_subcommand("info", "describe a packed dataset");
  info->add_option("dataset", info_path)->required();

  std::string config, resume;
  std::vector<std::string> sets;
  auto* train = app.add_subcommand("train", "train a model");
  train->add_option("--config", config, "YAML configuration")->required();
  train->add_option("--set", sets, "override: section.key=value");
  train->add_option("--resume", resume, "continue from a checkpoint");
  std::string resume_weights;
  train->add_option("--resume-weights", resume_weights,
                    "start from a checkpoint's weights (rmgait, safetensors or PyTorch .pt)");
  std::string device = "cpu";
  train->add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));

  std::string ckpt, dataset, protocol = "casiab-lt", out, distance = "per_part";
  auto* eval =
      app.add_subcommand("eval", "evaluate a checkpoint (rank-1, excluding identical views)");
  eval->add_option("--checkpoint", ckpt, "rmgait, safetensors or PyTorch (.pt) checkpoint")
      ->required();
  eval->add_option("--config", config,
                   "the model's configuration, for a checkpoint without one (PyTorch .pt)");
  eval->add_option("--dataset", dataset)->required();
  eval->add_option("--protocol", protocol, "casiab-st|casiab-mt|casiab-lt|casiab-lt73|oumvlp");
  eval->add_option("--out", out, "write OUT.json and OUT.csv");
  eval->add_option("--distance", distance)->check(CLI::IsMember({"per_part", "flattened"}));
  int64_t eval_memory_mb = 1024;
  eval->add_option("--memory-mb", eval_memory_mb,
                   "bound on the scorer's own memory in MiB (distance tiles; default 1024)");
  eval->add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  std::string precision;
  const char* precision_help = "f32 or bf16 convs and matmuls (default: the training's)";
  eval->add_option("--precision", precision, precision_help)->check(CLI::IsMember({"f32", "bf16"}));

  std::string sils, dir, emb_out;
  auto* embed = app.add_subcommand("embed", "embed one sequence: [C, P] .npy");
  embed->add_option("--checkpoint", ckpt, "rmgait, safetensors or PyTorch (.pt) checkpoint")
      ->required();
  embed->add_option("--config", config,
                    "the model's configuration, for a checkpoint without one (PyTorch .pt)");
  auto* o1 = embed->add_option("--sils", sils, "f32 [T, H, W] in [0, 1] or u8 .npy");
  auto* o2 = embed->add_option("--dir", dir, "folder of raw silhouette PNGs");
  o1->excludes(o2);
  embed->add_option("--out", emb_out)->required();
  embed->add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  embed->add_option("--precision", precision, precision_help)
      ->check(CLI::IsMember({"f32", "bf16"}));

  int bench_iters = 3;
  int64_t bench_classes = 74;
  auto* bench = app.add_subcommand("bench", "time a training step and inference");
  bench->add_option("--config", config)->required();
  bench->add_option("--set", sets);
  bench->add_option("--iters", bench_iters);
  bench->add_option("--classes", bench_classes);
  bench->add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  bench->add_option("--precision", precision, "f32 or bf16 (default: trainer_cfg.precision)")
      ->check(CLI::IsMember({"f32", "bf16"}));

  double baseline_step = 0;
  bench->add_option("--baseline-step", baseline_step,
                    "under mpirun: the step time (s) of one process on the same cores (all the "
                    "ranks' threads), to report scaling efficiency against");

  auto* convert =
      app.add_subcommand("convert", "PyTorch .pt <-> safetensors (OpenGait checkpoints)");
  std::string conv_in, conv_out;
  bool opengait = false;
  convert->add_option("in", conv_in, "IN.pt or a safetensors checkpoint")->required();
  convert->add_option("out", conv_out, "OUT.safetensors or OUT.pt")->required();
  convert->add_flag("--opengait", opengait, "write OpenGait's {'model': ..., 'iteration': n}");
  auto* vis = app.add_subcommand("visualize", "the paper's Fig. 1: activation maps as PNG files");
  std::string vis_out;
  int64_t vis_frame = -1;
  uint64_t vis_seed = 1;
  vis->add_option("--checkpoint", ckpt, "rmgait, safetensors or PyTorch (.pt) checkpoint")
      ->required();
  vis->add_option("--config", config, "the model's configuration, for a checkpoint without one");
  auto* v1 = vis->add_option("--sils", sils, "f32 [T, H, W] in [0, 1] or u8 .npy");
  auto* v2 = vis->add_option("--dir", dir, "folder of raw silhouette PNGs");
  v1->excludes(v2);
  vis->add_option("--out", vis_out, "folder for the PNG files")->required();
  vis->add_option("--frame", vis_frame, "the frame shown (default: the middle one)");
  vis->add_option("--seed", vis_seed, "seed of the drawn masks");
  auto* report = app.add_subcommand("report", "an HTML report (SVG figures) of training runs");
  std::vector<std::string> report_runs;
  std::string report_out;
  report->add_option("runs", report_runs, "run directories (log.jsonl, eval.json)")->required();
  report->add_option("--out", report_out, "the HTML file (default: RUN_DIR/report.html)");
  auto* config_cmd = app.add_subcommand("config", "translate an OpenGait configuration");
  std::vector<std::string> from_opengait;
  config_cmd->add_option("--from-opengait", from_opengait, "IN.yaml OUT.yaml (OpenGait -> rmgait)")
      ->expected(2)
      ->required();
  auto* version = app.add_subcommand("version", "version and what this build can use");

  CLI11_PARSE(app, argc, argv);
  // a file-size limit (RLIMIT_FSIZE) makes writes fail with EFBIG, reported with the file's name,
  // instead of killing the process mid-write
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    if (*version) {
      std::printf(
          "rmgait %s\nCUDA backend: %s\nMPI: %s\nNCCL: %s\n", RMGAIT_VERSION,
          device_available(Device::cuda) ? "yes" : device_unavailable_reason(Device::cuda).c_str(),
          dist::built_with_mpi() ? "yes" : "no (built without MPI)",
          dist::built_with_nccl() ? "yes" : "no (built without NCCL)");
      return 0;
    }
    // under mpirun with --device cuda: one GPU per rank, before anything touches CUDA
    if (device == "cuda") dist::select_local_gpu();
    if (*synth) {
      if (!size.empty()) {
        int w = 0, h = 0;
        RM_CHECK(std::sscanf(size.c_str(), "%dx%d", &w, &h) == 2 && w >= 32 && h >= 32,
                 "synth: --size '", size, "': expected WxH, both at least 32");
        so.width = w, so.height = h;
      }
      if (!aligned) {
        data::synth_png_tree(so, synth_out, true);
        std::printf("%s: %d subjects rendered as a CASIA-B PNG tree\n", synth_out.c_str(),
                    so.subjects);
        return 0;
      }
      int64_t dropped = data::synth_aligned(so, synth_out, true);
      std::printf("%s: %d subjects written; %lld frames dropped by pretreatment\n",
                  synth_out.c_str(), so.subjects, (long long)dropped);
      return 0;
    }
    if (*info) return cmd_info(info_path);
    if (*convert) return cmd_convert(conv_in, conv_out, opengait);
    if (*vis) {
      RM_CHECK(!sils.empty() || !dir.empty(), "visualize: give --sils or --dir");
      Tensor x = read_sequence(sils, dir);  // first: bad input fails before the model loads
      pipeline::LoadedModel lm = pipeline::load_model(ckpt, config);
      const int64_t frame = vis_frame >= 0 ? vis_frame : x.size(1) / 2;
      for (const std::string& f : pipeline::visualize(*lm.model, x, frame, vis_out, vis_seed))
        std::printf("%s\n", f.c_str());
      return 0;
    }
    if (*report) {
      if (report_out.empty())
        report_out = report_runs.size() == 1
                         ? (std::filesystem::path(report_runs[0]) / "report.html").string()
                         : "report.html";
      pipeline::write_report(report_runs, report_out);
      std::printf("%s: report of %zu run(s), figures in %s_figures/\n", report_out.c_str(),
                  report_runs.size(),
                  (std::filesystem::path(report_out).parent_path() /
                   std::filesystem::path(report_out).stem())
                      .string()
                      .c_str());
      return 0;
    }
    if (*config_cmd) {
      pipeline::write_config_from_opengait(from_opengait[0], from_opengait[1]);
      std::printf("%s: rmgait configuration from %s\n", from_opengait[1].c_str(),
                  from_opengait[0].c_str());
      return 0;
    }
    if (*pretreat || *pack) {
      data::ConvertSummary sum =
          *pack ? data::pack_from_pkl(pkl_dir, dst, true)
                : data::pretreat_tree(src, dst, data::parse_layout(layout), true);
      std::printf("%s: %s", dst.c_str(), sum.report().c_str());
      return sum.sequences_written > 0 ? 0 : 1;
    }
    if (*train) {
      pipeline::train(pipeline::load_config(config, sets),
                      {resume, resume_weights, pipeline::parse_device(device), {}});
      return 0;
    }
    if (*eval)
      return cmd_eval(ckpt, config, dataset, protocol, out, distance, eval_memory_mb, precision,
                      pipeline::parse_device(device));
    if (*embed) {
      RM_CHECK(!sils.empty() || !dir.empty(), "embed: give --sils or --dir");
      return cmd_embed(ckpt, config, sils, dir, emb_out, precision, pipeline::parse_device(device));
    }
    if (*bench) {
      if (!precision.empty()) sets.push_back("trainer_cfg.precision=" + precision);
      return cmd_bench(pipeline::load_config(config, sets), bench_iters, bench_classes,
                       pipeline::parse_device(device), baseline_step);
    }
  } catch (const std::exception& e) {
    const std::string why = dynamic_cast<const std::bad_alloc*>(&e)
                                ? "out of memory (the job asks for more than this machine gives it)"
                                : e.what();
    if (!dist::launched_by_mpi()) {
      std::fprintf(stderr, "rmgait: error: %s\n", why.c_str());
      return 1;
    }
    // one rank's error would leave the others waiting in a collective: end them all
    std::fprintf(stderr, "rmgait: error (rank %s): %s\n",
                 std::getenv("OMPI_COMM_WORLD_RANK") ? std::getenv("OMPI_COMM_WORLD_RANK") : "?",
                 why.c_str());
    dist::abort_job(1);
  }
  return 0;
}
