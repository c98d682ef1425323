#include "pipeline/job_facts.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/error.h"

namespace rmgait::pipeline {

namespace {

// FNV-1a, 64 bits: a fingerprint to tell files apart, not a cryptographic hash.
struct Fnv {
  uint64_t h = 0xcbf29ce484222325ull;
  void add(const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 0x100000001b3ull;
  }
  void add(const std::string& s) { add(s.data(), s.size() + 1); }
  std::string hex() const {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
    return buf;
  }
};

// "N bytes, fingerprint F" of a whole file (checkpoints: megabytes, read once per rank anyway).
std::string file_fingerprint(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  RM_CHECK(f, path, ": cannot open");
  Fnv h;
  std::vector<char> buf(1 << 20);
  uint64_t n = 0;
  while (f.read(buf.data(), std::streamsize(buf.size())) || f.gcount() > 0) {
    h.add(buf.data(), size_t(f.gcount()));
    n += uint64_t(f.gcount());
  }
  return std::to_string(n) + " bytes, fingerprint " + h.hex();
}

// What a packed dataset holds, from its table (every sequence's name, frame count and place) and
// its size: equal for copies of one dataset wherever they lie.
std::string dataset_fingerprint(const data::PackedDataset& ds) {
  Fnv h;
  for (const data::SequenceInfo& s : ds.table()) {
    h.add(s.name());
    h.add(&s.frames, sizeof s.frames);
    h.add(&s.offset, sizeof s.offset);
  }
  return std::to_string(ds.size()) + " sequences of " + std::to_string(ds.height()) + "x" +
         std::to_string(ds.width()) + ", " + std::to_string(std::filesystem::file_size(ds.path())) +
         " bytes, fingerprint " + h.hex();
}

}  // namespace

std::vector<DataParallel::Fact> training_job_facts(const TrainConfig& cfg,
                                                   const data::PackedDataset& ds,
                                                   const std::string& resume,
                                                   const std::string& weights, Device device) {
  std::vector<DataParallel::Fact> facts;
  for (auto& [k, v] : effective_settings(cfg))
    if (k != "data_cfg.dataset" && k != "trainer_cfg.output_dir") facts.push_back({k, v, ""});
  facts.push_back({"the dataset", dataset_fingerprint(ds), cfg.dataset});
  facts.push_back({"--resume", resume.empty() ? "none" : file_fingerprint(resume), resume});
  facts.push_back(
      {"--resume-weights", weights.empty() ? "none" : file_fingerprint(weights), weights});
  facts.push_back({"--device", device_name(device), ""});
  facts.push_back({"rmgait", RMGAIT_VERSION, ""});
  return facts;
}

}  // namespace rmgait::pipeline
