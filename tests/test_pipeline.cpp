// The evaluator on hand-built embeddings, configuration errors, and a tiny end-to-end run with an
// exact resume.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "data/image_io.h"
#include "data/loader.h"
#include "data/packed.h"
#include "data/protocol.h"
#include "data/syngait.h"
#include "formats/torch_pt.h"
#include "gait/evaluator.h"
#include "pipeline/config.h"
#include "pipeline/evaluation.h"
#include "pipeline/gallery.h"
#include "pipeline/inference.h"
#include "pipeline/model_io.h"
#include "pipeline/report.h"
#include "pipeline/trainer.h"
#include "pipeline/visualize.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::gait;

TEST_CASE("evaluator: identical views excluded, rounding per pair, per-part distance") {
  // C = 1, P = 1; gallery: A and B in views 000 and 090; one NM probe of A in view 000 that
  // sits on B's view-000 gallery sequence (which must not count) and near A's view-090 one.
  std::vector<float> e = {0.f, 10.f, 1.f, 11.f, 10.2f};
  std::vector<EvalSample> s = {{"A", "000", true, ""},
                               {"B", "000", true, ""},
                               {"A", "090", true, ""},
                               {"B", "090", true, ""},
                               {"A", "000", false, "nm"}};
  // probe 10.2: B/000 (10) is excluded (same view); among view 090, B (11) beats A (1): a miss
  EvalTable t = rank1_excluding_identical_view(Tensor::from_vector(e, {5, 1, 1}), s);
  REQUIRE(t.views == std::vector<std::string>{"000", "090"});
  CHECK(t.per_view.at("nm")[0] == 0.0);
  CHECK(std::isnan(t.per_view.at("nm")[1]));  // no probes of view 090
  e[4] = 1.3f;                                // now nearest to A/090
  t = rank1_excluding_identical_view(Tensor::from_vector(e, {5, 1, 1}), s);
  CHECK(t.per_view.at("nm")[0] == 100.0);
  CHECK(t.mean.at("nm") == 100.0);
  CHECK(std::isnan(t.pairs.at("nm")[0][0]));  // the identical-view pair is not evaluated
  // per-part mean vs flattened: probe (0, 0); g1 = (3, 0) -> parts 3, 0 (mean 1.5, flat 3);
  // g2 = (2, 2) -> parts 2, 2 (mean 2, flat 2.83)
  Tensor q = Tensor::from_vector({0, 0}, {1, 1, 2}),
         g = Tensor::from_vector({3, 0, 2, 2}, {2, 1, 2});
  std::vector<float> pp = pairwise_distance(q, g, Distance::per_part_mean).to_vector();
  std::vector<float> fl = pairwise_distance(q, g, Distance::flattened).to_vector();
  CHECK(pp[0] == doctest::Approx(1.5));
  CHECK(pp[1] == doctest::Approx(2.0));
  CHECK(fl[0] == doctest::Approx(3.0));
  CHECK(fl[1] == doctest::Approx(std::sqrt(8.0)));
  // rounding: 1 hit of 3 probes -> 33.33, averaged per pair
  std::vector<EvalSample> s3 = {{"A", "000", true, ""},
                                {"B", "000", true, ""},
                                {"A", "090", false, "cl"},
                                {"B", "090", false, "cl"},
                                {"C", "090", false, "cl"}};
  Tensor e3 = Tensor::from_vector({0, 5, 0, 0, 5}, {5, 1, 1});
  t = rank1_excluding_identical_view(e3, s3);
  CHECK(t.per_view.at("cl")[1] == 33.33);
  CHECK(t.per_view_valid.at("cl")[1] == 50.0);  // C has no gallery sequence: an invalid probe
  // an incomplete dataset: bg probes only in view 000, cl probes only in view 180 (which no
  // gallery sequence has), no gallery in view 090 at all: empty cells are "-", never a crash
  std::vector<EvalSample> s5 = {{"A", "000", true, ""},
                                {"B", "000", true, ""},
                                {"A", "180", false, "cl"},
                                {"A", "000", false, "bg"},
                                {"B", "090", false, "nm"}};
  t = rank1_excluding_identical_view(Tensor::from_vector({0, 5, 0, 0, 5}, {5, 1, 1}), s5);
  REQUIRE(t.views == std::vector<std::string>{"000", "090", "180"});
  CHECK(std::isnan(t.per_view.at("bg")[0]));  // only the identical view 000 in the gallery
  CHECK(t.per_view.at("nm")[1] == 100.0);
  CHECK(std::isnan(t.mean.at("bg")));
  const std::string table = format_table(t);
  CHECK(table.find("nan") == std::string::npos);
  CHECK(table.find("      -") != std::string::npos);
  // a tie, rounded as NumPy's round(x, 2) does: 1 hit of 160 probes = 0.625 % -> 0.62 (half to
  // even; half away from zero would give 0.63)
  std::vector<EvalSample> s4 = {{"A", "000", true, ""}, {"B", "000", true, ""}};
  std::vector<float> e4 = {0.f, 100.f, 0.1f};
  s4.push_back({"A", "090", false, "nm"});
  for (int i = 0; i < 159; ++i) s4.push_back({"A", "090", false, "nm"}), e4.push_back(99.f);
  t = rank1_excluding_identical_view(Tensor::from_vector(e4, {162, 1, 1}), s4);
  CHECK(t.per_view.at("nm")[1] == 0.62);
  CHECK(round2(0.625) == 0.62);
  CHECK(round2(0.635) == doctest::Approx(0.64));  // not a tie in binary: plain nearest
}

namespace {
// The evaluator as it was before it worked in tiles: the whole distance matrix, then each probe's
// nearest gallery sequence per view; returns acc[condition][probe view][gallery view].
std::map<std::string, std::vector<std::vector<double>>> whole_matrix_pairs(
    const Tensor& emb, const std::vector<EvalSample>& s, Distance kind,
    const std::vector<std::string>& views) {
  std::vector<int64_t> gal, prb;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i].gallery) gal.push_back(int64_t(i));
    if (!s[i].probe_condition.empty()) prb.push_back(int64_t(i));
  }
  auto pick = [&](const std::vector<int64_t>& idx) {
    Tensor t = Tensor::empty({int64_t(idx.size())}, DType::i64);
    std::copy(idx.begin(), idx.end(), t.data<int64_t>());
    return index_select(emb, 0, t);
  };
  std::vector<float> d = pairwise_distance(pick(prb), pick(gal), kind).to_vector();
  const size_t nv = views.size(), ng = gal.size();
  auto vi = [&](const std::string& v) {
    return size_t(std::find(views.begin(), views.end(), v) - views.begin());
  };
  std::map<std::string, std::vector<std::vector<int>>> hits, count;
  for (size_t i = 0; i < prb.size(); ++i) {
    const EvalSample& p = s[prb[i]];
    auto& h = hits.try_emplace(p.probe_condition, nv, std::vector<int>(nv)).first->second;
    auto& c = count.try_emplace(p.probe_condition, nv, std::vector<int>(nv)).first->second;
    for (size_t gv = 0; gv < nv; ++gv) {
      if (gv == vi(p.view)) continue;
      float best = INFINITY;
      size_t arg = 0;
      for (size_t j = 0; j < ng; ++j)
        if (vi(s[gal[j]].view) == gv && d[i * ng + j] < best) best = d[i * ng + j], arg = j;
      ++c[vi(p.view)][gv];
      h[vi(p.view)][gv] += s[gal[arg]].subject == p.subject;
    }
  }
  std::map<std::string, std::vector<std::vector<double>>> acc;
  for (auto& [cond, c] : count) {
    acc[cond].assign(nv, std::vector<double>(nv, NAN));
    for (size_t pv = 0; pv < nv; ++pv)
      for (size_t gv = 0; gv < nv; ++gv)
        if (c[pv][gv])
          acc[cond][pv][gv] = std::round(10000.0 * hits[cond][pv][gv] / c[pv][gv]) / 100.0;
  }
  return acc;
}

bool same_cells(const std::vector<std::vector<double>>& a,
                const std::vector<std::vector<double>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].size(); ++j)
      if (!(a[i][j] == b[i][j] || (std::isnan(a[i][j]) && std::isnan(b[i][j])))) return false;
  return true;
}
}  // namespace

TEST_CASE("evaluator: both distance routes (direct for C <= 8, Gram beyond) against naive loops") {
  for (int64_t c : {int64_t(1), int64_t(8), int64_t(9), int64_t(40)}) {
    CAPTURE(c);
    const int64_t p = 3, nq = 5, ng = 7;
    Tensor q = test::uniform({nq, c, p}, 71), g = test::uniform({ng, c, p}, 72);
    const std::vector<float> qv = q.to_vector(), gv = g.to_vector();
    const std::vector<float> pp = pairwise_distance(q, g, Distance::per_part_mean).to_vector(),
                             fl = pairwise_distance(q, g, Distance::flattened).to_vector();
    for (int64_t i = 0; i < nq; ++i)
      for (int64_t j = 0; j < ng; ++j) {
        double part_sum = 0, flat = 0;
        for (int64_t k = 0; k < p; ++k) {
          double sq = 0;
          for (int64_t ch = 0; ch < c; ++ch) {
            const double d =
                double(qv[size_t((i * c + ch) * p + k)]) - double(gv[size_t((j * c + ch) * p + k)]);
            sq += d * d;
          }
          part_sum += std::sqrt(sq);
          flat += sq;
        }
        CHECK(pp[size_t(i * ng + j)] == doctest::Approx(part_sum / double(p)).epsilon(2e-6));
        CHECK(fl[size_t(i * ng + j)] == doctest::Approx(std::sqrt(flat)).epsilon(2e-6));
      }
  }
}

TEST_CASE("evaluator: distance tiles under a memory bound give the whole-matrix result") {
  // 23 subjects x 4 views x 5 sequences (2 gallery, 2 nm probes, 1 cl probe); embeddings with a
  // subject component, so that rank-1 is neither 0 nor 100, and [C, P] = [6, 4].
  const std::vector<std::string> views = {"000", "045", "090", "180"};
  std::vector<EvalSample> s;
  for (int sub = 0; sub < 23; ++sub)
    for (const auto& v : views)
      for (int q = 0; q < 5; ++q)
        s.push_back({"s" + std::to_string(sub), v, q < 2, q < 2 ? "" : q < 4 ? "nm" : "cl"});
  const int64_t n = int64_t(s.size());
  Tensor ids = Tensor::empty({n}, DType::i64);
  for (int64_t i = 0; i < n; ++i) ids.data<int64_t>()[i] = i / 20;
  Tensor emb = add(index_select(test::uniform({23, 6, 4}, 61), 0, ids),
                   mul(test::uniform({n, 6, 4}, 62), 0.9f));
  for (Distance kind : {Distance::per_part_mean, Distance::flattened}) {
    auto want = whole_matrix_pairs(emb, s, kind, views);
    std::set<std::pair<int64_t, int64_t>> tilings;
    // about 24 KB of per-probe state, then tiles of a few KB and one whole-matrix tile
    for (int64_t bound : {int64_t(26000), int64_t(30000), int64_t(60000), int64_t(1) << 30}) {
      EvalTable t = rank1_excluding_identical_view(emb, s, kind, bound);
      CAPTURE(bound);
      for (const char* c : {"nm", "cl"}) {
        CHECK(same_cells(t.pairs.at(c), want.at(c)));
        CHECK(t.mean.at(c) > 5.0);
        CHECK(t.mean.at(c) < 95.0);
      }
      tilings.insert({t.tiles.probes, t.tiles.gallery});
    }
    CHECK(tilings.size() >= 3);  // the bounds above really tile differently
  }
  // C = 40: the Gram route (and flattened, C * P = 160), tiled and whole alike; above, C = 6
  // per part takes the direct route
  Tensor wide = add(index_select(test::uniform({23, 40, 4}, 63), 0, ids),
                    mul(test::uniform({n, 40, 4}, 64), 0.9f));
  for (Distance kind : {Distance::per_part_mean, Distance::flattened}) {
    auto want = whole_matrix_pairs(wide, s, kind, views);
    std::set<std::pair<int64_t, int64_t>> tilings;
    for (int64_t bound : {int64_t(40000), int64_t(60000), int64_t(1) << 30}) {
      EvalTable t = rank1_excluding_identical_view(wide, s, kind, bound);
      CAPTURE(bound);
      for (const char* c : {"nm", "cl"}) CHECK(same_cells(t.pairs.at(c), want.at(c)));
      tilings.insert({t.tiles.probes, t.tiles.gallery});
    }
    CHECK(tilings.size() >= 2);
  }
  CHECK_THROWS_WITH_AS(rank1_excluding_identical_view(emb, s, Distance::per_part_mean, 20000),
                       doctest::Contains("memory bound of 20000 bytes is too small"), Error);
}

TEST_CASE("configuration errors name the file and the key") {
  std::string p = "/tmp/rmgait_cfg.yaml";
  std::ofstream(p) << "data_cfg:\n  dataset: x.pack\nmodel_cfg:\n  foo: 1\n";
  CHECK_THROWS_WITH_AS(pipeline::load_config(p), doctest::Contains("unknown key 'model_cfg.foo'"),
                       Error);
  std::ofstream(p) << "data_cfg:\n  dataset: x.pack\ntrainer_cfg:\n  total_iter: lots\n";
  CHECK_THROWS_WITH_AS(pipeline::load_config(p),
                       doctest::Contains("bad value for 'trainer_cfg.total_iter'"), Error);
  std::ofstream(p) << "data_cfg:\n  dataset: x.pack\nmodel_cfg:\n  block: wide\n";
  CHECK_THROWS_WITH_AS(pipeline::load_config(p), doctest::Contains("block kind 'wide'"), Error);
  std::ofstream(p) << "data_cfg:\n  dataset: x.pack\n";
  pipeline::TrainConfig c =
      pipeline::load_config(p, {"trainer_cfg.sampler=[4, 2]", "model_cfg.channels=[2, 4, 8]"});
  CHECK(c.p == 4);
  CHECK(c.model.channels[2] == 8);
  CHECK_THROWS_WITH_AS(pipeline::load_config(p, {"trainer_cfg.sampler"}),
                       doctest::Contains("expected section.key=value"), Error);
  CHECK_THROWS_WITH_AS(pipeline::load_config("/tmp/rmgait_nope.yaml"),
                       doctest::Contains("cannot open"), Error);
  CHECK_THROWS_WITH_AS(pipeline::load_config(p, {"trainer_cfg.keep_checkpoints=-1"}),
                       doctest::Contains("keep_checkpoints must be 0 (keep all) or more"), Error);
  CHECK_THROWS_WITH_AS(pipeline::load_config(p, {"model_cfg.channels=[4, 0, 8]"}),
                       doctest::Contains("model_cfg.channels must be positive, got 0"), Error);
}

TEST_CASE("configuration: the effective settings read back as the same settings") {
  // every key, set away from its default, listed by effective_settings and parsed again: the
  // getters and setters of one table agree, and nothing is left out
  std::string p = "/tmp/rmgait_cfg_rt.yaml";
  std::ofstream(p) << "data_cfg:\n  dataset: x.pack\n";
  const pipeline::TrainConfig c = pipeline::load_config(
      p, {"model_cfg.block=gl", "model_cfg.channels=[3, 5, 7]", "model_cfg.mask_strategy=row",
          "trainer_cfg.sampler=[3, 2]", "trainer_cfg.precision=bf16", "trainer_cfg.seed=11",
          "trainer_cfg.keep_checkpoints=2", "scheduler_cfg.milestones=[5, 9]",
          "scheduler_cfg.gammas=[0.5, 0.25]", "trainer_cfg.on_nonfinite=skip",
          "optimizer_cfg.lr=0.003", "evaluator_cfg.distance=flattened",
          "trainer_cfg.conv_algorithm=direct", "evaluator_cfg.conv_algorithm=direct"});
  const auto settings = pipeline::effective_settings(c);
  std::string yaml, section;
  for (const auto& [key, value] : settings) {
    const std::string sec = key.substr(0, key.find('.'));
    if (sec != section) yaml += sec + ":\n", section = sec;
    yaml += "  " + key.substr(key.find('.') + 1) + ": " + value + "\n";
  }
  const pipeline::TrainConfig back = pipeline::parse_config(yaml, "round trip");
  CHECK(pipeline::effective_settings(back) == settings);
  auto value = [&](const std::string& key) {
    for (const auto& [k, v] : settings)
      if (k == key) return v;
    return std::string("(none)");
  };
  CHECK(value("model_cfg.block") == "gl");
  CHECK(value("model_cfg.channels") == "[3, 5, 7]");
  CHECK(value("model_cfg.mask_strategy") == "row");
  CHECK(value("trainer_cfg.sampler") == "[3, 2]");
  CHECK(value("trainer_cfg.keep_checkpoints") == "2");
  CHECK(value("scheduler_cfg.milestones") == "[5, 9]");
  CHECK(value("trainer_cfg.conv_algorithm") == "direct");
  CHECK(value("evaluator_cfg.conv_algorithm") == "direct");
  CHECK(settings.size() == 44);  // every key of tools/config.cpp's table
}

namespace {
std::vector<nlohmann::json> read_log(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}
}  // namespace

TEST_CASE("end to end: tiny SynGait run learns, evaluates, and resumes to the last digit") {
  data::SynGaitOptions so;
  so.subjects = 28;  // 24 train (ST), 4 test: chance is 25%
  so.frames = 16;
  so.seed = 2;
  data::synth_aligned(so, "/tmp/rmgait_e2e.pack", false);
  std::string cfg_path = "/tmp/rmgait_e2e.yaml";
  std::ofstream(cfg_path) << R"(data_cfg:
  dataset: /tmp/rmgait_e2e.pack
  protocol: casiab-st
  num_workers: 2
model_cfg:
  block: plain
  channels: [4, 8, 16]
optimizer_cfg:
  lr: 1.0e-3
trainer_cfg:
  total_iter: 120
  sampler: [8, 4]
  frames: 12
  seed: 4
  log_iter: 1
  save_iter: 100
  output_dir: /tmp/rmgait_e2e_a
)";
  namespace fs = std::filesystem;
  fs::remove_all("/tmp/rmgait_e2e_a");
  fs::remove_all("/tmp/rmgait_e2e_b");
  pipeline::train(pipeline::load_config(cfg_path), {});
  auto a = read_log("/tmp/rmgait_e2e_a/log.jsonl");
  REQUIRE(a.size() == 120);
  double first = 0, last = 0;
  auto total = [](const nlohmann::json& j) {
    return j["triplet"].get<double>() + j["ce"].get<double>();
  };
  for (int i = 0; i < 10; ++i) first += total(a[i]), last += total(a[110 + i]);
  CHECK(last < first);  // the loss (triplet + cross entropy, weights 1 and 1) falls
  auto eval = nlohmann::json::parse(std::ifstream("/tmp/rmgait_e2e_a/eval.json"));
  REQUIRE(eval["views"].size() == 11);
  for (const char* c : {"nm", "bg", "cl"}) REQUIRE(eval["rank1"][c]["per_view"].size() == 11);
  MESSAGE("tiny e2e NM rank-1 " << eval["rank1"]["nm"]["mean"].get<double>());
  CHECK(eval["rank1"]["nm"]["mean"].get<double>() > 40.0);  // chance: 25%

  pipeline::TrainOptions resume;
  resume.resume = "/tmp/rmgait_e2e_a/checkpoints/iter_0000100.safetensors";
  pipeline::train(pipeline::load_config(cfg_path, {"trainer_cfg.output_dir=/tmp/rmgait_e2e_b"}),
                  resume);
  auto b = read_log("/tmp/rmgait_e2e_b/log.jsonl");
  REQUIRE(b.size() == 20);
  for (int i = 0; i < 20; ++i) {
    CHECK(b[i]["iter"] == a[100 + i]["iter"]);
    CHECK(b[i]["triplet"].get<double>() == a[100 + i]["triplet"].get<double>());
    CHECK(b[i]["ce"].get<double>() == a[100 + i]["ce"].get<double>());
  }

  // the same weights as a PyTorch .pt in OpenGait's layout: evaluated with --config, the same
  // rank-1 table; as --resume-weights, training starts from them (lr 0: parameters unchanged)
  const std::string ckpt = "/tmp/rmgait_e2e_a/latest.safetensors", pt = "/tmp/rmgait_e2e.pt";
  formats::save_torch_checkpoint(pt, pipeline::read_weights(ckpt), true, 120);
  pipeline::LoadedModel ours = pipeline::load_model(ckpt),
                        theirs = pipeline::load_model(pt, cfg_path);
  CHECK(theirs.iteration == 120);
  data::PackedDataset ds("/tmp/rmgait_e2e.pack");
  const data::Protocol proto = data::parse_protocol("casiab-st");
  pipeline::EvalOptions o;
  CHECK(pipeline::evaluate(*theirs.model, ds, proto, o).mean ==
        pipeline::evaluate(*ours.model, ds, proto, o).mean);
  CHECK_THROWS_WITH_AS(pipeline::load_model(pt),
                       doctest::Contains("give the model's configuration"), Error);
  fs::remove_all("/tmp/rmgait_e2e_c");
  pipeline::TrainOptions fine_tune;
  fine_tune.weights = pt;
  pipeline::train(pipeline::load_config(cfg_path, {"trainer_cfg.output_dir=/tmp/rmgait_e2e_c",
                                                   "trainer_cfg.total_iter=1", "optimizer_cfg.lr=0",
                                                   "trainer_cfg.save_iter=1"}),
                  fine_tune);
  auto before = pipeline::read_weights(ckpt),
       after = pipeline::read_weights("/tmp/rmgait_e2e_c/latest.safetensors");
  for (const auto& [k, v] : ours.model->named_parameters())
    CHECK_MESSAGE(after.at(k).to_vector() == before.at(k).to_vector(), k);

  // deploy: the test subjects' gallery sequences (nm-01..04) of view 090 enrolled from the
  // packed dataset, their bg and cl sequences of view 000 identified from raw PNG frames
  // (pretreated on the way in): top-1 is the evaluator's rank-1 of that view pair
  const std::string gallery = "/tmp/rmgait_e2e_gallery.safetensors";
  fs::remove(gallery);
  pipeline::EnrollRequest er;
  er.checkpoint = ckpt, er.gallery = gallery, er.dataset = "/tmp/rmgait_e2e.pack";
  er.subjects = {"025", "026", "027", "028"};
  er.conditions = {"nm-01", "nm-02", "nm-03", "nm-04"};
  er.views = {"090"};
  const pipeline::EnrollReport enrolled = pipeline::enroll(er);
  CHECK(enrolled.count.added == 16);
  const pipeline::EnrollReport again = pipeline::enroll(er);  // safe to re-run
  CHECK(again.count.added == 0);
  CHECK(again.count.replaced == 16);
  CHECK(again.size == 16);
  CHECK_THROWS_WITH_AS(pipeline::identify({pt,
                                           cfg_path,
                                           "/tmp/rmgait_e2e_none.safetensors",
                                           "/tmp/rmgait_e2e_none.npy",
                                           "",
                                           1,
                                           1024,
                                           {},
                                           {},
                                           Device::cpu}),
                       doctest::Contains("none.npy"), Error);
  {  // inference's conv algorithm (eval, embed, enroll, identify --conv-algorithm)
    pipeline::LoadedModel lm = pipeline::load_model(ckpt, "");
    data::PackedDataset ds("/tmp/rmgait_e2e.pack");
    const Tensor seq = data::load_sequence(ds, 0);
    const std::vector<float> direct =
        pipeline::embed(lm, seq, Precision::f32, Device::cpu, ConvAlgorithm::direct).to_vector();
    const std::vector<float> wino =
        pipeline::embed(lm, seq, Precision::f32, Device::cpu, ConvAlgorithm::winograd).to_vector();
    double scale = 0, err = 0;
    for (size_t i = 0; i < direct.size(); ++i) {
      scale = std::max(scale, std::fabs(double(direct[i])));
      err = std::max(err, std::fabs(double(wino[i]) - direct[i]));
    }
    MESSAGE("Winograd embedding: largest difference ", err / scale, " of the largest value");
    CHECK(err <= 1e-4 * scale);
  }
  const auto col = [&](const char* v) {
    const auto& vs = eval["views"];
    return size_t(std::find(vs.begin(), vs.end(), v) - vs.begin());
  };
  for (const char* cond : {"bg", "cl"}) {
    int hits = 0, probes = 0;
    for (int s = 25; s <= 28; ++s)
      for (int seq = 1; seq <= 2; ++seq) {
        const std::string dir =
            "/tmp/rmgait_e2e_png/" + std::to_string(s) + cond + std::to_string(seq);
        fs::remove_all(dir);
        fs::create_directories(dir);
        int f = 0;
        for (const auto& frame : data::render_sequence(so, s, {cond, seq, 0}))
          data::write_png(dir + "/" + std::to_string(100 + f++) + ".png", frame.data(), so.width,
                          so.height);
        pipeline::IdentifyRequest ir;
        ir.checkpoint = ckpt, ir.gallery = gallery, ir.png_dir = dir, ir.top = 2;
        const pipeline::Identification id = pipeline::identify(ir);
        REQUIRE(id.matches.size() == 2);
        CHECK(id.matches[0].distance <= id.matches[1].distance);
        ++probes;
        hits += id.matches[0].label == "0" + std::to_string(s);
      }
    MESSAGE("identify " << std::string(cond) << " 000 -> 090: top-1 " << hits << " of " << probes);
    CHECK(gait::round2(100.0 * hits / probes) ==
          eval["pairs"][cond][col("000")][col("090")].get<double>());
  }
  // the .pt of the same weights is the same model: its gallery is this one; other weights are not
  er.checkpoint = pt, er.config = cfg_path;
  CHECK(pipeline::enroll(er).count.replaced == 16);
  er.checkpoint = "/tmp/rmgait_e2e_a/checkpoints/iter_0000100.safetensors", er.config = "";
  CHECK_THROWS_WITH_AS(pipeline::enroll(er), doctest::Contains("made by another model"), Error);
  pipeline::IdentifyRequest other;
  other.checkpoint = er.checkpoint, other.gallery = gallery;
  other.png_dir = "/tmp/rmgait_e2e_png/25bg1";
  CHECK_THROWS_WITH_AS(pipeline::identify(other), doctest::Contains("made by another model"),
                       Error);
  // a subject, condition or view that picks nothing is an error, not a silent skip
  er.checkpoint = ckpt, er.conditions = {"nm-01", "nm-07"};
  CHECK_THROWS_WITH_AS(pipeline::enroll(er), doctest::Contains("no sequences of condition nm-07"),
                       Error);
  er.conditions = {"nm-01"}, er.subjects = {"025", "999"};
  CHECK_THROWS_WITH_AS(pipeline::enroll(er), doctest::Contains("no sequences of subject 999"),
                       Error);
  er.subjects = {"025"}, er.label = "x";
  CHECK_THROWS_WITH_AS(pipeline::enroll(er), doctest::Contains("--label is for --sils or --dir"),
                       Error);

  // the report: 3 x 11 x 11 heatmap cells holding eval.json's per-pair accuracies, and each
  // curve one point per logged step
  pipeline::write_report({"/tmp/rmgait_e2e_a", "/tmp/rmgait_e2e_b"}, "/tmp/rmgait_e2e_report.html");
  std::ifstream rf("/tmp/rmgait_e2e_report.html");
  const std::string html((std::istreambuf_iterator<char>(rf)), {});
  const std::regex cell_re(
      "class=\"cell[^\"]*\" data-cond=\"([a-z]+)\" data-probe=\"(\\d+)\" data-gallery=\"(\\d+)\" "
      "data-value=\"([^\"]*)\"");
  auto views = eval["views"];
  int cells = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), cell_re);
       it != std::sregex_iterator(); ++it, ++cells) {
    const auto& m = *it;
    const auto p = std::find(views.begin(), views.end(), m[2].str()) - views.begin(),
               g = std::find(views.begin(), views.end(), m[3].str()) - views.begin();
    const auto& want = eval["pairs"][m[1].str()][p][g];
    if (want.is_null())
      CHECK(m[4].str().empty());
    else
      CHECK(std::stod(m[4].str()) == want.get<double>());
  }
  CHECK(cells == 2 * 3 * 11 * 11);  // both runs evaluated at their end
  const std::regex curve_re(
      "class=\"curve\" data-run=\"([^\"]+)\" data-metric=\"([a-z]+)\"[^>]*points=\"([^\"]*)\"");
  int curves = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), curve_re);
       it != std::sregex_iterator(); ++it, ++curves) {
    const std::string pts = (*it)[3].str();
    const size_t n = size_t(std::count(pts.begin(), pts.end(), ','));
    const size_t logged = (*it)[1].str() == "rmgait_e2e_a" ? a.size() : b.size();
    // the learning rate is a step function: a corner between each two logged points
    CHECK(n == ((*it)[2].str() == "lr" ? 2 * logged - 1 : logged));
  }
  CHECK(curves == 5 * 2);
  // every axis tick is 1, 2 or 5 times a power of ten, times a whole number
  const std::regex tick_re("class=\"tick [xy]\"[^>]*>([^<]+)<");
  int ticks = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tick_re);
       it != std::sregex_iterator(); ++it, ++ticks) {
    const double v = std::stod((*it)[1].str());
    bool round = v == 0;
    for (double e = -8; e <= 8 && !round; ++e)
      for (double m : {1.0, 2.0, 5.0}) {
        const double step = m * std::pow(10.0, e), q = v / step;
        if (std::fabs(q - std::round(q)) < 1e-6 && std::fabs(q) <= 10) round = true;
      }
    CHECK_MESSAGE(round, "tick ", (*it)[1].str());
  }
  CHECK(ticks >= 5 * 2 * 3);  // five charts, two axes of at least three ticks
}

TEST_CASE("OpenGait configurations: GaitGL's keys mapped, the rest refused by name") {
  // the keys and values of OpenGait's configs/gaitgl/gaitgl.yaml (CASIA-B)
  const std::string og = R"(data_cfg:
  dataset_name: CASIA-B
  dataset_root: /data/casiab.pack
  dataset_partition: ./datasets/CASIA-B/CASIA-B_include_005.json
  num_workers: 1
  remove_no_gallery: false
  test_dataset_name: CASIA-B
evaluator_cfg:
  enable_float16: false
  restore_ckpt_strict: true
  restore_hint: 80000
  save_name: GaitGL
  sampler:
    batch_size: 4
    sample_type: all_ordered
    type: InferenceSampler
loss_cfg:
  - loss_term_weight: 1.0
    margin: 0.2
    type: TripletLoss
    log_prefix: triplet
  - loss_term_weight: 0.5
    scale: 1
    type: CrossEntropyLoss
    log_accuracy: true
    label_smooth: true
    log_prefix: softmax
model_cfg:
  model: GaitGL
  channels: [32, 64, 128]
  class_num: 74
optimizer_cfg:
  lr: 1.0e-4
  solver: Adam
  weight_decay: 5.0e-4
scheduler_cfg:
  gamma: 0.1
  milestones:
    - 70000
  scheduler: MultiStepLR
trainer_cfg:
  enable_float16: false
  with_test: true
  log_iter: 100
  restore_ckpt_strict: true
  restore_hint: 0
  save_iter: 10000
  save_name: GaitGL
  sync_BN: true
  total_iter: 80000
  sampler:
    batch_shuffle: true
    batch_size:
      - 8
      - 8
    frames_num_fixed: 30
    frames_skip_num: 0
    sample_type: fixed_ordered
    type: TripletSampler
)";
  const std::string p = "/tmp/rmgait_opengait.yaml", out = "/tmp/rmgait_from_opengait.yaml";
  std::ofstream(p) << og;
  pipeline::TrainConfig c = pipeline::load_config(p, {"trainer_cfg.total_iter=5"});
  CHECK(c.model.block == gait::BlockKind::gl);
  CHECK(c.model.channels == std::array<int64_t, 3>{32, 64, 128});
  CHECK(c.dataset == "/data/casiab.pack");
  CHECK(c.protocol == "./datasets/CASIA-B/CASIA-B_include_005.json");
  CHECK(c.num_workers == 1);
  CHECK(c.triplet_weight == 1.f);
  CHECK(c.margin == doctest::Approx(0.2));
  CHECK(c.ce_weight == 0.5f);
  CHECK(c.label_smoothing == doctest::Approx(0.1));
  CHECK(c.lr == doctest::Approx(1e-4));
  CHECK(c.weight_decay == doctest::Approx(5e-4));
  CHECK(c.milestones == std::vector<int64_t>{70000});
  CHECK(c.gamma == doctest::Approx(0.1));
  CHECK(c.p == 8);
  CHECK(c.k == 8);
  CHECK(c.frames == 30);
  CHECK(c.total_iter == 5);  // --set applies to the translated configuration
  CHECK(c.save_iter == 10000);
  CHECK(c.eval_iter == 10000);  // with_test: evaluate at each save
  CHECK(c.sync_bn);
  CHECK(c.precision == Precision::f32);
  CHECK(c.output_dir == "output/GaitGL");
  // config --from-opengait writes the equivalent rmgait configuration
  pipeline::write_config_from_opengait(p, out);
  pipeline::TrainConfig d = pipeline::load_config(out, {"trainer_cfg.total_iter=5"});
  CHECK(d.yaml == c.yaml);
  // anything else is refused by name
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = og;
    s.replace(s.find(from), from.size(), to);
    std::ofstream(p) << s;
  };
  with("  class_num: 74", "  class_num: 74\n  bin_num: [64]");
  CHECK_THROWS_WITH_AS(pipeline::load_config(p),
                       doctest::Contains("OpenGait key 'model_cfg.bin_num' is not understood"),
                       Error);
  with("model: GaitGL", "model: GaitPart");
  CHECK_THROWS_WITH_AS(pipeline::load_config(p),
                       doctest::Contains("'GaitPart': rmgait implements GaitGL"), Error);
  with("restore_hint: 0", "restore_hint: 40000");
  CHECK_THROWS_WITH_AS(pipeline::load_config(p), doctest::Contains("'trainer_cfg.restore_hint'"),
                       Error);
  with("    scale: 1", "    scale: 16");
  CHECK_THROWS_WITH_AS(pipeline::load_config(p), doctest::Contains("rmgait implements scale 1"),
                       Error);
  with("channels: [32, 64, 128]", "channels: [32, 64, 128, 256]");  // OU-MVLP's deeper GaitGL
  CHECK_THROWS_WITH_AS(pipeline::load_config(p), doctest::Contains("expected 3 channel counts"),
                       Error);
}

TEST_CASE("visualize: stage maps, and RMFE's two branches under each mask strategy") {
  gait::ModelConfig mc;
  mc.block = gait::BlockKind::inception;
  mc.channels = {2, 4, 8};
  mc.num_classes = 4;
  gait::ReverseMaskModel model(mc);
  Generator g(3);
  Tensor x = rand({1, 9, 64, 44}, g);
  const std::string dir = "/tmp/rmgait_visualize";
  std::filesystem::remove_all(dir);
  std::vector<std::string> files = pipeline::visualize(model, x, 4, dir);
  REQUIRE(files.size() == 1 + 5 + 4 * 3);  // input, 5 stages, (mask, 2 branches) x 4 strategies
  auto img = [&](const std::string& name) { return data::read_gray(dir + "/" + name); };
  data::GrayImage in = img("input.png");
  CHECK(in.width == 44 * 4);
  CHECK(in.height == 64 * 4);
  CHECK(img("stage_A1.png").width == 44 * 4);       // 22 columns, scaled 8x
  CHECK(img("stage_B2.png").height == 3 * 32 * 8);  // the last stage's cat over H (Eq. 10)
  // masks at the input's 64 x 44, 4x: row masks are constant along rows, unit masks are not,
  // the constant strategy keeps the top half and reverses the bottom half
  auto row_uniform = [](const data::GrayImage& m) {
    for (int y = 0; y < m.height; ++y)
      for (int x = 1; x < m.width; ++x)
        if (m.pixels[size_t(y) * m.width + x] != m.pixels[size_t(y) * m.width]) return false;
    return true;
  };
  data::GrayImage unit = img("rm_unit_mask.png"), row = img("rm_row_mask.png"),
                  constant = img("rm_constant_mask.png");
  CHECK(row_uniform(row));
  CHECK_FALSE(row_uniform(unit));
  CHECK(row_uniform(constant));
  CHECK(constant.pixels.front() == 255);
  CHECK(constant.pixels.back() == 0);
  CHECK(img("rm_block_mask.png").pixels != unit.pixels);
  for (const char* s : {"unit", "row", "block", "constant"})
    CHECK_MESSAGE(img(std::string("rm_") + s + "_branch1.png").pixels !=
                      img(std::string("rm_") + s + "_branch2.png").pixels,
                  s);
}
