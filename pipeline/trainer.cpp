#include "pipeline/trainer.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/loader.h"
#include "distributed/world.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "gait/regularizers.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "pipeline/evaluation.h"
#include "pipeline/job_facts.h"
#include "pipeline/model_io.h"
#include "pipeline/run_dir.h"

namespace rmgait::pipeline {

namespace fs = std::filesystem;

namespace {

// The first non-finite value of the step, in order: the losses, then the parameters' gradients
// in registration order; empty when all are finite. A sum is non-finite iff some element is
// (or the sum overflows, which is as bad).
std::string first_nonfinite(float triplet, float ce, const nn::NamedTensors& params) {
  if (!std::isfinite(triplet)) return "the triplet loss (" + std::to_string(triplet) + ")";
  if (!std::isfinite(ce)) return "the cross-entropy loss (" + std::to_string(ce) + ")";
  NoGradGuard ng;
  for (const auto& [name, p] : params) {
    Tensor g = p.grad();
    if (g.defined() && !std::isfinite(sum(g).item())) return "the gradient of " + name;
  }
  return "";
}

std::string fmt_time(double s) {
  char buf[32];
  int t = int(s);
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

// "seed:offset," per generator, as checkpoints store the RNG states
std::string rng_to_string(const std::vector<std::pair<uint64_t, uint64_t>>& s) {
  std::string out;
  for (auto [seed, off] : s) out += std::to_string(seed) + ":" + std::to_string(off) + ",";
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> rng_from_string(const std::string& s,
                                                           const std::string& origin) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  size_t at = 0;
  while (at < s.size()) {
    const size_t comma = std::min(s.find(',', at), s.size());
    const std::string item = s.substr(at, comma - at);
    const size_t c = item.find(':');
    const bool digits = c != std::string::npos && c > 0 && c + 1 < item.size() &&
                        item.find_first_not_of("0123456789:") == std::string::npos &&
                        item.find(':', c + 1) == std::string::npos;
    RM_CHECK(digits, origin, ": rng state '", item, "': expected seed:offset");
    out.emplace_back(std::stoull(item.substr(0, c)), std::stoull(item.substr(c + 1)));
    at = comma + 1;
  }
  return out;
}

}  // namespace

std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& c, nn::NamedTensors params) {
  if (c.solver == Solver::sgd)
    return std::make_unique<nn::SGD>(params, c.lr, c.momentum, c.weight_decay);
  return std::make_unique<nn::Adam>(params, c.lr, c.weight_decay, 0.9f, 0.999f, 1e-8f,
                                    c.solver == Solver::adamw);
}

struct Trainer::State {
  TrainConfig cfg;
  TrainOptions opt;
  dist::Communicator& world = dist::world();
  int rank = world.rank(), ranks = world.size();
  bool lead = rank == 0;
  int64_t global_n = int64_t(cfg.p) * cfg.k, local_n = 0, first = 0;
  data::PackedDataset ds;
  data::Protocol protocol;
  std::unique_ptr<data::TrainSampler> sampler;
  std::unique_ptr<gait::ReverseMaskModel> model;
  std::unique_ptr<DataParallel> dp;
  std::unique_ptr<nn::Optimizer> optimizer;
  nn::MultiStepLR sched;
  Generator erasing;
  int64_t start = 0, it = 0;
  double best = -1;  // the best evaluation's rank1_score so far
  std::ofstream log;
  std::string log_path;
  bool tty = false;
  std::unique_ptr<data::Prefetcher> prefetch;
  std::chrono::steady_clock::time_point t0;

  State(const TrainConfig& c, TrainOptions o)
      : cfg(c),
        opt(std::move(o)),
        ds(c.dataset),
        protocol(data::parse_protocol(c.protocol)),
        sched{c.lr, c.milestones, c.gamma, c.gammas},
        erasing(c.seed * 31 + 7) {}

  fs::path out(const std::string& name) const { return fs::path(cfg.output_dir) / name; }

  nn::CheckpointInfo info_at(int64_t iteration) const {
    nn::CheckpointInfo info;
    info.iteration = iteration;
    info.metadata = {{"config", cfg.yaml},
                     {"rng", rng_to_string(model->rng_state())},
                     {"rng_erasing", rng_to_string({{erasing.seed(), erasing.offset()}})},
                     {"num_classes", std::to_string(sampler->num_classes())},
                     {"height", std::to_string(ds.height())}};
    return info;
  }
  // Rank 0, after a good step: the progress line (every step on a terminal, else at the log
  // iterations) and the log.jsonl line at the log iterations.
  void report(int64_t done, const nn::TripletResult& tl, float tv, float cv, float acc) {
    const double ips = double(done - start) /
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const bool logged = done % cfg.log_iter == 0 || done == cfg.total_iter;
    if (tty || logged)
      std::fprintf(stderr,
                   "%siter %lld/%lld  %.2f it/s  triplet %.4f  nonzero %.3f  ce %.4f  acc %.3f  "
                   "lr %.2e  ETA %s%s",
                   tty ? "\r" : "", (long long)done, (long long)cfg.total_iter, ips, tv,
                   tl.nonzero_fraction, cv, acc, optimizer->lr(),
                   fmt_time(double(cfg.total_iter - done) / ips).c_str(), tty ? "  " : "\n");
    if (!logged) return;
    const Resident mem = resident();
    nlohmann::json j = {{"iter", done},
                        {"triplet", tv},
                        {"nonzero", tl.nonzero_fraction},
                        {"mean_dist", tl.mean_distance},
                        {"ce", cv},
                        {"acc", acc},
                        {"lr", optimizer->lr()},
                        {"it_per_s", ips},
                        {"rss_mib", mem.rss_mib},
                        {"anon_mib", mem.anon_mib}};
    log << j.dump() << "\n" << std::flush;
    RM_CHECK(log, log_path, ": cannot append: ", std::strerror(errno));
  }
  void save(const std::string& path, const nn::CheckpointInfo& info) {
    std::function<void()> writing;
    if (opt.hooks.checkpoint_writing) writing = [&] { opt.hooks.checkpoint_writing(path); };
    nn::save_checkpoint(path, *model, optimizer.get(), info, writing);
  }
};

Trainer::Trainer(const TrainConfig& cfg, TrainOptions options)
    : s_(std::make_unique<State>(cfg, std::move(options))) {
  State& s = *s_;
  const TrainOptions& o = s.opt;
  RM_CHECK(o.resume.empty() || o.weights.empty(), "train: resuming (", o.resume,
           ") and starting from weights (", o.weights, ") exclude each other");
  check_precision(cfg.precision, o.device);  // before any work: a clear error without bf16
  // every rank runs the same job (before any other collective, and before a check that one
  // rank's different settings could fail alone)
  DataParallel::check_same_job(s.world,
                               training_job_facts(cfg, s.ds, o.resume, o.weights, o.device));
  DataParallel::check_split(cfg.p, cfg.k, s.ranks);
  s.local_n = s.global_n / s.ranks, s.first = s.rank * s.local_n;
  data::SamplerOptions so{cfg.p, cfg.k, cfg.frames, cfg.seed, cfg.flip, s.first, s.local_n};
  s.sampler = std::make_unique<data::TrainSampler>(
      s.ds, data::select_sequences(s.ds, s.protocol, true), so);
  s.model = std::make_unique<gait::ReverseMaskModel>(
      model_config(cfg, s.sampler->num_classes(), s.ds.height()));
  if (!o.weights.empty()) {  // fine-tuning: an rmgait, safetensors or PyTorch (.pt) checkpoint
    try {
      s.model->load_state_dict(read_weights(o.weights));
    } catch (const Error& e) {
      RM_FAIL(o.weights, ": ", e.what());
    }
    if (s.lead) std::fprintf(stderr, "weights from %s\n", o.weights.c_str());
  }
  s.model->to(o.device);  // before the optimizer: its state follows the parameters' device
  s.dp = std::make_unique<DataParallel>(*s.model, o.device, cfg.p, cfg.k, cfg.sync_bn);
  s.optimizer = make_optimizer(cfg, s.model->named_parameters());
  if (s.lead) {
    fs::create_directories(s.out("checkpoints"));
    remove_stale_temporaries(cfg.output_dir);
  }
  if (!o.resume.empty()) {  // every rank reads it (a shared filesystem, or a copy per node)
    nn::CheckpointInfo info = nn::load_checkpoint(o.resume, *s.model, s.optimizer.get());
    s.start = info.iteration;
    auto meta = [&](const char* key) {
      auto it = info.metadata.find(key);
      RM_CHECK(it != info.metadata.end(), o.resume, ": metadata '", key, "' missing");
      return rng_from_string(it->second, o.resume);
    };
    s.model->set_rng_state(meta("rng"));
    auto e = meta("rng_erasing");
    RM_CHECK(e.size() == 1, o.resume, ": bad metadata 'rng_erasing'");
    s.erasing.set_state(e[0].first, e[0].second);
    if (s.lead)
      std::fprintf(stderr, "resumed from %s at iteration %lld\n", o.resume.c_str(),
                   (long long)s.start);
  }
  s.it = s.start;
  if (s.lead) {  // the best evaluation from before this run's start counts
    if (auto b = read_best(s.out("best.json")); b && b->iteration <= s.start)
      s.best = b->rank1_mean;
  }
  s.log_path = s.out("log.jsonl").string();
  if (s.lead) {
    if (s.start) truncate_log(s.log_path, s.start);
    s.log.open(s.log_path, s.start ? std::ios::app : std::ios::trunc);
    RM_CHECK(s.log, s.log_path, ": cannot write: ", std::strerror(errno));
  }
  s.tty = s.lead && isatty(2);
  s.prefetch =
      std::make_unique<data::Prefetcher>(*s.sampler, s.start, std::max(1, cfg.num_workers));
  s.t0 = std::chrono::steady_clock::now();
  s.model->train();
}

Trainer::~Trainer() = default;

int64_t Trainer::iteration() const {
  return s_->it;
}

void Trainer::step() {
  State& s = *s_;
  const TrainConfig& cfg = s.cfg;
  const int64_t done = s.it + 1;
  data::Batch b = s.prefetch->next();
  Tensor x = b.sils;
  if (cfg.random_erasing) {  // the global batch's draws, this rank's rows
    Tensor keep = gait::random_erasing_mask(s.global_n, x.size(2), x.size(3), {}, s.erasing);
    NoGradGuard ng;
    x = mul(x, keep.narrow(0, s.first, s.local_n));
  }
  x = x.to(s.opt.device);
  s.optimizer->zero_grad();
  gait::ModelOutput out;
  {
    PrecisionGuard pg(cfg.precision);  // convs and matmuls of the model; the losses stay f32
    ConvAlgorithmGuard ag(cfg.conv_algorithm);
    out = s.model->forward(x);
  }
  StepLosses sl = s.dp->losses(out, b.labels, cfg);
  if (s.opt.hooks.after_losses) s.opt.hooks.after_losses(done, sl);
  s.dp->backward(sl.loss);  // gradients summed over ranks
  if (s.opt.hooks.after_backward) s.opt.hooks.after_backward(done, s.model->named_parameters());
  const nn::TripletResult& tl = sl.triplet;
  const float tv = tl.loss.item();
  const auto [cv, acc] = s.dp->global_ce(sl.ce);
  const std::string bad = first_nonfinite(tv, cv, s.model->named_parameters());
  if (!bad.empty()) {
    RM_CHECK(cfg.on_nonfinite == OnNonfinite::skip, "iteration ", done, ": non-finite ", bad,
             "; training stopped (trainer_cfg.on_nonfinite: stop); the last good checkpoint is ",
             s.out("latest.safetensors").string());
    if (s.lead) {
      std::fprintf(stderr, "%siteration %lld: non-finite %s: step skipped\n", s.tty ? "\n" : "",
                   (long long)done, bad.c_str());
      s.log << nlohmann::json{{"iter", done}, {"skipped", bad}}.dump() << "\n" << std::flush;
    }
  } else {
    if (cfg.clip_grad > 0) nn::clip_grad_norm(s.model->parameters(), cfg.clip_grad);
    s.optimizer->set_lr(s.sched.lr_at(s.it));
    s.optimizer->step();
  }
  s.it = done;

  if (s.lead && bad.empty()) s.report(done, tl, tv, cv, acc);
  if (cfg.save_iter > 0 && done % cfg.save_iter == 0 && done != cfg.total_iter) checkpoint();
  if (cfg.eval_iter > 0 && done % cfg.eval_iter == 0 && done != cfg.total_iter) {
    if (s.tty) std::fprintf(stderr, "\n");
    evaluate();
  }
}

void Trainer::checkpoint() {
  State& s = *s_;
  if (!s.lead) return;
  char name[64];
  std::snprintf(name, sizeof name, "iter_%07lld.safetensors", (long long)s.it);
  const nn::CheckpointInfo info = s.info_at(s.it);
  s.save((s.out("checkpoints") / name).string(), info);
  s.save(s.out("latest.safetensors").string(), info);
  rotate_checkpoints(s.out("checkpoints"), s.cfg.keep_checkpoints, s.it);
}

gait::EvalTable Trainer::evaluate() {
  State& s = *s_;
  EvalOptions eo = eval_options(s.cfg, s.opt.device);
  eo.progress = s.lead;
  eo.comm = &s.world;
  gait::EvalTable t = pipeline::evaluate(*s.model, s.ds, s.protocol, eo);
  if (!s.lead) return t;
  std::printf("rank-1 (%%) at iteration %lld, excluding identical views, %s:\n%s", (long long)s.it,
              s.protocol.name.c_str(), gait::format_table(t).c_str());
  std::fflush(stdout);
  write_results(t, s.out("eval").string());
  const double score = rank1_score(t);
  if (score > s.best) {  // kept whatever the rotation removes
    s.best = score;
    nn::CheckpointInfo info = s.info_at(s.it);
    info.metadata["rank1_mean"] = std::to_string(score);
    s.save(s.out("best.safetensors").string(), info);
    write_best(s.out("best.json"), {s.it, score});
  }
  return t;
}

void Trainer::run() {
  while (s_->it < s_->cfg.total_iter) step();
  if (s_->tty) std::fprintf(stderr, "\n");
  checkpoint();
  evaluate();
}

void train(const TrainConfig& cfg, const TrainOptions& options) {
  Trainer(cfg, options).run();
}

}  // namespace rmgait::pipeline
