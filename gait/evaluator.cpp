#include "gait/evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::gait {

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean_defined(const std::vector<double>& v) {
  double s = 0;
  int n = 0;
  for (double x : v)
    if (!std::isnan(x)) s += x, ++n;
  return n ? s / n : kNaN;
}

double round2(double x) {
  return std::round(x * 100.0) / 100.0;
}
}  // namespace

Tensor pairwise_distance(const Tensor& q, const Tensor& g, Distance kind) {
  NoGradGuard ng;
  RM_CHECK(q.dim() == 3 && g.dim() == 3 && q.size(1) == g.size(1) && q.size(2) == g.size(2),
           "pairwise_distance: embeddings ", shape_str(q.shape()), " and ", shape_str(g.shape()),
           " must both be [N, C, P] with equal C and P");
  Tensor x = kind == Distance::flattened ? q.reshape({q.size(0), -1, 1}) : q;
  Tensor y = kind == Distance::flattened ? g.reshape({g.size(0), -1, 1}) : g;
  x = x.permute({2, 0, 1}).contiguous();  // [P, Nq, C]
  y = y.permute({2, 0, 1}).contiguous();  // [P, Ng, C]
  Tensor x2 = sum(mul(x, x), {2}, true), y2 = sum(mul(y, y), {2}, true).transpose(1, 2);
  Tensor d = sqrt(relu(sub(add(x2, y2), mul(matmul(x, y, false, true), 2.f))));
  return mean(d, {0});  // mean over parts
}

EvalTable rank1_excluding_identical_view(const Tensor& emb, const std::vector<EvalSample>& samples,
                                         Distance kind) {
  RM_CHECK(emb.dim() == 3 && emb.size(0) == int64_t(samples.size()), "evaluate: ", samples.size(),
           " samples for embeddings ", shape_str(emb.shape()));
  EvalTable t;
  std::set<std::string> views, conds;
  std::vector<int64_t> gal, prb;
  for (size_t i = 0; i < samples.size(); ++i) {
    views.insert(samples[i].view);
    if (samples[i].gallery) gal.push_back(int64_t(i));
    if (!samples[i].probe_condition.empty()) {
      prb.push_back(int64_t(i));
      conds.insert(samples[i].probe_condition);
    }
  }
  RM_CHECK(!gal.empty() && !prb.empty(), "evaluate: ", gal.size(), " gallery and ", prb.size(),
           " probe sequences; both are needed");
  t.views.assign(views.begin(), views.end());
  for (const char* c : {"nm", "bg", "cl", "all"})
    if (conds.count(c)) t.conditions.push_back(c);
  for (const auto& c : conds)
    if (std::find(t.conditions.begin(), t.conditions.end(), c) == t.conditions.end())
      t.conditions.push_back(c);
  auto pick = [&](const std::vector<int64_t>& idx) {
    Tensor i = Tensor::empty({int64_t(idx.size())}, DType::i64);
    std::copy(idx.begin(), idx.end(), i.data<int64_t>());
    return index_select(emb.detach(), 0, i);
  };
  std::vector<float> dist = pairwise_distance(pick(prb), pick(gal), kind).to_vector();
  const size_t ng = gal.size(), nv = t.views.size(), nc = t.conditions.size();
  auto view_index = [&](const std::string& v) {
    return size_t(std::lower_bound(t.views.begin(), t.views.end(), v) - t.views.begin());
  };
  // One pass: view of every gallery sequence, the subjects present per gallery view, and for each
  // probe its nearest gallery sequence in every gallery view. Counts per (condition, pv, gv).
  std::vector<size_t> gal_view(ng);
  std::vector<std::set<std::string>> gallery_subjects(nv);
  for (size_t j = 0; j < ng; ++j) {
    gal_view[j] = view_index(samples[gal[j]].view);
    gallery_subjects[gal_view[j]].insert(samples[gal[j]].subject);
  }
  auto cell = [&](size_t c, size_t pv, size_t gv) { return (c * nv + pv) * nv + gv; };
  std::vector<int64_t> count(nc * nv * nv, 0), hits(count), valid(count);
  std::vector<float> best(nv);
  std::vector<size_t> arg(nv);
  for (size_t i = 0; i < prb.size(); ++i) {
    const EvalSample& p = samples[prb[i]];
    size_t c = size_t(std::find(t.conditions.begin(), t.conditions.end(), p.probe_condition) -
                      t.conditions.begin());
    size_t pv = view_index(p.view);
    std::fill(best.begin(), best.end(), std::numeric_limits<float>::infinity());
    for (size_t j = 0; j < ng; ++j)
      if (dist[i * ng + j] < best[gal_view[j]])
        best[gal_view[j]] = dist[i * ng + j], arg[gal_view[j]] = j;
    for (size_t gv = 0; gv < nv; ++gv) {
      if (gv == pv || gallery_subjects[gv].empty()) continue;
      ++count[cell(c, pv, gv)];
      hits[cell(c, pv, gv)] += samples[gal[arg[gv]]].subject == p.subject;
      valid[cell(c, pv, gv)] += gallery_subjects[gv].count(p.subject) > 0;
    }
  }
  for (size_t ci = 0; ci < nc; ++ci) {
    const std::string& c = t.conditions[ci];
    std::vector<std::vector<double>> acc(nv, std::vector<double>(nv, kNaN)), acc_valid = acc;
    for (size_t pv = 0; pv < nv; ++pv)
      for (size_t gv = 0; gv < nv; ++gv) {
        size_t k = cell(ci, pv, gv);
        if (count[k] == 0) continue;
        acc[pv][gv] = round2(100.0 * double(hits[k]) / double(count[k]));
        if (valid[k]) acc_valid[pv][gv] = round2(100.0 * double(hits[k]) / double(valid[k]));
      }
    std::vector<double> row(nv), row_valid(nv);
    for (size_t v = 0; v < nv; ++v) {
      row[v] = mean_defined(acc[v]);
      row_valid[v] = mean_defined(acc_valid[v]);
    }
    t.pairs[c] = acc;
    t.per_view[c] = row;
    t.per_view_valid[c] = row_valid;
    t.mean[c] = mean_defined(row);
    t.mean_valid[c] = mean_defined(row_valid);
  }
  return t;
}

std::string format_table(const EvalTable& t, bool valid_only) {
  std::string s = "probe ";
  char buf[32];
  for (const std::string& v : t.views) {
    std::snprintf(buf, sizeof buf, "%7s", v.c_str());
    s += buf;
  }
  s += "   mean\n";
  for (const std::string& c : t.conditions) {
    std::snprintf(buf, sizeof buf, "%-6s", c.c_str());
    s += buf;
    const auto& row = (valid_only ? t.per_view_valid : t.per_view).at(c);
    for (double x : row) {
      std::snprintf(buf, sizeof buf, "%7.2f", x);
      s += buf;
    }
    std::snprintf(buf, sizeof buf, "%7.2f\n", (valid_only ? t.mean_valid : t.mean).at(c));
    s += buf;
  }
  return s;
}

}  // namespace rmgait::gait
