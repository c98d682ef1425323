#include "pipeline/evaluation.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "data/loader.h"
#include "distributed/world.h"
#include "engine/atomic_file.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/progress.h"
#include "pipeline/model_io.h"

namespace rmgait::pipeline {

EvalOptions eval_options(const TrainConfig& cfg, Device device) {
  EvalOptions o;
  o.distance = cfg.distance;
  o.memory_bytes = cfg.eval_memory_mb << 20;
  o.device = device;
  o.precision = cfg.precision;
  o.conv_algorithm = cfg.eval_conv_algorithm;
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
      ConvAlgorithmGuard ag(o.conv_algorithm);
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

EvalReport evaluate_checkpoint(const CheckpointEval& r) {
  RM_CHECK(r.memory_mb > 0, "eval: the scorer's memory bound must be positive, got ", r.memory_mb,
           " MiB");
  LoadedModel lm = load_model(r.checkpoint, r.config);
  lm.model->to(r.device);
  data::PackedDataset ds(r.dataset);
  data::Protocol p = data::parse_protocol(r.protocol);
  EvalOptions o;
  o.distance = r.distance;
  o.memory_bytes = r.memory_mb << 20;
  o.device = r.device;
  o.precision = r.precision.value_or(lm.cfg.precision);
  o.conv_algorithm = r.conv_algorithm.value_or(lm.cfg.eval_conv_algorithm);
  o.comm = &dist::world();  // under mpirun: sharded, scored by rank 0
  o.progress = o.comm->rank() == 0;
  EvalReport out;
  out.table = evaluate(*lm.model, ds, p, o);
  if (o.comm->rank() != 0) return out;
  out.text = "rank-1 (%), excluding identical views, " + p.name + ", " + r.checkpoint + ":\n" +
             gait::format_table(out.table);
  if (p.kind == data::ProtocolKind::oumvlp)
    out.text += "excluding invalid probes:\n" + gait::format_table(out.table, true);
  return out;
}

}  // namespace rmgait::pipeline
