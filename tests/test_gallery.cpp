// The gallery (pipeline/gallery.h): enrolment, its file, and identification against a naive
// search and against the evaluator's rank-1.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include "engine/error.h"
#include "engine/random.h"
#include "formats/safetensors.h"
#include "gait/evaluator.h"
#include "pipeline/gallery.h"

using namespace rmgait;
using pipeline::Gallery;

namespace {

// ["a", "b"] for safetensors metadata (the names here need no escaping)
std::string json_array(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", \"" : "\"") + v[i] + "\"";
  return s + "]";
}

// [N, C, P] embeddings: each subject a random centre, each sequence the centre plus noise.
Tensor clustered(const std::vector<int>& subject_of, int64_t c, int64_t p, float noise,
                 uint64_t seed) {
  Generator g(seed);
  Tensor centres = randn({64, c, p}, g);
  Tensor jitter = randn({int64_t(subject_of.size()), c, p}, g);
  std::vector<float> out;
  const std::vector<float> cv = centres.to_vector(), jv = jitter.to_vector();
  for (size_t i = 0; i < subject_of.size(); ++i)
    for (int64_t k = 0; k < c * p; ++k)
      out.push_back(cv[size_t(subject_of[i] * c * p + k)] +
                    noise * jv[size_t(int64_t(i) * c * p + k)]);
  return Tensor::from_vector(out, {int64_t(subject_of.size()), c, p});
}

// The paper's distance between [C, P] embeddings a and b, naively.
double naive_distance(const std::vector<float>& a, const std::vector<float>& b, int64_t c,
                      int64_t p) {
  double sum = 0;
  for (int64_t j = 0; j < p; ++j) {
    double s = 0;
    for (int64_t i = 0; i < c; ++i) {
      const double d = double(a[size_t(i * p + j)]) - b[size_t(i * p + j)];
      s += d * d;
    }
    sum += std::sqrt(s);
  }
  return sum / double(p);
}

std::vector<float> row(const Tensor& t, int64_t i) {
  return t.narrow(0, i, 1).contiguous().to_vector();
}

}  // namespace

TEST_CASE("gallery: enrolling adds, enrolling again replaces, another model is refused") {
  const std::string path = "/tmp/rmgait_gallery_test.safetensors";
  std::filesystem::remove(path);
  Gallery g = pipeline::load_gallery(path);  // a missing file is an empty gallery
  CHECK(g.size() == 0);
  Tensor e = clustered({0, 1, 2}, 4, 3, 0.1f, 1);
  auto n = pipeline::add_to_gallery(g, "f00d", e, {"a", "b", "c"}, {"s1", "s2", "s3"});
  CHECK(n.added == 3);
  CHECK(n.replaced == 0);
  pipeline::save_gallery(path, g);
  Gallery back = pipeline::load_gallery(path);
  CHECK(back.labels == std::vector<std::string>{"a", "b", "c"});
  CHECK(back.sources == std::vector<std::string>{"s1", "s2", "s3"});
  CHECK(back.model == "f00d");
  CHECK(back.embeddings.to_vector() == e.to_vector());
  // s2 again (relabelled) and a new s4: one replaced, one added
  Tensor e2 = clustered({5, 6}, 4, 3, 0.1f, 2);
  n = pipeline::add_to_gallery(back, "f00d", e2, {"b2", "d"}, {"s2", "s4"});
  CHECK(n.added == 1);
  CHECK(n.replaced == 1);
  CHECK(back.size() == 4);
  CHECK(back.labels[1] == "b2");
  CHECK(row(back.embeddings, 1) == row(e2, 0));
  CHECK(row(back.embeddings, 3) == row(e2, 1));
  CHECK(row(back.embeddings, 2) == row(e, 2));
  CHECK_THROWS_WITH_AS(pipeline::add_to_gallery(back, "beef", e2, {"x", "y"}, {"s5", "s6"}),
                       doctest::Contains("made by another model"), Error);
  CHECK_THROWS_WITH_AS(
      pipeline::add_to_gallery(back, "f00d", clustered({1}, 5, 3, 0.1f, 3), {"x"}, {"s7"}),
      doctest::Contains("do not match the gallery's"), Error);
  // a safetensors file that is not a gallery: the missing key named
  formats::save_safetensors(path, {{"embeddings", e}}, {{"model", "f00d"}});
  CHECK_THROWS_WITH_AS(pipeline::load_gallery(path), doctest::Contains("\"labels\""), Error);
  formats::save_safetensors(path, {{"embeddings", e}},
                            {{"model", "f00d"}, {"labels", "[\"a\"]"}, {"sources", "[\"s\"]"}});
  CHECK_THROWS_WITH_AS(pipeline::load_gallery(path), doctest::Contains("1 labels and 1 sources"),
                       Error);
  formats::save_safetensors(path, {{"embeddings", e}},
                            {{"model", "f00d"}, {"labels", "{}"}, {"sources", "[]"}});
  CHECK_THROWS_WITH_AS(pipeline::load_gallery(path),
                       doctest::Contains("\"labels\" is not a JSON array"), Error);
  formats::save_safetensors(
      path, {{"embeddings", e}},
      {{"model", "f00d"}, {"labels", "[\"a\", 2, \"c\"]"}, {"sources", "[]"}});
  CHECK_THROWS_WITH_AS(pipeline::load_gallery(path), doctest::Contains("holds a non-string"),
                       Error);
  formats::save_safetensors(path, {{"embeddings", e}},
                            {{"model", "f00d"},
                             {"labels", "[\"a\", \"b\", \"c\"]"},
                             {"sources", "[\"s\", \"t\", \"s\"]"}});
  CHECK_THROWS_WITH_AS(pipeline::load_gallery(path), doctest::Contains("s is enrolled twice"),
                       Error);
  std::vector<float> nan_row = e.to_vector();
  nan_row[13] = NAN;
  formats::save_safetensors(path, {{"embeddings", Tensor::from_vector(nan_row, e.shape())}},
                            {{"model", "f00d"},
                             {"labels", "[\"a\", \"b\", \"c\"]"},
                             {"sources", "[\"s\", \"t\", \"u\"]"}});
  CHECK_THROWS_WITH_AS(pipeline::load_gallery(path), doctest::Contains("entry 1 (t)"), Error);
  std::filesystem::remove(path);
  // refused additions leave the gallery as it was
  Gallery same = back;
  CHECK_THROWS_WITH_AS(pipeline::add_to_gallery(same, "f00d", e2, {"x", "y"}, {"s9", "s9"}),
                       doctest::Contains("s9 is given twice"), Error);
  CHECK_THROWS_WITH_AS(
      pipeline::add_to_gallery(same, "f00d", Tensor::from_vector(nan_row, e.shape()),
                               {"x", "y", "z"}, {"n1", "n2", "n3"}),
      doctest::Contains("the embedding of n2 holds a NaN"), Error);
  CHECK(same.size() == back.size());
  CHECK(same.labels == back.labels);
  CHECK(same.embeddings.to_vector() == back.embeddings.to_vector());
}

TEST_CASE("identify: each identity's nearest entry, as a naive search finds them") {
  std::vector<int> subject_of;
  std::vector<std::string> labels, sources;
  for (int i = 0; i < 200; ++i) {
    subject_of.push_back(i % 37);
    labels.push_back("id" + std::to_string(i % 37));
    sources.push_back("seq" + std::to_string(i));
  }
  const int64_t c = 8, p = 5;
  Gallery g;
  pipeline::add_to_gallery(g, "f00d", clustered(subject_of, c, p, 0.7f, 4), labels, sources);
  const Tensor queries = clustered({3, 17, 36}, c, p, 0.7f, 5);
  for (int64_t q = 0; q < queries.size(0); ++q) {
    const std::vector<float> qv = row(queries, q);
    std::map<std::string, std::pair<double, int64_t>> best;
    for (int64_t i = 0; i < g.size(); ++i) {
      const double d = naive_distance(qv, row(g.embeddings, i), c, p);
      auto it = best.find(labels[size_t(i)]);
      if (it == best.end() || d < it->second.first) best[labels[size_t(i)]] = {d, i};
    }
    std::vector<std::pair<double, std::string>> want;
    for (auto& [label, de] : best) want.push_back({de.first, label});
    std::sort(want.begin(), want.end());
    const auto got = pipeline::nearest_identities(g, queries.narrow(0, q, 1).squeeze(0), 5);
    REQUIRE(got.size() == 5);
    for (size_t k = 0; k < 5; ++k) {
      CHECK(got[k].label == want[k].second);
      CHECK(got[k].distance == doctest::Approx(want[k].first).epsilon(1e-6));
      CHECK(got[k].source == sources[size_t(best[got[k].label].second)]);
    }
  }
  // more than there are identities: every identity once
  CHECK(pipeline::nearest_identities(g, queries.narrow(0, 0, 1).squeeze(0), 100).size() == 37);
  CHECK_THROWS_WITH_AS(pipeline::nearest_identities(g, Tensor::zeros({c, p + 1}), 1),
                       doctest::Contains("against a gallery of"), Error);
  CHECK_THROWS_WITH_AS(pipeline::nearest_identities(Gallery(), Tensor::zeros({c, p}), 1),
                       doctest::Contains("empty"), Error);

  // streamed from the file in tiles (1 entry, 7 entries, all of them): the same matches
  const std::string path = "/tmp/rmgait_test_gallery_stream.safetensors";
  pipeline::save_gallery(path, g);
  const pipeline::GalleryFile f = pipeline::open_gallery(path);
  CHECK(f.size() == 200);
  for (int64_t bound : {int64_t(1), 7 * c * p * 4 + 3, int64_t(1) << 30}) {
    CAPTURE(bound);
    for (int64_t q = 0; q < queries.size(0); ++q) {
      const Tensor qt = queries.narrow(0, q, 1).squeeze(0);
      const auto want = pipeline::nearest_identities(g, qt, 37);
      const auto got = pipeline::nearest_identities(f, qt, 37, bound);
      REQUIRE(got.size() == want.size());
      for (size_t k = 0; k < got.size(); ++k) {
        CHECK(got[k].label == want[k].label);
        CHECK(got[k].source == want[k].source);
        CHECK(got[k].distance == want[k].distance);
      }
    }
  }
  // a NaN in entry 150 (tile 21 of 7 entries) is found while streaming, named by its source
  std::vector<float> v = g.embeddings.to_vector();
  v[size_t(150 * c * p + 9)] = NAN;
  Gallery bad = g;
  bad.embeddings = Tensor::from_vector(v, g.embeddings.shape());
  formats::save_safetensors(
      path, {{"embeddings", bad.embeddings}},
      {{"model", "f00d"}, {"labels", json_array(g.labels)}, {"sources", json_array(g.sources)}});
  CHECK_THROWS_WITH_AS(
      pipeline::nearest_identities(pipeline::open_gallery(path), queries.narrow(0, 0, 1).squeeze(0),
                                   5, 7 * c * p * 4),
      doctest::Contains("entry 150 (seq150) holds a NaN"), Error);
  std::filesystem::remove(path);
}

TEST_CASE("identify: top-1 over one gallery view is the evaluator's rank-1 of that view pair") {
  // 10 subjects x views 000 / 090 / 180: nm-01..04 the gallery, bg-01..02 the probes (CASIA-B's
  // split), embeddings noisy enough that rank-1 lands between 0 and 100
  const std::vector<std::string> views = {"000", "090", "180"};
  std::vector<int> subject_of;
  std::vector<gait::EvalSample> samples;
  for (int s = 0; s < 10; ++s)
    for (const auto& v : views) {
      for (int k = 0; k < 4; ++k) {
        subject_of.push_back(s);
        samples.push_back({std::to_string(100 + s), v, true, ""});
      }
      for (int k = 0; k < 2; ++k) {
        subject_of.push_back(s);
        samples.push_back({std::to_string(100 + s), v, false, "bg"});
      }
    }
  const Tensor emb = clustered(subject_of, 6, 4, 1.1f, 6);
  const gait::EvalTable t = gait::rank1_excluding_identical_view(emb, samples);
  int between = 0;
  for (size_t vi = 0; vi < views.size(); ++vi)
    for (size_t gi = 0; gi < views.size(); ++gi) {
      if (vi == gi) continue;
      Gallery g;
      std::vector<Tensor> rows;
      std::vector<std::string> labels, sources;
      for (size_t i = 0; i < samples.size(); ++i)
        if (samples[i].gallery && samples[i].view == views[gi]) {
          rows.push_back(emb.narrow(0, int64_t(i), 1));
          labels.push_back(samples[i].subject);
          sources.push_back(std::to_string(i));
        }
      pipeline::add_to_gallery(g, "f00d", cat(rows, 0), labels, sources);
      int hits = 0, probes = 0;
      for (size_t i = 0; i < samples.size(); ++i)
        if (!samples[i].gallery && samples[i].view == views[vi]) {
          ++probes;
          hits += pipeline::nearest_identities(g, emb.narrow(0, int64_t(i), 1).squeeze(0), 1)[0]
                      .label == samples[i].subject;
        }
      const double acc = gait::round2(100.0 * hits / probes);
      const auto col = [&](const std::string& v) {
        return size_t(std::find(t.views.begin(), t.views.end(), v) - t.views.begin());
      };
      CHECK(acc == t.pairs.at("bg")[col(views[vi])][col(views[gi])]);
      between += acc > 0 && acc < 100;
    }
  CHECK(between > 0);  // the check above is not about all-or-nothing cases
}
