// compare_runs RUN_A RUN_B RTOL: compares two `rmgait train` output directories (the
// data-parallel tests: N ranks against one process).
// - latest.safetensors: the same tensors (names, shapes, dtypes), integers exactly; the model's
//   f32 parameters and buffers, as one vector, within RTOL in relative L2 norm |a - b| / |a|.
//   RTOL 0: every tensor (optimizer state included) bit for bit.
//   The worst single tensor, the largest element-wise difference (relative to the tensor's
//   max |a|) and the optimizer state's are printed, not checked: a small tensor that sums a
//   whole batch (the stem's 108 weights) carries the rounding of that sum in another order, and
//   Adam divides each gradient by its own magnitude, so an element whose gradient is at the
//   rounding floor moves by up to lr either way. One process on 1 and on 2 threads differs so too.
// - log.jsonl: the same iterations; triplet, ce, nonzero, acc and mean_dist within RTOL.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/error.h"
#include "formats/safetensors.h"

namespace {

using namespace rmgait;

bool compare_checkpoints(const std::string& pa, const std::string& pb, double rtol) {
  formats::SafetensorsFile a = formats::load_safetensors(pa), b = formats::load_safetensors(pb);
  RM_CHECK(a.tensors.size() == b.tensors.size(), pa, ": ", a.tensors.size(), " tensors, ", pb, ": ",
           b.tensors.size());
  double worst = 0, worst_elem = 0, worst_opt = 0, all_diff2 = 0, all_norm2 = 0;
  size_t differing = 0;  // tensors whose bytes differ
  bool integers_differ = false;
  std::string worst_name, worst_opt_name;
  for (const auto& [name, ta] : a.tensors) {
    auto it = b.tensors.find(name);
    RM_CHECK(it != b.tensors.end(), name, ": only in ", pa);
    const Tensor& tb = it->second;
    RM_CHECK(ta.shape() == tb.shape() && ta.dtype() == tb.dtype(), name, ": ",
             shape_str(ta.shape()), " ", dtype_name(ta.dtype()), " against ", shape_str(tb.shape()),
             " ", dtype_name(tb.dtype()));
    // RTOL 0 means the same run to the last digit: every tensor's bytes, the optimizer's and
    // the integers' included
    const size_t nbytes = size_t(ta.numel()) * dtype_size(ta.dtype());
    if (std::memcmp(ta.raw_data(), tb.raw_data(), nbytes) != 0) ++differing;
    double rel = 0, elem = 0, diff2 = 0, norm2 = 0;
    if (ta.dtype() == DType::f32) {
      const float *x = ta.data<float>(), *y = tb.data<float>();
      double diff_max = 0, max = 1e-12;
      for (int64_t i = 0; i < ta.numel(); ++i) {
        const double d = double(x[i]) - double(y[i]);
        diff2 += d * d, norm2 += double(x[i]) * x[i];
        diff_max = std::max(diff_max, std::fabs(d)), max = std::max(max, std::fabs(double(x[i])));
      }
      rel = std::sqrt(diff2) / std::max(std::sqrt(norm2), 1e-12), elem = diff_max / max;
    } else if (ta.dtype() == DType::i64) {
      for (int64_t i = 0; i < ta.numel(); ++i)
        if (ta.data<int64_t>()[i] != tb.data<int64_t>()[i]) rel = elem = INFINITY;
      if (rel > 0) integers_differ = true;
    }
    if (name.rfind("optimizer/", 0) == 0) {
      if (rel >= worst_opt) worst_opt = rel, worst_opt_name = name;
      continue;
    }
    if (rel >= worst) worst = rel, worst_name = name;
    worst_elem = std::max(worst_elem, elem);
    all_diff2 += diff2, all_norm2 += norm2;
  }
  const double all = std::sqrt(all_diff2) / std::max(std::sqrt(all_norm2), 1e-12);
  std::printf(
      "parameters: relative difference %.3g (tolerance %.3g); worst tensor %.3g (%s), "
      "largest element-wise %.3g; optimizer state %.3g (%s); %zu of %zu tensors differ in any "
      "bit\n",
      all, rtol, worst, worst_name.c_str(), worst_elem, worst_opt, worst_opt_name.c_str(),
      differing, a.tensors.size());
  if (integers_differ) std::printf("integer tensors differ\n");
  return !integers_differ && (rtol == 0 ? differing == 0 : all <= rtol);
}

std::vector<nlohmann::json> read_lines(const std::string& path) {
  std::ifstream f(path);
  RM_CHECK(f, path, ": cannot open");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(f, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

bool compare_logs(const std::string& pa, const std::string& pb, double rtol) {
  auto a = read_lines(pa), b = read_lines(pb);
  RM_CHECK(a.size() == b.size() && !a.empty(), pa, ": ", a.size(), " lines, ", pb, ": ", b.size());
  double worst = 0;
  std::string what;
  for (size_t i = 0; i < a.size(); ++i) {
    RM_CHECK(a[i]["iter"] == b[i]["iter"], pa, " line ", i + 1, ": iterations differ");
    for (const char* key : {"triplet", "ce", "nonzero", "acc", "mean_dist", "lr"}) {
      const double x = a[i][key], y = b[i][key];
      const double rel = std::fabs(x - y) / std::max(std::fabs(x), 1e-12);
      if (rel >= worst)
        worst = rel, what = std::string(key) + " at iteration " + a[i]["iter"].dump();
    }
  }
  std::printf("losses: %zu iterations, largest relative difference %.3g (%s)\n", a.size(), worst,
              what.c_str());
  return worst <= rtol;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s RUN_A RUN_B RTOL\n", argv[0]);
    return 2;
  }
  try {
    namespace fs = std::filesystem;
    const fs::path a = argv[1], b = argv[2];
    const double rtol = std::atof(argv[3]);
    bool ok = compare_logs((a / "log.jsonl").string(), (b / "log.jsonl").string(), rtol);
    ok = compare_checkpoints((a / "latest.safetensors").string(),
                             (b / "latest.safetensors").string(), rtol) &&
         ok;
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "compare_runs: %s\n", e.what());
    return 2;
  }
}
