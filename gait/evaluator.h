#pragma once
// Cross-view rank-1 evaluation (shared/spec/protocol.md), as OpenGait's evaluator computes it:
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
};

// Pairwise distances [Nq, Ng] between embeddings [N, C, P].
Tensor pairwise_distance(const Tensor& query, const Tensor& gallery, Distance kind);

// embeddings [N, C, P] for the samples, in the same order.
EvalTable rank1_excluding_identical_view(const Tensor& embeddings,
                                         const std::vector<EvalSample>& samples,
                                         Distance kind = Distance::per_part_mean);

// A fixed-width text table: one row per condition, one column per probe view, then the mean.
std::string format_table(const EvalTable& t, bool valid_only = false);

}  // namespace rmgait::gait
