#pragma once
// `rmgait report RUN_DIR... --out report.html`: one self-contained HTML page (inline SVG, no
// scripts, no network) of training runs, and the same figures as separate SVG files beside it
// (OUT's stem + "_figures/"): each run's configuration; training curves from log.jsonl (triplet
// loss, cross entropy, triplet non-zero fraction, training accuracy, learning rate; runs
// overlaid); the rank-1 table in the paper's Table 1 layout; probe-view x gallery-view heatmaps
// per condition from eval.json's per-pair accuracies (identical views marked); with several runs,
// a comparison in the layout of the paper's ablation tables; a preview of the training set (a
// strip of silhouettes per condition and view, from the dataset the run's configuration names).
// Heatmap cells and curves carry their data (data-value, points) so that tests and scripts can read
// them back.
#include <string>
#include <vector>

namespace rmgait::pipeline {

// out_html "": RUN_DIR/report.html for one run, report.html for several. Returns what it wrote.
struct ReportFiles {
  std::string html, figures;  // the page, and the folder of its figures as SVG files
};
ReportFiles write_report(const std::vector<std::string>& run_dirs,
                         const std::string& out_html = "");

}  // namespace rmgait::pipeline
