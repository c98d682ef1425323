// An OU-MVLP-sized evaluation (14 views x 2 sequences x 5,000 subjects, 64 parts) from random
// embeddings: it must complete with the scorer's resident memory under its bound (1 GiB), which
// the whole-matrix evaluator (64 x 70,000 x 70,000 distances, 1.25 TB) could never do. Its own
// process, so that the peak resident memory it reads is this evaluation's.
// RMGAIT_EVAL_SCALE_CHANNELS (default 8) sets C; the time grows with C (the Gram products).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "engine/random.h"
#include "gait/evaluator.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::gait;

namespace {
// A field of /proc/self/status in bytes (VmRSS, VmHWM).
int64_t status_bytes(const std::string& field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  return -1;
}
}  // namespace

TEST_CASE("an OU-MVLP-sized evaluation stays under the memory bound") {
  // Under the sanitizers (RMGAIT_SANITIZED, set by CTest there) the same code runs on 500
  // subjects: the 70,000 x 70,000 scoring takes 40 minutes instrumented, and AddressSanitizer's
  // shadow memory makes the bound meaningless anyway.
  const bool sanitized = std::getenv("RMGAIT_SANITIZED") != nullptr;
  const int subjects = sanitized ? 500 : 5000, parts = 64;
  const char* env = std::getenv("RMGAIT_EVAL_SCALE_CHANNELS");
  const int64_t channels = env ? std::atoll(env) : 8;
  std::vector<EvalSample> samples;
  for (int s = 0; s < subjects; ++s)
    for (int v = 0; v < 14; ++v)
      for (int seq = 0; seq < 2; ++seq) {
        char view[8];
        std::snprintf(view, sizeof view, "%03d", v < 7 ? v * 15 : 180 + (v - 7) * 15);
        samples.push_back({std::to_string(s), view, seq == 1, seq == 0 ? "all" : ""});
      }
  Generator g(7);
  Tensor emb = rand({int64_t(samples.size()), channels, parts}, g);
  // Reset the peak (Linux: "5" to clear_refs), then measure from the resident memory now.
  {
    std::ofstream clear("/proc/self/clear_refs");
    REQUIRE(bool(clear << "5"));
  }
  const int64_t before = status_bytes("VmRSS");
  auto t0 = std::chrono::steady_clock::now();
  EvalTable t = rank1_excluding_identical_view(emb, samples);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t used = status_bytes("VmHWM") - before;
  MESSAGE("OU-MVLP-sized evaluation: " << samples.size() << " sequences, [" << channels << ", "
                                       << parts << "] embeddings, tiles " << t.tiles.probes << " x "
                                       << t.tiles.gallery << ": " << seconds << " s, "
                                       << used / double(1 << 20) << " MiB above the "
                                       << before / double(1 << 20) << " MiB before");
  CHECK(before > 0);
  if (!sanitized) CHECK(used <= kDefaultEvalMemoryBytes);
  REQUIRE(t.views.size() == 14);
  REQUIRE(t.conditions == std::vector<std::string>{"all"});
  // random embeddings: rank-1 near chance (1 / 5,000 = 0.02%), every cell defined
  CHECK(t.mean.at("all") < (sanitized ? 5.0 : 1.0));
  for (double x : t.per_view.at("all")) CHECK_FALSE(std::isnan(x));
}
