#include "pipeline/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/image_io.h"
#include "data/loader.h"
#include "data/packed.h"
#include "data/protocol.h"
#include "engine/atomic_file.h"
#include "engine/error.h"
#include "formats/safetensors.h"
#include "pipeline/config.h"

namespace rmgait::pipeline {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Run {
  std::string dir, name, config;
  std::vector<json> log;  // one object per logged step
  json eval;              // null when the run has no eval.json
};

const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

std::string esc(const std::string& s) {  // text and attribute values in HTML / SVG
  std::string o;
  for (char c : s) {
    if (c == '&')
      o += "&amp;";
    else if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '"')
      o += "&quot;";
    else
      o += c;
  }
  return o;
}

std::string num(double v, const char* fmt = "%.6g") {
  char b[64];
  std::snprintf(b, sizeof b, fmt, v);
  return b;
}

Run read_run(const std::string& dir) {
  Run r;
  r.dir = dir;
  r.name = fs::path(dir).lexically_normal().filename().string();
  if (r.name.empty()) r.name = fs::path(dir).lexically_normal().parent_path().filename().string();
  const fs::path log = fs::path(dir) / "log.jsonl";
  std::ifstream f(log);
  RM_CHECK(f, log.string(), ": cannot open (not a training run directory?)");
  std::string line;
  for (int n = 1; std::getline(f, line); ++n) {
    if (line.empty()) continue;
    try {
      r.log.push_back(json::parse(line));
    } catch (const json::exception& e) {
      RM_FAIL(log.string(), ": line ", n, " is not JSON: ", e.what());
    }
    RM_CHECK(r.log.back().contains("iter"), log.string(), ": line ", n, " has no 'iter'");
  }
  const fs::path ev = fs::path(dir) / "eval.json";
  if (fs::exists(ev)) {
    try {
      r.eval = json::parse(std::ifstream(ev));
    } catch (const json::exception& e) {
      RM_FAIL(ev.string(), ": not JSON: ", e.what());
    }
  }
  const fs::path ck = fs::path(dir) / "latest.safetensors";
  if (fs::exists(ck)) {
    auto meta = formats::load_safetensors(ck.string()).metadata;
    if (meta.count("config")) r.config = meta["config"];
  }
  return r;
}

// Axis ticks a person reads at a glance: steps of 1, 2 or 5 times a power of ten, at most
// `most` + 1 of them, and the axis widened to whole steps around [lo, hi].
struct Ticks {
  double first, step;
  int count;
  int decimals;  // for the labels
};
Ticks nice_ticks(double lo, double hi, int most = 6) {
  const double raw = (hi - lo) / most;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * p;
  for (double m : {1.0, 2.0, 5.0})
    if (m * p >= raw * (1 - 1e-9)) {
      step = m * p;
      break;
    }
  const double first = std::floor(lo / step + 1e-9) * step;
  const double last = std::ceil(hi / step - 1e-9) * step;
  return {first, step, int(std::lround((last - first) / step)) + 1,
          std::max(0, -int(std::floor(std::log10(step) + 1e-9)))};
}
std::string tick_label(double v, const Ticks& t) {
  char b[32];
  if (std::fabs(v) < t.step * 1e-6) return "0";
  if (std::fabs(v) < 1e-2 || std::fabs(v) >= 1e6) {  // learning rates: 1e-04, 1.5e-04
    const int digits = int(std::floor(std::log10(std::fabs(v)) + 1e-9)) -
                       int(std::floor(std::log10(t.step) + 1e-9));
    std::snprintf(b, sizeof b, "%.*e", std::max(0, digits), v);
  } else {
    std::snprintf(b, sizeof b, "%.*f", t.decimals, v);
  }
  return b;
}

// A line chart of one logged metric against iteration, one polyline per run. The learning rate
// is drawn as the step function it is: it changes right after the last step logged before a
// milestone.
std::string curve_svg(const std::string& metric, const std::string& title,
                      const std::vector<Run>& runs) {
  const double W = 560, H = 260, L = 64, R = 16, T = 28, B = 36;
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  for (const Run& r : runs)
    for (const json& j : r.log)
      if (j.contains(metric) && j[metric].is_number()) {
        x0 = std::min(x0, j["iter"].get<double>()), x1 = std::max(x1, j["iter"].get<double>());
        y0 = std::min(y0, j[metric].get<double>()), y1 = std::max(y1, j[metric].get<double>());
      }
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure curve-chart\" data-metric=\""
    << metric << "\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W << " " << H
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n<text x=\"" << W / 2 << "\" y=\"16\" "
    << "text-anchor=\"middle\" font-size=\"13\">" << esc(title) << "</text>\n";
  if (x0 > x1)
    return s.str() + "<text x=\"" + num(W / 2) + "\" y=\"" + num(H / 2) +
           "\" text-anchor=\"middle\">not logged</text>\n</svg>\n";
  if (metric == "lr") y0 = std::min(y0, 0.0);  // a rate's steps read against zero
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + (y0 == 0 ? 1 : std::fabs(y0) * 0.1);
  const Ticks xt = nice_ticks(x0, x1), yt = nice_ticks(y0, y1);
  x0 = xt.first, x1 = xt.first + xt.step * (xt.count - 1);
  y0 = yt.first, y1 = yt.first + yt.step * (yt.count - 1);
  auto X = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto Y = [&](double y) { return H - B - (y - y0) / (y1 - y0) * (H - T - B); };
  s << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\""
    << H - T - B << "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (int i = 0; i < xt.count; ++i) {
    const double v = xt.first + xt.step * i;
    s << "<text class=\"tick x\" x=\"" << X(v) << "\" y=\"" << H - B + 14
      << "\" text-anchor=\"middle\">" << tick_label(v, xt) << "</text>\n";
  }
  for (int i = 0; i < yt.count; ++i) {
    const double v = yt.first + yt.step * i;
    s << "<line x1=\"" << L << "\" x2=\"" << W - R << "\" y1=\"" << Y(v) << "\" y2=\"" << Y(v)
      << "\" stroke=\"#eee\"/>\n<text class=\"tick y\" x=\"" << L - 4 << "\" y=\"" << Y(v) + 4
      << "\" text-anchor=\"end\">" << tick_label(v, yt) << "</text>\n";
  }
  s << "<text x=\"" << L + (W - L - R) / 2 << "\" y=\"" << H - 4
    << "\" text-anchor=\"middle\">iteration</text>\n";
  for (size_t k = 0; k < runs.size(); ++k) {
    s << "<polyline class=\"curve\" data-run=\"" << esc(runs[k].name) << "\" data-metric=\""
      << metric << "\" fill=\"none\" stroke=\"" << kColors[k % 6] << "\" stroke-width=\"1.5\" "
      << "points=\"";
    bool started = false;
    double last_x = 0;
    for (const json& j : runs[k].log)
      if (j.contains(metric) && j[metric].is_number()) {
        const double x = X(j["iter"].get<double>()), y = Y(j[metric].get<double>());
        if (metric == "lr" && started) s << num(last_x, "%.2f") << "," << num(y, "%.2f") << " ";
        s << num(x, "%.2f") << "," << num(y, "%.2f") << " ";
        started = true, last_x = x;
      }
    s << "\"/>\n<text x=\"" << W - R - 4 << "\" y=\"" << T + 14 + 14 * k
      << "\" text-anchor=\"end\" "
      << "fill=\"" << kColors[k % 6] << "\">" << esc(runs[k].name) << "</text>\n";
  }
  return s.str() + "</svg>\n";
}

// Colour of an accuracy in [0, 100]: white -> blue.
std::string heat(double v) {
  const double t = std::clamp(v / 100.0, 0.0, 1.0);
  char b[16];
  std::snprintf(b, sizeof b, "#%02x%02x%02x", int(255 - 225 * t), int(255 - 155 * t),
                int(255 - 75 * t));
  return b;
}

// Probe view (rows) x gallery view (columns) accuracies of one condition.
std::string heatmap_svg(const Run& r, const std::string& cond) {
  const json& views = r.eval["views"];
  const json& pairs = r.eval["pairs"][cond];
  const int n = int(views.size()), cell = 34, L = 44, T = 40;
  const int W = L + n * cell + 10, H = T + n * cell + 30;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure heatmap\" data-run=\""
    << esc(r.name) << "\" data-cond=\"" << cond << "\" width=\"" << W << "\" height=\"" << H
    << "\" viewBox=\"0 0 " << W << " " << H << "\" font-family=\"sans-serif\" font-size=\"9\">\n"
    << "<text x=\"" << W / 2 << "\" y=\"14\" text-anchor=\"middle\" font-size=\"12\">"
    << esc(r.name) << ": " << cond << " probes (rows) x gallery views (columns), rank-1 %</text>\n";
  for (int i = 0; i < n; ++i) {
    const std::string v = views[i].get<std::string>();
    s << "<text x=\"" << L + i * cell + cell / 2 << "\" y=\"" << T - 4
      << "\" text-anchor=\"middle\">" << esc(v) << "</text>\n<text x=\"" << L - 4 << "\" y=\""
      << T + i * cell + cell / 2 + 3 << "\" text-anchor=\"end\">" << esc(v) << "</text>\n";
  }
  for (int p = 0; p < n; ++p)
    for (int g = 0; g < n; ++g) {
      const json& v = pairs[p][g];
      const int x = L + g * cell, y = T + p * cell;
      const bool same = p == g, none = v.is_null();
      s << "<rect class=\"cell" << (same ? " same-view" : "") << "\" data-cond=\"" << cond
        << "\" data-probe=\"" << esc(views[p].get<std::string>()) << "\" data-gallery=\""
        << esc(views[g].get<std::string>()) << "\" data-value=\""
        << (none ? "" : num(v.get<double>(), "%.17g")) << "\" x=\"" << x << "\" y=\"" << y
        << "\" width=\"" << cell << "\" height=\"" << cell << "\" fill=\""
        << (none ? (same ? "#bbb" : "#eee") : heat(v.get<double>())) << "\" stroke=\"#fff\"/>\n";
      if (same)  // identical views are excluded from rank-1: marked with a cross
        s << "<path d=\"M" << x + 8 << " " << y + 8 << "L" << x + cell - 8 << " " << y + cell - 8
          << "M" << x + cell - 8 << " " << y + 8 << "L" << x + 8 << " " << y + cell - 8
          << "\" stroke=\"#666\"/>\n";
      else if (!none)
        s << "<text x=\"" << x + cell / 2 << "\" y=\"" << y + cell / 2 + 3
          << "\" text-anchor=\"middle\">" << num(v.get<double>(), "%.0f") << "</text>\n";
    }
  s << "<text x=\"" << L << "\" y=\"" << H - 8 << "\">crossed: identical views, excluded; grey: "
    << "no probes or no gallery</text>\n</svg>\n";
  return s.str();
}

// The conditions of an eval.json section in the paper's order (NM, BG, CL), then any others.
std::vector<std::string> conditions(const json& section) {
  std::vector<std::string> out;
  for (const char* c : {"nm", "bg", "cl"})
    if (section.contains(c)) out.push_back(c);
  for (auto& [c, v] : section.items())
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  return out;
}

std::string cell_text(const json& v) {
  return v.is_null() ? "-" : num(v.get<double>(), "%.2f");
}

// The paper's Table 1 layout: conditions x probe views, and the mean.
std::string rank1_table(const Run& r) {
  std::ostringstream s;
  s << "<table class=\"rank1\"><tr><th>probe</th>";
  for (const json& v : r.eval["views"]) s << "<th>" << esc(v.get<std::string>()) << "</th>";
  s << "<th>mean</th></tr>\n";
  for (const std::string& cond : conditions(r.eval["rank1"])) {
    const json& row = r.eval["rank1"][cond];
    s << "<tr><th>" << esc(cond) << "</th>";
    for (const json& x : row["per_view"]) s << "<td>" << cell_text(x) << "</td>";
    s << "<td><b>" << cell_text(row["mean"]) << "</b></td></tr>\n";
  }
  return s.str() + "</table>\n";
}

// The paper's ablation layout: runs x condition means, and the difference to the first run.
std::string comparison_table(const std::vector<Run>& runs) {
  std::vector<std::string> conds;
  for (const Run& r : runs)
    if (!r.eval.is_null())
      for (const std::string& c : conditions(r.eval["rank1"]))
        if (std::find(conds.begin(), conds.end(), c) == conds.end()) conds.push_back(c);
  std::ostringstream s;
  s << "<table class=\"comparison\"><tr><th>run</th>";
  for (const std::string& c : conds) s << "<th>" << esc(c) << "</th>";
  s << "</tr>\n";
  const Run& base = runs.front();
  for (const Run& r : runs) {
    s << "<tr><th>" << esc(r.name) << "</th>";
    for (const std::string& c : conds) {
      if (r.eval.is_null() || !r.eval["rank1"].contains(c)) {
        s << "<td>-</td>";
        continue;
      }
      const json& m = r.eval["rank1"][c]["mean"];
      s << "<td>" << cell_text(m);
      if (&r != &base && !base.eval.is_null() && base.eval["rank1"].contains(c) && !m.is_null() &&
          !base.eval["rank1"][c]["mean"].is_null())
        s << " (" << num(m.get<double>() - base.eval["rank1"][c]["mean"].get<double>(), "%+.2f")
          << ")";
      s << "</td>";
    }
    s << "</tr>\n";
  }
  return s.str() + "</table>\n";
}

std::string base64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8 | uint8_t(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += t[(v >> k) & 63];
  }
  if (i < in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16 | (i + 1 < in.size() ? uint8_t(in[i + 1]) << 8 : 0);
    out += t[(v >> 18) & 63], out += t[(v >> 12) & 63];
    out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A strip of silhouettes from the run's training set: one training subject's first sequence of
// each condition (rows) in each view (columns), the middle frame. Empty when the configuration
// or the dataset is not at hand.
std::string preview_svg(const Run& r, std::string* png_out) {
  if (r.config.empty()) return "";
  TrainConfig cfg = parse_config(r.config, r.dir + " (configuration)");
  if (!fs::exists(cfg.dataset)) return "";
  data::PackedDataset ds(cfg.dataset);
  const data::Protocol proto = data::parse_protocol(cfg.protocol);
  std::string subject;
  for (const data::SequenceInfo& q : ds.table())
    if (data::is_training_subject(proto, q.subject) && (subject.empty() || q.subject < subject))
      subject = q.subject;
  if (subject.empty()) return "";
  std::vector<std::string> conds, views;
  std::map<std::pair<std::string, std::string>, size_t> pick;  // (condition, view) -> sequence
  for (size_t i = 0; i < ds.size(); ++i) {
    const data::SequenceInfo& q = ds.table()[i];
    if (q.subject != subject || q.frames == 0) continue;
    auto key = std::make_pair(q.condition, q.view);
    if (pick.count(key) && ds.table()[pick[key]].seq <= q.seq) continue;
    pick[key] = i;
    if (std::find(conds.begin(), conds.end(), q.condition) == conds.end())
      conds.push_back(q.condition);
    if (std::find(views.begin(), views.end(), q.view) == views.end()) views.push_back(q.view);
  }
  std::sort(views.begin(), views.end());
  std::vector<std::string> ordered;  // NM, BG, CL first
  for (const char* c : {"nm", "bg", "cl"})
    if (std::find(conds.begin(), conds.end(), c) != conds.end()) ordered.push_back(c);
  for (const std::string& c : conds)
    if (std::find(ordered.begin(), ordered.end(), c) == ordered.end()) ordered.push_back(c);
  const int fh = 64, fw = 44, gap = 2;
  const int W = int(views.size()) * (fw + gap), H = int(ordered.size()) * (fh + gap);
  std::vector<uint8_t> img(size_t(W) * H, 255);
  for (size_t ci = 0; ci < ordered.size(); ++ci)
    for (size_t vi = 0; vi < views.size(); ++vi) {
      auto it = pick.find({ordered[ci], views[vi]});
      if (it == pick.end()) continue;
      Tensor seq = data::load_sequence(ds, it->second);  // [1, T, 64, 44]
      const std::vector<float> f = seq.narrow(1, seq.size(1) / 2, 1).contiguous().to_vector();
      for (int y = 0; y < fh; ++y)
        for (int x = 0; x < fw; ++x)
          img[size_t(ci * (fh + gap) + y) * W + vi * (fw + gap) + x] =
              uint8_t(255 - 255 * std::clamp(f[size_t(y) * fw + x], 0.f, 1.f));
    }
  *png_out = data::encode_png(img.data(), W, H, 1);
  const int L = 30, T = 16;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"figure preview\" data-run=\""
    << esc(r.name) << "\" width=\"" << L + W << "\" height=\"" << T + H
    << "\" font-family=\"sans-serif\" font-size=\"10\">\n";
  for (size_t vi = 0; vi < views.size(); ++vi)
    s << "<text x=\"" << L + vi * (fw + gap) + fw / 2 << "\" y=\"11\" text-anchor=\"middle\">"
      << esc(views[vi]) << "</text>\n";
  for (size_t ci = 0; ci < ordered.size(); ++ci)
    s << "<text x=\"2\" y=\"" << T + ci * (fh + gap) + fh / 2 << "\">" << esc(ordered[ci])
      << "</text>\n";
  s << "<image x=\"" << L << "\" y=\"" << T << "\" width=\"" << W << "\" height=\"" << H
    << "\" href=\"data:image/png;base64," << base64(*png_out) << "\"/>\n</svg>\n";
  return s.str();
}

std::string safe_name(const std::string& s) {
  std::string o;
  for (char c : s) o += std::isalnum(uint8_t(c)) || c == '-' || c == '_' ? c : '_';
  return o;
}

}  // namespace

ReportFiles write_report(const std::vector<std::string>& run_dirs, const std::string& out) {
  RM_CHECK(!run_dirs.empty(), "report: give at least one run directory");
  const std::string out_html = !out.empty() ? out
                               : run_dirs.size() == 1
                                   ? (fs::path(run_dirs[0]) / "report.html").string()
                                   : "report.html";
  std::vector<Run> runs;
  for (const std::string& d : run_dirs) runs.push_back(read_run(d));
  const fs::path figdir =
      fs::path(out_html).parent_path() / (fs::path(out_html).stem().string() + "_figures");
  fs::create_directories(figdir);
  auto figure = [&](const std::string& name, const std::string& svg) {
    write_file_atomically((figdir / (name + ".svg")).string(), [&](std::ostream& o) { o << svg; });
    return svg;
  };
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>rmgait report</title>\n"
    << "<style>body{font-family:sans-serif;margin:24px;max-width:1200px}"
    << "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 7px;"
    << "text-align:right}pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:320px}"
    << "svg{margin:6px}</style></head>\n<body>\n<h1>rmgait report</h1>\n<p>runs: ";
  for (const Run& r : runs) h << "<code>" << esc(r.dir) << "</code> ";
  h << "</p>\n";
  if (runs.size() > 1)
    h << "<h2>Comparison (rank-1 %, mean over probe views)</h2>\n" << comparison_table(runs);
  h << "<h2>Training curves</h2>\n<div class=\"curves\">\n";
  const std::pair<const char*, const char*> metrics[] = {{"triplet", "triplet loss"},
                                                         {"ce", "cross entropy"},
                                                         {"nonzero", "triplet non-zero fraction"},
                                                         {"acc", "training accuracy"},
                                                         {"lr", "learning rate"}};
  for (auto [m, title] : metrics) h << figure(std::string("curve_") + m, curve_svg(m, title, runs));
  h << "</div>\n";
  for (const Run& r : runs) {
    h << "<h2>" << esc(r.name) << "</h2>\n";
    if (r.eval.is_null()) {
      h << "<p>no eval.json in this run</p>\n";
    } else {
      h << "<h3>Rank-1 (%), excluding identical views</h3>\n" << rank1_table(r);
      if (r.eval.contains("pairs")) {
        h << "<h3>Probe view x gallery view</h3>\n<div class=\"heatmaps\">\n";
        for (const std::string& cond : conditions(r.eval["pairs"]))
          h << figure("heatmap_" + safe_name(r.name) + "_" + safe_name(cond), heatmap_svg(r, cond));
        h << "</div>\n";
      }
    }
    std::string png;
    const std::string preview = preview_svg(r, &png);
    if (!preview.empty()) {
      h << "<h3>Training set preview (one subject, first sequence per condition and view)</h3>\n"
        << figure("preview_" + safe_name(r.name), preview);
      write_file_atomically((figdir / ("preview_" + safe_name(r.name) + ".png")).string(),
                            [&](std::ostream& o) { o << png; });
    }
    if (!r.config.empty())
      h << "<h3>Configuration</h3>\n<pre class=\"config\">" << esc(r.config) << "</pre>\n";
  }
  h << "</body></html>\n";
  write_file_atomically(out_html, [&](std::ostream& o) { o << h.str(); });
  return {out_html, figdir.string()};
}

}  // namespace rmgait::pipeline
