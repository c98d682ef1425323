#pragma once
// Cross-view rank-1 evaluation (docs/protocol.md), as OpenGait's evaluator computes it:
// for each probe condition, probe view v and gallery view g != v, rank-1 = share of the probes of
// view v whose nearest gallery sequence of view g has the same subject, in percent rounded to 2
// decimals; a probe view's entry = mean over g != v; a condition's score = mean over probe views.
#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace rmgait::gait {

struct EvalSample {
  std::string subject, view;
  bool gallery = false;
  std::string probe_condition;  // "" when not a probe
};

enum class Distance { per_part_mean, flattened };
Distance parse_distance(const std::string& s);  // "per_part" or "flattened", else an error
const char* distance_name(Distance d);

struct EvalTiles {
  int64_t probes = 0, gallery = 0;
};

struct EvalTable {
  std::vector<std::string> conditions, views;           // row and column order
  std::map<std::string, std::vector<double>> per_view;  // condition -> per probe view (NaN: none)
  std::map<std::string, double> mean;                   // condition -> mean over probe views
  // The same with probes whose subject has no gallery sequence in that gallery view left out
  // (OU-MVLP's "excluding invalid probes" figure; equal to the above when every probe is valid).
  std::map<std::string, std::vector<double>> per_view_valid;
  std::map<std::string, double> mean_valid;
  // acc[condition][probe view][gallery view], NaN where undefined (same view or no samples)
  std::map<std::string, std::vector<std::vector<double>>> pairs;
  EvalTiles tiles;  // how the distance matrix was cut
};

// Pairwise distances [Nq, Ng] between embeddings [N, C, P], the whole matrix at once.
Tensor pairwise_distance(const Tensor& query, const Tensor& gallery, Distance kind);

// The evaluator's own memory (beyond the embeddings it is given) stays under this bound.
constexpr int64_t kDefaultEvalMemoryBytes = int64_t(1) << 30;

// Probes and gallery sequences per tile of the distance matrix for [C, P] embeddings, so that
// one tile's buffers plus `fixed_bytes` fit in `memory_bytes`; fails naming the bound when not
// even a 1 x 1 tile fits.
EvalTiles eval_tiles(int64_t channels, int64_t parts, int64_t num_probes, int64_t num_gallery,
                     int64_t fixed_bytes, int64_t memory_bytes);

// embeddings [N, C, P] for the samples, in the same order. Distances are computed tile by tile
// (probes x gallery sequences) and reduced to each probe's nearest gallery sequence per view as
// they come, so memory stays under `memory_bytes` whatever the test set; the result does not
// depend on the tiling.
EvalTable rank1_excluding_identical_view(const Tensor& embeddings,
                                         const std::vector<EvalSample>& samples,
                                         Distance kind = Distance::per_part_mean,
                                         int64_t memory_bytes = kDefaultEvalMemoryBytes);

// x rounded to 2 decimals as NumPy's round(x, 2) (OpenGait's): rint(x * 100) / 100, ties to even
// (62.5 / 100 -> 0.62, as x * 100 = 62.5 exactly). Every accuracy cell is rounded so.
double round2(double x);

// A fixed-width text table: one row per condition, one column per probe view, then the mean.
std::string format_table(const EvalTable& t, bool valid_only = false);

}  // namespace rmgait::gait
