// data: pretreatment geometry, packed round trips and corruption, the P x K sampler, SynGait.
#include <omp.h>

#include <cstdio>
#include <fstream>
#include <set>

#include "data/loader.h"
#include "data/packed.h"
#include "data/pretreat.h"
#include "data/protocol.h"
#include "data/syngait.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::data;

namespace {
std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// A dataset whose frame f of every sequence is filled with value (f + 1) * 3 (mod 256).
std::string counting_dataset(const std::string& path, int subjects, int seqs, int frames) {
  PackedWriter w(path, 64, 64);
  std::vector<uint8_t> buf(size_t(frames) * 4096);
  for (int f = 0; f < frames; ++f)
    std::fill(buf.begin() + f * 4096, buf.begin() + (f + 1) * 4096, uint8_t((f + 1) * 3));
  for (int s = 1; s <= subjects; ++s)
    for (int q = 1; q <= seqs; ++q) {
      char sid[8];
      std::snprintf(sid, sizeof sid, "%03d", s);
      w.add({sid, "nm", "090", q, 0, 0}, buf.data(), uint32_t(frames - (q % 3)));  // 3 lengths
    }
  w.finish();
  return path;
}
}  // namespace

TEST_CASE("pretreatment: a rectangle lands centred and 64 rows high") {
  const int w = 160, h = 120;
  std::vector<uint8_t> img(size_t(w) * h, 0);
  for (int y = 20; y < 100; ++y)
    for (int x = 30; x < 50; ++x) img[size_t(y) * w + x] = 255;
  PretreatResult r = pretreat_frame(img.data(), h, w);
  REQUIRE(r.dropped.empty());
  REQUIRE(r.image.size() == 64u * 64u);
  // the crop is 80 rows x 160 columns -> 64 x 128; the rectangle (16 px wide) centred at column 32
  int left = 64, right = -1;
  for (int x = 0; x < 64; ++x)
    if (r.image[32 * 64 + x] > 128) left = std::min(left, x), right = std::max(right, x);
  CHECK(r.image[0 * 64 + 32] > 128);   // first row is foreground: rows cropped to the body
  CHECK(r.image[63 * 64 + 32] > 128);  // and the last one
  CHECK(right - left + 1 == doctest::Approx(16).epsilon(0.15));
  CHECK((left + right) / 2.0 == doctest::Approx(31.5).epsilon(0.05));
  std::vector<uint8_t> empty(size_t(w) * h, 0);
  empty[500] = 255;  // 255 <= 10000: dropped
  CHECK(pretreat_frame(empty.data(), h, w).dropped.find("nearly empty") == 0);
  // bicubic resize keeps a constant image constant
  std::vector<uint8_t> flat(30 * 20, 77);
  for (uint8_t v : resize_bicubic(flat.data(), 30, 20, 64, 43)) REQUIRE(v == 77);
}

TEST_CASE("packed dataset: round trip, and truncated or foreign files give clear errors") {
  std::string p = "/tmp/rmgait_test.pack";
  counting_dataset(p, 3, 2, 7);
  PackedDataset ds(p);
  CHECK(ds.size() == 6);
  CHECK(ds.info(0).name() == "001/nm-01/090");
  CHECK(ds.info(0).frames == 6);
  CHECK(ds.frames(0)[4096 * 2] == 9);
  std::string bytes = read_all(p);
  std::ofstream(p + ".cut", std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  CHECK_THROWS_WITH_AS(PackedDataset(p + ".cut"), doctest::Contains("runs past the end"), Error);
  std::ofstream(p + ".cut", std::ios::binary) << bytes.substr(0, 30);
  CHECK_THROWS_WITH_AS(PackedDataset(p + ".cut"), doctest::Contains("truncated packed dataset"),
                       Error);
  std::string bad = bytes;
  bad[0] = 'X';
  std::ofstream(p + ".cut", std::ios::binary) << bad;
  CHECK_THROWS_WITH_AS(PackedDataset(p + ".cut"), doctest::Contains("bad magic"), Error);
  std::string off = bytes;  // point sequence 0 past the data
  uint64_t table;
  std::memcpy(&table, bytes.data() + 32, 8);
  uint64_t huge = uint64_t(1) << 40;
  std::memcpy(off.data() + table + 40, &huge, 8);
  std::ofstream(p + ".cut", std::ios::binary) << off;
  CHECK_THROWS_WITH_AS(PackedDataset(p + ".cut"), doctest::Contains("frames outside the data"),
                       Error);
  CHECK_THROWS_WITH_AS(PackedDataset("/tmp/rmgait_missing.pack"), doctest::Contains("cannot open"),
                       Error);
}

TEST_CASE("sampler: P x K batches of consecutive (wrapping) clips, reproducible, prefetch-safe") {
  std::string p = counting_dataset("/tmp/rmgait_sampler.pack", 6, 3, 7);
  PackedDataset ds(p);
  std::vector<size_t> all(ds.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  TrainSampler s(ds, all, {4, 2, 10, 5, false});
  CHECK(s.num_classes() == 6);
  Batch b = s.batch(3);
  REQUIRE(b.sils.shape() == Shape{8, 10, 64, 44});
  std::set<int64_t> subjects;
  for (int i = 0; i < 8; ++i) {
    subjects.insert(b.labels[i]);
    CHECK(b.labels[i] == b.labels[i / 2 * 2]);  // K consecutive samples per subject
    uint32_t len = ds.info(b.sequences[i]).frames;
    std::vector<float> v = b.sils.select(0, i).to_vector();
    int first = int(std::lround(v[0] * 255 / 3)) - 1;
    for (int f = 0; f < 10; ++f)  // frame values are consecutive modulo the sequence length
      CHECK(std::lround(v[size_t(f) * 64 * 44] * 255) == ((first + f) % len + 1) * 3);
  }
  CHECK(subjects.size() == 4);
  CHECK(s.batch(3).sils.to_vector() == b.sils.to_vector());
  CHECK(s.batch(4).sils.to_vector() != b.sils.to_vector());
  Prefetcher pf(s, 2, 2, 3);
  CHECK(pf.next().sils.to_vector() == s.batch(2).sils.to_vector());
  CHECK(pf.next().sils.to_vector() == b.sils.to_vector());
  CHECK_THROWS_WITH_AS(TrainSampler(ds, all, {7, 2, 10, 5, false}),
                       doctest::Contains("fewer than P = 7"), Error);
}

TEST_CASE("protocols: CASIA-B partitions and roles") {
  Protocol lt = parse_protocol("casiab-lt");
  CHECK(is_training_subject(lt, "074"));
  CHECK(!is_training_subject(lt, "075"));
  CHECK(is_training_subject(parse_protocol("casiab-st"), "024"));
  CHECK(!is_training_subject(parse_protocol("casiab-mt"), "063"));
  CHECK(!is_training_subject(parse_protocol("casiab-lt73"), "005"));
  SequenceInfo s{"080", "nm", "090", 4, 10, 0};
  CHECK(is_gallery(lt, s));
  s.seq = 5;
  CHECK(probe_condition(lt, s) == "nm");
  s.condition = "cl";
  CHECK(probe_condition(lt, s) == "cl");
  Protocol ou = parse_protocol("oumvlp");
  CHECK(is_training_subject(ou, "00001"));
  CHECK(!is_training_subject(ou, "10307"));
  CHECK_THROWS_WITH_AS(parse_protocol("casia"), doctest::Contains("protocol 'casia'"), Error);
}

TEST_CASE("SynGait: deterministic bytes at any thread count; subjects differ more than sequences") {
  SynGaitOptions o;
  o.subjects = 2;
  o.frames = 8;
  o.seed = 3;
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  synth_aligned(o, "/tmp/rmgait_syn1.pack", false);
  omp_set_num_threads(std::max(2, saved));
  synth_aligned(o, "/tmp/rmgait_syn2.pack", false);
  omp_set_num_threads(saved);
  CHECK(read_all("/tmp/rmgait_syn1.pack") == read_all("/tmp/rmgait_syn2.pack"));
  CHECK(render_sequence(o, 1, {"nm", 1, 90}) == render_sequence(o, 1, {"nm", 1, 90}));
  // mean side-view silhouette over a walk, for subject s and sequence q
  o.frames = 40;
  auto mean_sil = [&](int s, int q) {
    std::vector<double> m(64 * 64, 0);
    int n = 0;
    for (auto& f : render_sequence(o, s, {"nm", q, 90})) {
      PretreatResult r = pretreat_frame(f.data(), o.height, o.width);
      if (!r.dropped.empty()) continue;
      for (size_t i = 0; i < m.size(); ++i) m[i] += r.image[i];
      ++n;
    }
    for (double& v : m) v /= n;
    return m;
  };
  auto dist = [](const std::vector<double>& a, const std::vector<double>& b) {
    double d = 0;
    for (size_t i = 0; i < a.size(); ++i) d += (a[i] - b[i]) * (a[i] - b[i]);
    return std::sqrt(d);
  };
  double within = 0, between = 0;
  for (int s = 1; s <= 4; ++s) {
    within += dist(mean_sil(s, 1), mean_sil(s, 2));
    between += dist(mean_sil(s, 1), mean_sil(s % 4 + 1, 2));
  }
  CHECK(between > 1.3 * within);
}
