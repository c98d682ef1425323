#pragma once
// A training run's output folder (trainer_cfg.output_dir): log.jsonl, latest.safetensors,
// checkpoints/iter_NNNNNNN.safetensors, best.safetensors + best.json, eval.json / eval.csv. The
// housekeeping a run and its resumption need.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "gait/evaluator.h"

namespace rmgait::pipeline {

// Keeps the log's lines up to iteration `last` (a resumed run rewrites what came after its
// checkpoint), atomically; lines cut by a kill are dropped.
void truncate_log(const std::string& path, int64_t last);
// Removes the PATH.tmp files a killed run left in `dir` and dir/checkpoints.
void remove_stale_temporaries(const std::filesystem::path& dir);
// Of dir/iter_NNNNNNN.safetensors up to iteration `now`, keeps the newest `keep` (0: all).
// Later ones (left by a run that went further before the one resumed here) are left until this
// run passes them.
void rotate_checkpoints(const std::filesystem::path& dir, int64_t keep, int64_t now);

// The best evaluation of a run (best.json), by rank1_score.
struct BestEval {
  int64_t iteration = 0;
  double rank1_mean = 0;
};
std::optional<BestEval> read_best(const std::filesystem::path& json);  // nullopt: no file
void write_best(const std::filesystem::path& json, const BestEval& best);
// The mean over probe conditions of their mean rank-1 (CASIA-B: NM, BG, CL).
double rank1_score(const gait::EvalTable& t);

// Resident memory of this process now (/proc/self/status; -1 where unknown), in MiB: all of it,
// and the anonymous part, its own allocations (the rest is mapped files: the packed dataset's
// pages, which the kernel may drop at any time, and the program's code).
struct Resident {
  double rss_mib = -1, anon_mib = -1;
};
Resident resident();

}  // namespace rmgait::pipeline
