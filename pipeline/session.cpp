#include "pipeline/session.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/loader.h"
#include "engine/atomic_file.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/progress.h"
#include "formats/safetensors.h"
#include "formats/torch_pt.h"
#include "nn/checkpoint.h"

namespace rmgait::pipeline {

gait::ModelConfig model_config(const TrainConfig& cfg, int64_t num_classes, int64_t height) {
  gait::ModelConfig m = cfg.model;
  m.num_classes = num_classes;
  m.height = height;
  m.width = 44;
  m.seed = cfg.seed;
  return m;
}

std::string rng_to_string(const std::vector<std::pair<uint64_t, uint64_t>>& s) {
  std::string out;
  for (auto [seed, off] : s) out += std::to_string(seed) + ":" + std::to_string(off) + ",";
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> rng_from_string(const std::string& s) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto c = item.find(':');
    RM_CHECK(c != std::string::npos, "rng state '", item, "': expected seed:offset");
    out.emplace_back(std::stoull(item.substr(0, c)), std::stoull(item.substr(c + 1)));
  }
  return out;
}

std::map<std::string, Tensor> read_weights(const std::string& path) {
  if (formats::is_torch_checkpoint(path)) return formats::load_torch_checkpoint(path).state;
  return nn::model_tensors(formats::load_safetensors(path).tensors);
}

LoadedModel load_model(const std::string& checkpoint, const std::string& config) {
  LoadedModel lm;
  std::map<std::string, std::string> meta;
  if (!formats::is_torch_checkpoint(checkpoint))
    meta = formats::load_safetensors(checkpoint).metadata;
  auto cfg_it = meta.find("config");
  if (config.empty() || cfg_it != meta.end()) {
    RM_CHECK(cfg_it != meta.end(), checkpoint,
             ": no rmgait configuration inside (a PyTorch or converted checkpoint): give --config");
    RM_CHECK(config.empty(), checkpoint,
             ": --config given, but the checkpoint carries its own configuration");
    lm.cfg = parse_config(cfg_it->second, checkpoint + " (embedded config)");
    auto need = [&](const char* key) {
      auto it = meta.find(key);
      RM_CHECK(it != meta.end(), checkpoint, ": metadata '", key, "' missing");
      return std::stoll(it->second);
    };
    lm.model = std::make_unique<gait::ReverseMaskModel>(
        model_config(lm.cfg, need("num_classes"), need("height")));
    lm.iteration = nn::load_checkpoint(checkpoint, *lm.model, nullptr).iteration;
    return lm;
  }
  lm.cfg = load_config(config, {});
  std::map<std::string, Tensor> w;
  if (formats::is_torch_checkpoint(checkpoint)) {
    formats::TorchCheckpoint ck = formats::load_torch_checkpoint(checkpoint);
    w = std::move(ck.state);
    lm.iteration = ck.iteration.value_or(0);
  } else {
    w = read_weights(checkpoint);
  }
  auto fc = w.find("Head1.fc_bin");
  RM_CHECK(fc != w.end() && fc->second.dim() == 3, checkpoint,
           ": no Head1.fc_bin [parts, channels, classes] to read the class count from");
  lm.model = std::make_unique<gait::ReverseMaskModel>(model_config(lm.cfg, fc->second.size(2), 64));
  try {
    lm.model->load_state_dict(w);
  } catch (const Error& e) {
    RM_FAIL(checkpoint, " with ", config, ": ", e.what());
  }
  return lm;
}

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::cpu;
  RM_CHECK(s == "cuda", "--device '", s, "': expected cpu or cuda");
  RM_CHECK(device_available(Device::cuda),
           "--device cuda: ", device_unavailable_reason(Device::cuda));
  return Device::cuda;
}

EvalOptions eval_options(const TrainConfig& cfg, Device device) {
  EvalOptions o;
  o.distance =
      cfg.distance == "flattened" ? gait::Distance::flattened : gait::Distance::per_part_mean;
  o.memory_bytes = cfg.eval_memory_mb << 20;
  o.device = device;
  o.precision = parse_precision(cfg.precision);
  return o;
}

gait::EvalTable evaluate(gait::ReverseMaskModel& model, const data::PackedDataset& ds,
                         const data::Protocol& protocol, const EvalOptions& o) {
  std::vector<size_t> test;
  std::vector<gait::EvalSample> samples;
  for (size_t i : data::select_sequences(ds, protocol, false)) {
    const data::SequenceInfo& s = ds.info(i);
    gait::EvalSample e{s.subject, s.view, data::is_gallery(protocol, s),
                       data::probe_condition(protocol, s)};
    if ((!e.gallery && e.probe_condition.empty()) || s.frames == 0) continue;
    test.push_back(i);
    samples.push_back(e);
  }
  RM_CHECK(!test.empty(), ds.path(), ": no test sequences for protocol ", protocol.name);
  check_precision(o.precision, o.device);
  const int rank = o.comm ? o.comm->rank() : 0, ranks = o.comm ? o.comm->size() : 1;
  const dist::Rows mine = dist::rows_of(int64_t(test.size()), rank, ranks);
  bool was_training = model.is_training();
  model.eval();
  NoGradGuard ng;
  // [n, C, P], this rank's sequences, filled in place (no second copy from a final cat)
  Tensor embs = Tensor::empty({mine.count(), model.config().channels[2], model.parts()}, DType::f32,
                              o.device);
  Progress bar(ranks > 1 ? "eval: sequences (rank 0's share)" : "eval: sequences",
               size_t(mine.count()), o.progress);
  for (int64_t n = 0; n < mine.count(); ++n) {
    Tensor e;
    {
      PrecisionGuard pg(o.precision);
      e = model.forward(data::load_sequence(ds, test[size_t(mine.begin + n)]).to(o.device))
              .embedding;
    }
    embs.narrow(0, n, 1).copy_(e);
    bar.update(size_t(n + 1));
  }
  model.train(was_training);
  if (ranks > 1) {  // rank 0 scores all of them, in the test set's order
    Tensor all = o.comm->gather_rows(embs.to(o.comm->device()), 0);
    if (rank != 0) return gait::EvalTable{};
    embs = all.to(o.device);
  }
  return gait::rank1_excluding_identical_view(embs, samples, o.distance, o.memory_bytes);
}

void write_results(const gait::EvalTable& t, const std::string& stem) {
  nlohmann::json j;
  j["views"] = t.views;
  for (const std::string& c : t.conditions) {
    j["rank1"][c]["per_view"] = t.per_view.at(c);
    j["rank1"][c]["mean"] = t.mean.at(c);
    j["rank1_valid_probes"][c]["per_view"] = t.per_view_valid.at(c);
    j["rank1_valid_probes"][c]["mean"] = t.mean_valid.at(c);
    // probe view x gallery view accuracy (null: identical views, or no probes / gallery)
    nlohmann::json rows = nlohmann::json::array();
    for (const std::vector<double>& row : t.pairs.at(c)) {
      nlohmann::json r = nlohmann::json::array();
      for (double x : row) r.push_back(std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x));
      rows.push_back(r);
    }
    j["pairs"][c] = rows;
  }
  auto atomic_write = [](const std::string& path, const std::string& text) {
    write_file_atomically(path, [&](std::ostream& f) { f << text; });
  };
  atomic_write(stem + ".json", j.dump(2) + "\n");
  std::string csv = "condition";
  for (const auto& v : t.views) csv += "," + v;
  csv += ",mean\n";
  for (const std::string& c : t.conditions) {
    csv += c;
    char buf[32];
    auto cell = [&](double x) {  // an empty cell (no probes, or no gallery) stays empty
      if (std::isnan(x))
        csv += ",";
      else
        std::snprintf(buf, sizeof buf, ",%.2f", x), csv += buf;
    };
    for (double x : t.per_view.at(c)) cell(x);
    cell(t.mean.at(c));
    csv += "\n";
  }
  atomic_write(stem + ".csv", csv);
}

}  // namespace rmgait::pipeline
