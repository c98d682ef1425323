#include "pipeline/run_dir.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "engine/atomic_file.h"
#include "engine/error.h"

namespace rmgait::pipeline {

void truncate_log(const std::string& path, int64_t last) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("iter")) continue;  // a line cut by a kill
    if (j["iter"].get<int64_t>() <= last) kept += line + "\n";
  }
  in.close();
  write_file_atomically(path, [&](std::ostream& f) { f << kept; });
}

void remove_stale_temporaries(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  for (const fs::path& d : {dir, dir / "checkpoints"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.path().extension() == ".tmp") fs::remove(e.path(), ec);
  }
}

void rotate_checkpoints(const std::filesystem::path& dir, int64_t keep, int64_t now) {
  namespace fs = std::filesystem;
  if (keep <= 0) return;
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    const std::string digits = n.size() > 17 ? n.substr(5, n.size() - 17) : "";
    if (n.rfind("iter_", 0) != 0 || e.path().extension() != ".safetensors" || digits.empty() ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const int64_t it = std::stoll(digits);
    if (it <= now) found.emplace_back(it, e.path());
  }
  std::sort(found.begin(), found.end());
  for (size_t i = 0; i + size_t(keep) < found.size(); ++i) {
    fs::remove(found[i].second, ec);
    RM_CHECK(!ec, found[i].second.string(), ": cannot remove an old checkpoint (", ec.message(),
             ")");
  }
}

std::optional<BestEval> read_best(const std::filesystem::path& json) {
  if (!std::filesystem::exists(json)) return std::nullopt;
  std::ifstream in(json);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  RM_CHECK(j.is_object() && j.contains("iter") && j["iter"].is_number_integer() &&
               j.contains("rank1_mean") && j["rank1_mean"].is_number(),
           json.string(), ": expected {\"iter\": N, \"rank1_mean\": X}");
  return BestEval{j["iter"].get<int64_t>(), j["rank1_mean"].get<double>()};
}

void write_best(const std::filesystem::path& json, const BestEval& best) {
  write_file_atomically(json.string(), [&](std::ostream& f) {
    f << nlohmann::json{{"iter", best.iteration}, {"rank1_mean", best.rank1_mean}}.dump() << "\n";
  });
}

double rank1_score(const gait::EvalTable& t) {
  double sum = 0;
  for (const std::string& c : t.conditions) sum += t.mean.at(c);
  return t.conditions.empty() ? 0 : sum / double(t.conditions.size());
}

Resident resident() {
  Resident r;
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);) {
    const bool rss = line.rfind("VmRSS:", 0) == 0, anon = line.rfind("RssAnon:", 0) == 0;
    if (rss || anon)
      (rss ? r.rss_mib : r.anon_mib) = std::stod(line.substr(line.find(':') + 1)) / 1024;
  }
  return r;
}

}  // namespace rmgait::pipeline
