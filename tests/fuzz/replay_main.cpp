// Replays inputs through a fuzz target without libFuzzer: every file given, or every file in the
// directories given, in name order. Exits non-zero on the first input that throws anything but
// rmgait::Error (a crash ends the process by itself), takes more than 1 s, or leaves the process's
// peak resident memory above 256 MiB (every input here is a few KB: a reader that allocates for
// what a file declares, not for what it holds, shows here).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    if (fs::is_directory(argv[i])) {
      for (const auto& e : fs::directory_iterator(argv[i]))
        if (e.is_regular_file()) inputs.push_back(e.path());
    } else if (fs::exists(argv[i])) {
      inputs.push_back(argv[i]);
    }
  }
  std::sort(inputs.begin(), inputs.end());
  constexpr double kMaxSeconds = 1.0, kMaxPeakMib = 256.0;
  double slowest = 0;
  for (const fs::path& p : inputs) {
    std::ifstream f(p, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto t0 = std::chrono::steady_clock::now();
    try {
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: uncaught %s\n", p.c_str(), e.what());
      return 1;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const double peak_mib = double(ru.ru_maxrss) / 1024.0;
    if (s > kMaxSeconds || peak_mib > kMaxPeakMib) {
      std::fprintf(stderr, "%s: %.2f s, peak resident %.0f MiB (limits %.0f s, %.0f MiB)\n",
                   p.c_str(), s, peak_mib, kMaxSeconds, kMaxPeakMib);
      return 1;
    }
    slowest = std::max(slowest, s);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("%zu inputs replayed, the slowest in %.3f s, peak resident %.0f MiB\n", inputs.size(),
              slowest, double(ru.ru_maxrss) / 1024.0);
  return 0;
}
