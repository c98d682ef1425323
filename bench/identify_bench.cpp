// rmgait identify's search: one query against a gallery of N random [C, P] embeddings
// (nearest_identities, the evaluator's memory bound), median of REPEATS.
// Usage: bench_identify [N=100000] [C=128] [P=64] [REPEATS=3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/random.h"
#include "pipeline/gallery.h"

using namespace rmgait;

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 100000,
                c = argc > 2 ? std::atoll(argv[2]) : 128, p = argc > 3 ? std::atoll(argv[3]) : 64;
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 3;
  Generator g(1);
  pipeline::Gallery gallery;
  gallery.embeddings = randn({n, c, p}, g);
  for (int64_t i = 0; i < n; ++i) {
    gallery.labels.push_back(std::to_string(i / 10));  // ten sequences per identity
    gallery.sources.push_back(std::to_string(i));
  }
  gallery.model = "bench";
  const Tensor query = randn({c, p}, g);
  std::vector<double> s;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto m = pipeline::nearest_identities(gallery, query, 5);
    s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (m.size() != 5) return 1;
  }
  std::sort(s.begin(), s.end());
  std::printf(
      "identify: 1 query against %lld entries of [%lld, %lld] (%.2f GB): %.3f s (median of %d)\n",
      static_cast<long long>(n), static_cast<long long>(c), static_cast<long long>(p),
      double(n) * double(c * p) * 4 / 1e9, s[s.size() / 2], repeats);
}
