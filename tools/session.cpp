#include "tools/session.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/loader.h"
#include "engine/atomic_file.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "nn/checkpoint.h"
#include "nn/safetensors.h"

namespace rmgait::tools {

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

LoadedModel load_model(const std::string& checkpoint) {
  nn::SafetensorsFile f = nn::load_safetensors(checkpoint);
  auto cfg_it = f.metadata.find("config");
  RM_CHECK(cfg_it != f.metadata.end(), checkpoint,
           ": no 'config' in the metadata (not written by rmgait train)");
  LoadedModel lm;
  lm.cfg = parse_config(cfg_it->second, checkpoint + " (embedded config)");
  auto need = [&](const char* key) {
    auto it = f.metadata.find(key);
    RM_CHECK(it != f.metadata.end(), checkpoint, ": metadata '", key, "' missing");
    return std::stoll(it->second);
  };
  lm.model = std::make_unique<gait::ReverseMaskModel>(
      model_config(lm.cfg, need("num_classes"), need("height")));
  lm.iteration = nn::load_checkpoint(checkpoint, *lm.model, nullptr).iteration;
  return lm;
}

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::cpu;
  RM_CHECK(s == "cuda", "--device '", s, "': expected cpu or cuda");
  RM_CHECK(device_available(Device::cuda),
           "--device cuda: this build has no CUDA backend or no usable GPU was found");
  return Device::cuda;
}

gait::EvalTable evaluate(gait::ReverseMaskModel& model, const data::PackedDataset& ds,
                         const data::Protocol& protocol, gait::Distance distance, bool progress,
                         Device device) {
  std::vector<size_t> test = data::select_sequences(ds, protocol, false);
  std::vector<gait::EvalSample> samples;
  std::vector<Tensor> embs;
  bool was_training = model.is_training();
  model.eval();
  NoGradGuard ng;
  for (size_t n = 0; n < test.size(); ++n) {
    const data::SequenceInfo& s = ds.info(test[n]);
    bool gallery = data::is_gallery(protocol, s);
    std::string probe = data::probe_condition(protocol, s);
    if ((!gallery && probe.empty()) || s.frames == 0) continue;
    embs.push_back(model.forward(data::load_sequence(ds, test[n]).to(device)).embedding);
    samples.push_back({s.subject, s.view, gallery, probe});
    if (progress && (n % 50 == 0 || n + 1 == test.size()))
      std::fprintf(stderr, "\reval: %zu/%zu sequences", n + 1, test.size());
  }
  if (progress) std::fprintf(stderr, "\n");
  model.train(was_training);
  RM_CHECK(!embs.empty(), ds.path(), ": no test sequences for protocol ", protocol.name);
  return gait::rank1_excluding_identical_view(cat(embs, 0), samples, distance);
}

void write_results(const gait::EvalTable& t, const std::string& stem) {
  nlohmann::json j;
  j["views"] = t.views;
  for (const std::string& c : t.conditions) {
    j["rank1"][c]["per_view"] = t.per_view.at(c);
    j["rank1"][c]["mean"] = t.mean.at(c);
    j["rank1_valid_probes"][c]["per_view"] = t.per_view_valid.at(c);
    j["rank1_valid_probes"][c]["mean"] = t.mean_valid.at(c);
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
    for (double x : t.per_view.at(c)) std::snprintf(buf, sizeof buf, ",%.2f", x), csv += buf;
    std::snprintf(buf, sizeof buf, ",%.2f\n", t.mean.at(c));
    csv += buf;
  }
  atomic_write(stem + ".csv", csv);
}

}  // namespace rmgait::tools
