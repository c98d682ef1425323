// rmgait train: the training loop (sampler -> model -> triplet + cross entropy -> optimizer),
// with a progress line, a JSONL log, atomic checkpoints, periodic evaluation and exact resume.
// Under mpirun, data-parallel (tools/data_parallel.h): N ranks compute one process's steps; rank 0
// alone logs, prints and writes.
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
#include "engine/atomic_file.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "gait/regularizers.h"
#include "nn/checkpoint.h"
#include "nn/loss.h"
#include "pipeline/data_parallel.h"
#include "pipeline/session.h"

namespace rmgait::pipeline {

namespace {

std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& c, nn::NamedTensors params) {
  if (c.solver == "SGD") return std::make_unique<nn::SGD>(params, c.lr, c.momentum, c.weight_decay);
  return std::make_unique<nn::Adam>(params, c.lr, c.weight_decay, 0.9f, 0.999f, 1e-8f,
                                    c.solver == "AdamW");
}

// Tests only: RMGAIT_TEST_NONFINITE=ITER:loss|grad makes that iteration's loss NaN, or the
// gradient of the first parameter +inf, as a diverging run would.
std::pair<int64_t, std::string> injected_nonfinite() {
  const char* v = std::getenv("RMGAIT_TEST_NONFINITE");
  if (!v) return {-1, ""};
  std::string s(v);
  const size_t colon = s.find(':');
  RM_CHECK(colon != std::string::npos, "RMGAIT_TEST_NONFINITE='", s, "': expected ITER:loss|grad");
  return {std::stoll(s.substr(0, colon)), s.substr(colon + 1)};
}

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

// Keeps the log's lines up to iteration `last` (a resumed run rewrites what came after its
// checkpoint), atomically.
void truncate_log(const std::string& path, int64_t last) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("iter")) continue;  // a line cut by a kill
    if (j["iter"].get<int64_t>() <= last) kept += line + "\n";
  }
  in.close();
  write_file_atomically(path, [&](std::ostream& f) { f << kept; });
}

// Removes the PATH.tmp files a killed run left behind (only the atomic writer makes them).
void remove_stale_temporaries(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  for (const fs::path& d : {dir, dir / "checkpoints"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.path().extension() == ".tmp") fs::remove(e.path(), ec);
  }
}

// FNV-1a, 64 bits: a fingerprint to tell files apart, not a cryptographic hash.
struct Fnv {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 0x100000001b3ull;
  }
  void add(const std::string& s) { add(s.data(), s.size() + 1); }
  std::string hex() const {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
    return buf;
  }
};

// "N bytes, fingerprint F" of a whole file (checkpoints: megabytes, read once per rank anyway).
std::string file_fingerprint(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  RM_CHECK(f, path, ": cannot open");
  Fnv h;
  std::vector<char> buf(1 << 20);
  uint64_t n = 0;
  while (f.read(buf.data(), std::streamsize(buf.size())) || f.gcount() > 0) {
    h.add(buf.data(), size_t(f.gcount()));
    n += uint64_t(f.gcount());
  }
  return std::to_string(n) + " bytes, fingerprint " + h.hex();
}

// What a packed dataset holds, from its table (every sequence's name, frame count and place) and
// its size: equal for copies of one dataset wherever they lie.
std::string dataset_fingerprint(const data::PackedDataset& ds) {
  Fnv h;
  for (const data::SequenceInfo& s : ds.table()) {
    h.add(s.name());
    h.add(&s.frames, sizeof s.frames);
    h.add(&s.offset, sizeof s.offset);
  }
  return std::to_string(ds.size()) + " sequences of " + std::to_string(ds.height()) + "x" +
         std::to_string(ds.width()) + ", " + std::to_string(std::filesystem::file_size(ds.path())) +
         " bytes, fingerprint " + h.hex();
}

// The job as every rank must agree on it (DataParallel::check_same_job): the effective settings
// (but where the dataset lies and where rank 0 writes), what the dataset and checkpoints hold,
// the device and the build.
std::vector<DataParallel::Fact> job_facts(const TrainConfig& cfg, const data::PackedDataset& ds,
                                          const std::string& resume, const std::string& weights,
                                          Device device) {
  std::vector<DataParallel::Fact> facts;
  for (auto& [k, v] : effective_settings(cfg))
    if (k != "data_cfg.dataset" && k != "trainer_cfg.output_dir") facts.push_back({k, v, ""});
  facts.push_back({"the dataset", dataset_fingerprint(ds), cfg.dataset});
  facts.push_back({"--resume", resume.empty() ? "none" : file_fingerprint(resume), resume});
  facts.push_back(
      {"--resume-weights", weights.empty() ? "none" : file_fingerprint(weights), weights});
  facts.push_back({"--device", device_name(device), ""});
  facts.push_back({"rmgait", RMGAIT_VERSION, ""});
  return facts;
}

// Resident memory of this process now (/proc/self/status; -1 where unknown), in MiB: all of it,
// and the anonymous part, its own allocations (the rest is mapped files: the packed dataset's
// pages, which the kernel may drop at any time, and the program's code).
struct Resident {
  double rss_mib = -1, anon_mib = -1;
};
Resident resident() {
  Resident r;
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);) {
    const bool rss = line.rfind("VmRSS:", 0) == 0, anon = line.rfind("RssAnon:", 0) == 0;
    if (rss || anon)
      (rss ? r.rss_mib : r.anon_mib) = std::stod(line.substr(line.find(':') + 1)) / 1024;
  }
  return r;
}

// Of checkpoints/iter_NNNNNNN.safetensors up to iteration `now`, the newest `keep` are kept (0:
// all). Later ones (left by a run that went further before the one resumed here) are left until
// this run passes them.
void rotate_checkpoints(const std::filesystem::path& dir, int64_t keep, int64_t now) {
  namespace fs = std::filesystem;
  if (keep <= 0) return;
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    const std::string digits = n.size() > 17 ? n.substr(5, n.size() - 17) : "";
    if (n.rfind("iter_", 0) != 0 || e.path().extension() != ".safetensors" || digits.empty() ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const int64_t it = std::stoll(digits);
    if (it <= now) found.emplace_back(it, e.path());
  }
  std::sort(found.begin(), found.end());
  for (size_t i = 0; i + size_t(keep) < found.size(); ++i) {
    fs::remove(found[i].second, ec);
    RM_CHECK(!ec, found[i].second.string(), ": cannot remove an old checkpoint (", ec.message(),
             ")");
  }
}

// The figure the best checkpoint is chosen by: the mean over probe conditions of their mean
// rank-1 (CASIA-B: NM, BG, CL).
double rank1_score(const gait::EvalTable& t) {
  double sum = 0;
  for (const std::string& c : t.conditions) sum += t.mean.at(c);
  return t.conditions.empty() ? 0 : sum / double(t.conditions.size());
}

std::string fmt_time(double s) {
  char buf[32];
  int t = int(s);
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

}  // namespace

int run_train(const TrainConfig& cfg, const std::string& resume, Device device,
              const std::string& weights) {
  namespace fs = std::filesystem;
  dist::Communicator& world = dist::world();
  const int rank = world.rank(), ranks = world.size();
  const bool lead = rank == 0;
  const Precision precision = parse_precision(cfg.precision);
  check_precision(precision, device);  // before any work: a clear error on a CPU without bf16
  const int64_t global_n = int64_t(cfg.p) * cfg.k;
  data::PackedDataset ds(cfg.dataset);
  // every rank runs the same job (before any other collective, and before a check that one
  // rank's different settings could fail alone)
  DataParallel::check_same_job(world, job_facts(cfg, ds, resume, weights, device));
  DataParallel::check_split(cfg.p, cfg.k, ranks);
  const int64_t local_n = global_n / ranks, first = rank * local_n;
  data::Protocol protocol = data::parse_protocol(cfg.protocol);
  data::SamplerOptions so{cfg.p, cfg.k, cfg.frames, cfg.seed, cfg.flip, first, local_n};
  data::TrainSampler sampler(ds, data::select_sequences(ds, protocol, true), so);
  gait::ReverseMaskModel model(model_config(cfg, sampler.num_classes(), ds.height()));
  if (!weights.empty()) {  // fine-tuning: an rmgait, safetensors or PyTorch (.pt) checkpoint
    RM_CHECK(resume.empty(), "train: --resume and --resume-weights exclude each other");
    try {
      model.load_state_dict(read_weights(weights));
    } catch (const Error& e) {
      RM_FAIL(weights, ": ", e.what());
    }
    if (lead) std::fprintf(stderr, "weights from %s\n", weights.c_str());
  }
  model.to(device);  // before the optimizer: its state follows the parameters' device
  DataParallel dp(model, device, cfg.p, cfg.k, cfg.sync_bn);
  auto opt = make_optimizer(cfg, model.named_parameters());
  nn::MultiStepLR sched{cfg.lr, cfg.milestones, cfg.gamma, cfg.gammas};
  Generator erasing(cfg.seed * 31 + 7);
  if (lead) {
    fs::create_directories(fs::path(cfg.output_dir) / "checkpoints");
    remove_stale_temporaries(cfg.output_dir);
  }

  int64_t start = 0;
  if (!resume.empty()) {  // every rank reads it (a shared filesystem, or a copy per node)
    nn::CheckpointInfo info = nn::load_checkpoint(resume, model, opt.get());
    start = info.iteration;
    model.set_rng_state(rng_from_string(info.metadata.at("rng")));
    auto e = rng_from_string(info.metadata.at("rng_erasing"));
    RM_CHECK(e.size() == 1, resume, ": bad metadata 'rng_erasing'");
    erasing.set_state(e[0].first, e[0].second);
    if (lead)
      std::fprintf(stderr, "resumed from %s at iteration %lld\n", resume.c_str(), (long long)start);
  }
  auto info_at = [&](int64_t it) {
    nn::CheckpointInfo info;
    info.iteration = it;
    info.metadata = {{"config", cfg.yaml},
                     {"rng", rng_to_string(model.rng_state())},
                     {"rng_erasing", rng_to_string({{erasing.seed(), erasing.offset()}})},
                     {"num_classes", std::to_string(sampler.num_classes())},
                     {"height", std::to_string(ds.height())}};
    return info;
  };
  auto save = [&](int64_t it) {
    if (!lead) return;
    char name[64];
    std::snprintf(name, sizeof name, "iter_%07lld.safetensors", (long long)it);
    std::string path = (fs::path(cfg.output_dir) / "checkpoints" / name).string();
    const nn::CheckpointInfo info = info_at(it);
    nn::save_checkpoint(path, model, opt.get(), info);
    nn::save_checkpoint((fs::path(cfg.output_dir) / "latest.safetensors").string(), model,
                        opt.get(), info);
    rotate_checkpoints(fs::path(cfg.output_dir) / "checkpoints", cfg.keep_checkpoints, it);
  };
  // The best evaluation so far (best.json, from before `start` when resuming): its checkpoint,
  // best.safetensors, is kept whatever the rotation removes.
  const fs::path best_json = fs::path(cfg.output_dir) / "best.json";
  double best = -1;
  if (lead && fs::exists(best_json)) {
    std::ifstream in(best_json);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    RM_CHECK(j.is_object() && j.contains("iter") && j["iter"].is_number_integer() &&
                 j.contains("rank1_mean") && j["rank1_mean"].is_number(),
             best_json.string(), ": expected {\"iter\": N, \"rank1_mean\": X}");
    if (j["iter"].get<int64_t>() <= start) best = j["rank1_mean"].get<double>();
  }
  auto run_eval = [&](int64_t it) {
    EvalOptions eo = eval_options(cfg, device);
    eo.progress = lead;
    eo.comm = &world;
    gait::EvalTable t = evaluate(model, ds, protocol, eo);
    if (!lead) return;
    std::printf("rank-1 (%%) at iteration %lld, excluding identical views, %s:\n%s", (long long)it,
                protocol.name.c_str(), gait::format_table(t).c_str());
    std::fflush(stdout);
    write_results(t, (fs::path(cfg.output_dir) / "eval").string());
    const double score = rank1_score(t);
    if (score > best) {
      best = score;
      nn::CheckpointInfo info = info_at(it);
      info.metadata["rank1_mean"] = std::to_string(score);
      nn::save_checkpoint((fs::path(cfg.output_dir) / "best.safetensors").string(), model,
                          opt.get(), info);
      write_file_atomically(best_json.string(), [&](std::ostream& f) {
        f << nlohmann::json{{"iter", it}, {"rank1_mean", score}}.dump() << "\n";
      });
    }
  };

  const std::string log_path = (fs::path(cfg.output_dir) / "log.jsonl").string();
  std::ofstream log;
  if (lead) {
    if (start) truncate_log(log_path, start);
    log.open(log_path, start ? std::ios::app : std::ios::trunc);
    RM_CHECK(log, log_path, ": cannot write: ", std::strerror(errno));
  }
  const auto [inject_at, inject_what] = injected_nonfinite();
  const bool tty = lead && isatty(2);
  data::Prefetcher prefetch(sampler, start, std::max(1, cfg.num_workers));
  auto t0 = std::chrono::steady_clock::now();
  model.train();
  for (int64_t it = start; it < cfg.total_iter; ++it) {
    data::Batch b = prefetch.next();
    Tensor x = b.sils;
    if (cfg.random_erasing) {  // the global batch's draws, this rank's rows
      Tensor keep = gait::random_erasing_mask(global_n, x.size(2), x.size(3), {}, erasing);
      NoGradGuard ng;
      x = mul(x, keep.narrow(0, first, local_n));
    }
    x = x.to(device);
    opt->zero_grad();
    gait::ModelOutput out;
    {
      PrecisionGuard pg(precision);  // convs and matmuls of the model; the losses stay f32
      out = model.forward(x);
    }
    StepLosses sl = dp.losses(out, b.labels, cfg);
    if (it + 1 == inject_at && inject_what == "loss") sl.loss = mul(sl.loss, NAN);
    if (it + 1 == inject_at && inject_what == "loss") sl.triplet.loss = mul(sl.triplet.loss, NAN);
    dp.backward(sl.loss);  // gradients summed over ranks
    if (it + 1 == inject_at && inject_what == "grad")
      model.named_parameters()[0].second.grad().narrow(0, 0, 1).fill_(INFINITY);
    const nn::TripletResult& tl = sl.triplet;
    const float tv = tl.loss.item();
    const auto [cv, acc] = dp.global_ce(sl.ce);
    const std::string bad = first_nonfinite(tv, cv, model.named_parameters());
    if (!bad.empty()) {
      RM_CHECK(cfg.on_nonfinite == "skip", "iteration ", it + 1, ": non-finite ", bad,
               "; training stopped (trainer_cfg.on_nonfinite: stop); the last good checkpoint "
               "is ",
               (fs::path(cfg.output_dir) / "latest.safetensors").string());
      if (lead)
        std::fprintf(stderr, "%siteration %lld: non-finite %s: step skipped\n", tty ? "\n" : "",
                     (long long)it + 1, bad.c_str());
      if (lead)
        log << nlohmann::json{{"iter", it + 1}, {"skipped", bad}}.dump() << "\n" << std::flush;
    } else {
      if (cfg.clip_grad > 0) nn::clip_grad_norm(model.parameters(), cfg.clip_grad);
      opt->set_lr(sched.lr_at(it));
      opt->step();
    }

    const int64_t done = it + 1;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double ips = double(done - start) / secs;
    if (lead && bad.empty() && (tty || done % cfg.log_iter == 0 || done == cfg.total_iter))
      std::fprintf(stderr,
                   "%siter %lld/%lld  %.2f it/s  triplet %.4f  nonzero %.3f  ce %.4f  acc %.3f  lr "
                   "%.2e  ETA %s%s",
                   tty ? "\r" : "", (long long)done, (long long)cfg.total_iter, ips, tv,
                   tl.nonzero_fraction, cv, acc, opt->lr(),
                   fmt_time(double(cfg.total_iter - done) / ips).c_str(), tty ? "  " : "\n");
    if (lead && bad.empty() && (done % cfg.log_iter == 0 || done == cfg.total_iter)) {
      const Resident mem = resident();
      nlohmann::json j = {{"iter", done},
                          {"triplet", tv},
                          {"nonzero", tl.nonzero_fraction},
                          {"mean_dist", tl.mean_distance},
                          {"ce", cv},
                          {"acc", acc},
                          {"lr", opt->lr()},
                          {"it_per_s", ips},
                          {"rss_mib", mem.rss_mib},
                          {"anon_mib", mem.anon_mib}};
      log << j.dump() << "\n" << std::flush;
      RM_CHECK(log, log_path, ": cannot append: ", std::strerror(errno));
    }
    if (cfg.save_iter > 0 && done % cfg.save_iter == 0 && done != cfg.total_iter) save(done);
    if (cfg.eval_iter > 0 && done % cfg.eval_iter == 0 && done != cfg.total_iter) {
      if (tty) std::fprintf(stderr, "\n");
      run_eval(done);
    }
  }
  if (tty) std::fprintf(stderr, "\n");
  save(cfg.total_iter);
  run_eval(cfg.total_iter);
  return 0;
}

}  // namespace rmgait::pipeline
