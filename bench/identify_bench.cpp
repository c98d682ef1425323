// rmgait identify's search: one query against a gallery of N random [C, P] embeddings, median of
// REPEATS: held in memory, and streamed from a gallery file (written to FILE, default under /tmp,
// then read through the page cache) in tiles of at most MEMORY_MB (identify's --memory-mb), with
// the resident memory the streamed search adds.
// Usage: bench_identify [N=100000] [C=128] [P=64] [REPEATS=3] [MEMORY_MB=1024] [FILE]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/random.h"
#include "pipeline/gallery.h"

using namespace rmgait;

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 100000,
                c = argc > 2 ? std::atoll(argv[2]) : 128, p = argc > 3 ? std::atoll(argv[3]) : 64;
  const int repeats = argc > 4 ? std::atoi(argv[4]) : 3;
  const int64_t memory_mb = argc > 5 ? std::atoll(argv[5]) : 1024;
  const std::string file = argc > 6 ? argv[6] : "/tmp/rmgait_bench_gallery.safetensors";
  const Tensor query = [&] {
    Generator g(2);
    return randn({c, p}, g);
  }();
  auto median = [&](const auto& search) {
    std::vector<double> s;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      if (search().size() != 5) std::exit(1);
      s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(s.begin(), s.end());
    return s[s.size() / 2];
  };
  const double gb = double(n) * double(c * p) * 4 / 1e9;
  {
    Generator g(1);
    pipeline::Gallery gallery;
    gallery.embeddings = randn({n, c, p}, g);
    for (int64_t i = 0; i < n; ++i) {
      gallery.labels.push_back(std::to_string(i / 10));  // ten sequences per identity
      gallery.sources.push_back(std::to_string(i));
    }
    gallery.model = "bench";
    const double s = median([&] { return pipeline::nearest_identities(gallery, query, 5); });
    std::printf(
        "identify, in memory: 1 query against %lld entries of [%lld, %lld] (%.2f GB): "
        "%.3f s (median of %d)\n",
        static_cast<long long>(n), static_cast<long long>(c), static_cast<long long>(p), gb, s,
        repeats);
    pipeline::save_gallery(file, gallery);
  }
  // the streamed search, in a process whose gallery in memory is gone (freed above)
  auto rss_kib = [](const char* field) {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind(field, 0) == 0) return std::atoll(line.c_str() + std::strlen(field));
    return 0ll;
  };
  { std::ofstream("/proc/self/clear_refs") << "5"; }  // the peak (VmHWM) restarts from here
  const long long before = rss_kib("VmRSS:");
  const pipeline::GalleryFile f = pipeline::open_gallery(file);
  const double s =
      median([&] { return pipeline::nearest_identities(f, query, 5, memory_mb << 20); });
  std::printf(
      "identify, streamed from %s (page cache) in tiles of %lld MiB: %.3f s (median of "
      "%d), resident memory +%.1f MiB at its peak\n",
      file.c_str(), static_cast<long long>(memory_mb), s, repeats,
      double(rss_kib("VmHWM:") - before) / 1024);
  std::filesystem::remove(file);
}
