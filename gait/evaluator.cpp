#include "gait/evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"

namespace rmgait::gait {

Distance parse_distance(const std::string& s) {
  if (s == "per_part") return Distance::per_part_mean;
  RM_CHECK(s == "flattened", "distance '", s, "': expected per_part or flattened");
  return Distance::flattened;
}

const char* distance_name(Distance d) {
  return d == Distance::flattened ? "flattened" : "per_part";
}

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean_defined(const std::vector<double>& v) {
  double s = 0;
  int n = 0;
  for (double x : v)
    if (!std::isnan(x)) s += x, ++n;
  return n ? s / n : kNaN;
}

}  // namespace

double round2(double x) {
  return std::nearbyint(x * 100.0) / 100.0;  // rint: ties to even in the default rounding mode
}

namespace {
// [N, C, P] -> [P, N, C] slices for slice_distance_mean; the flattened distance is one slice
// of the C-outer vector [1, N, C*P].
Tensor as_slices(const Tensor& e, Distance kind) {
  Tensor x = kind == Distance::flattened ? e.reshape({e.size(0), -1, 1}) : e;
  return x.permute({2, 0, 1});
}

// Slices x [B, N, C] and y [B, M, C] -> [N, M], the mean over b of ||x_bn - y_bm||. Narrow
// embeddings (C <= kDirectMaxC) on the CPU take direct differences in one pass: the engine's Gram
// route (mean_pairwise_distance) writes and reads a [B, N, M] tile whose memory traffic, not its
// 2C flops per entry, is then the cost (OU-MVLP-sized, [8, 64]: 1.6-2x faster on a 2-core Zen 3;
// at C = 32 the Gram route was 1.8x faster). As there, each term is rounded to f32 and the sum over
// b runs in double in order; every (n, m) is computed alike whatever the tile, so that tiled and
// whole-matrix evaluations agree bit for bit.
constexpr int64_t kDirectMaxC = 8;
Tensor slice_distance_mean(const Tensor& x, const Tensor& y) {
  if (x.device() != Device::cpu || y.device() != Device::cpu || x.dtype() != DType::f32 ||
      y.dtype() != DType::f32 || x.dim() != 3 || y.dim() != 3 || x.size(2) > kDirectMaxC)
    return mean_pairwise_distance(x, y);  // (which also refuses what does not fit)
  RM_CHECK(x.size(0) == y.size(0) && x.size(2) == y.size(2) && x.size(0) > 0, "distance: slices ",
           shape_str(x.shape()), " and ", shape_str(y.shape()),
           " must be [B, N, C] and [B, M, C] with equal B > 0 and C");
  const int64_t b_n = x.size(0), n = x.size(1), m = y.size(1), c = x.size(2);
  const Tensor xc = x.contiguous(), yt = y.permute({0, 2, 1}).contiguous();  // y as [B, C, M]
  Tensor out = Tensor::empty({n, m});
  const float *xp = xc.data<float>(), *yp = yt.data<float>();
  float* op = out.data<float>();
  const float scale = 1.f / float(b_n);
#pragma omp parallel if (b_n * n * m * c > 32768)
  {
    std::vector<double> acc(static_cast<size_t>(m));
    std::vector<float> sq(static_cast<size_t>(m));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t b = 0; b < b_n; ++b) {
        const float* xi = xp + (b * n + i) * c;
        std::fill(sq.begin(), sq.end(), 0.f);
        for (int64_t k = 0; k < c; ++k) {  // along the gallery row: vectorised
          const float xk = xi[k], *yk = yp + (b * c + k) * m;
          for (int64_t j = 0; j < m; ++j) {
            const float d = xk - yk[j];
            sq[size_t(j)] += d * d;
          }
        }
        for (int64_t j = 0; j < m; ++j) acc[size_t(j)] += std::sqrt(sq[size_t(j)]);
      }
      for (int64_t j = 0; j < m; ++j) op[i * m + j] = float(acc[size_t(j)]) * scale;
    }
  }
  return out;
}

// Bytes one tile of b probes x g gallery sequences holds: per side the gathered rows [n, C, P],
// their [P, n, C] layout and its squares, and the norms [P, n]; the Gram tile [P, b, g]; the
// distances [b, g] on the device and on the host.
int64_t tile_bytes(int64_t b, int64_t g, int64_t c, int64_t p) {
  return int64_t(sizeof(float)) * (3 * c * p * (b + g) + p * (b + g) + p * b * g + 2 * b * g);
}

Tensor host_index(const std::vector<int64_t>& idx, int64_t start, int64_t len) {
  Tensor t = Tensor::empty({len}, DType::i64);
  std::copy(idx.begin() + start, idx.begin() + start + len, t.data<int64_t>());
  return t;
}
}  // namespace

Tensor pairwise_distance(const Tensor& q, const Tensor& g, Distance kind) {
  RM_CHECK(q.dim() == 3 && g.dim() == 3 && q.size(1) == g.size(1) && q.size(2) == g.size(2),
           "pairwise_distance: embeddings ", shape_str(q.shape()), " and ", shape_str(g.shape()),
           " must both be [N, C, P] with equal C and P");
  return slice_distance_mean(as_slices(q.detach(), kind), as_slices(g.detach(), kind));
}

EvalTiles eval_tiles(int64_t c, int64_t p, int64_t num_probes, int64_t num_gallery,
                     int64_t fixed_bytes, int64_t memory_bytes) {
  // 512 x 512 was the fastest square tile on the development machine (smaller ones lose to the
  // per-tile work, larger ones to memory traffic); smaller when the bound asks for it.
  EvalTiles t{std::max<int64_t>(1, std::min<int64_t>(num_probes, 512)),
              std::max<int64_t>(1, std::min<int64_t>(num_gallery, 512))};
  while (fixed_bytes + tile_bytes(t.probes, t.gallery, c, p) > memory_bytes) {
    RM_CHECK(t.probes > 1 || t.gallery > 1, "evaluate: the memory bound of ", memory_bytes,
             " bytes is too small: ", fixed_bytes, " bytes of per-probe state and ",
             tile_bytes(1, 1, c, p), " for the smallest tile of [", c, ", ", p,
             "] embeddings are needed");
    if (t.gallery >= t.probes)
      t.gallery = (t.gallery + 1) / 2;
    else
      t.probes = (t.probes + 1) / 2;
  }
  return t;
}

EvalTable rank1_excluding_identical_view(const Tensor& emb, const std::vector<EvalSample>& samples,
                                         Distance kind, int64_t memory_bytes) {
  RM_CHECK(emb.dim() == 3 && emb.size(0) == int64_t(samples.size()), "evaluate: ", samples.size(),
           " samples for embeddings ", shape_str(emb.shape()));
  EvalTable t;
  std::set<std::string> views, conds;
  std::map<std::string, int64_t> subject_ids;
  std::vector<int64_t> gal, prb;
  for (size_t i = 0; i < samples.size(); ++i) {
    views.insert(samples[i].view);
    subject_ids.emplace(samples[i].subject, 0);
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
  int64_t next_id = 0;
  for (auto& [name, id] : subject_ids) id = next_id++;
  const int64_t nq = int64_t(prb.size()), ng = int64_t(gal.size()), nv = int64_t(t.views.size()),
                nc = int64_t(t.conditions.size()), ns = next_id;
  auto view_index = [&](const std::string& v) {
    return int64_t(std::lower_bound(t.views.begin(), t.views.end(), v) - t.views.begin());
  };
  // The view and subject of every gallery sequence, and which subjects each gallery view holds.
  std::vector<int64_t> gal_view(ng), gal_subject(ng);
  std::vector<char> in_gallery(nv * ns, 0);
  std::vector<bool> view_has_gallery(nv, false);
  for (int64_t j = 0; j < ng; ++j) {
    const EvalSample& s = samples[gal[j]];
    gal_view[j] = view_index(s.view), gal_subject[j] = subject_ids.at(s.subject);
    in_gallery[gal_view[j] * ns + gal_subject[j]] = 1;
    view_has_gallery[gal_view[j]] = true;
  }
  // Each probe's nearest gallery sequence per gallery view (first one on ties, -1: none),
  // reduced tile by tile in ascending gallery order.
  std::vector<float> best(nq * nv, std::numeric_limits<float>::infinity());
  std::vector<int64_t> arg(nq * nv, -1);
  const int64_t fixed = int64_t(best.size() * (sizeof(float) + sizeof(int64_t))) +
                        int64_t((ng + nq) * 3 * sizeof(int64_t)) + int64_t(in_gallery.size());
  const Tensor e = emb.detach();
  const int64_t c = kind == Distance::flattened ? e.size(1) * e.size(2) : e.size(1);
  const int64_t p = kind == Distance::flattened ? 1 : e.size(2);
  const EvalTiles tiles = t.tiles = eval_tiles(c, p, nq, ng, fixed, memory_bytes);
  {
    NoGradGuard ng_guard;
    for (int64_t q0 = 0; q0 < nq; q0 += tiles.probes) {
      const int64_t nb = std::min(tiles.probes, nq - q0);
      Tensor x = as_slices(index_select(e, 0, host_index(prb, q0, nb)), kind).contiguous();
      for (int64_t g0 = 0; g0 < ng; g0 += tiles.gallery) {
        const int64_t gb = std::min(tiles.gallery, ng - g0);
        Tensor y = as_slices(index_select(e, 0, host_index(gal, g0, gb)), kind);
        Tensor d = slice_distance_mean(x, y).to(Device::cpu);  // [nb, gb]
        const float* dp = d.data<float>();
#pragma omp parallel for schedule(static) if (nb * gb > 32768)
        for (int64_t i = 0; i < nb; ++i) {
          float* bi = &best[(q0 + i) * nv];
          int64_t* ai = &arg[(q0 + i) * nv];
          for (int64_t j = 0; j < gb; ++j) {
            const int64_t v = gal_view[g0 + j];
            if (dp[i * gb + j] < bi[v]) bi[v] = dp[i * gb + j], ai[v] = g0 + j;
          }
        }
      }
    }
  }
  // Counts per (condition, probe view, gallery view).
  auto cell = [&](int64_t ci, int64_t pv, int64_t gv) { return (ci * nv + pv) * nv + gv; };
  std::vector<int64_t> count(nc * nv * nv, 0), hits(count), valid(count);
  for (int64_t i = 0; i < nq; ++i) {
    const EvalSample& s = samples[prb[i]];
    const int64_t ci =
        int64_t(std::find(t.conditions.begin(), t.conditions.end(), s.probe_condition) -
                t.conditions.begin());
    const int64_t pv = view_index(s.view), subject = subject_ids.at(s.subject);
    for (int64_t gv = 0; gv < nv; ++gv) {
      if (gv == pv || !view_has_gallery[gv]) continue;
      const int64_t a = arg[i * nv + gv];
      ++count[cell(ci, pv, gv)];
      hits[cell(ci, pv, gv)] += a >= 0 && gal_subject[a] == subject;
      valid[cell(ci, pv, gv)] += in_gallery[gv * ns + subject];
    }
  }
  for (int64_t ci = 0; ci < nc; ++ci) {
    const std::string& cond = t.conditions[ci];
    std::vector<std::vector<double>> acc(nv, std::vector<double>(nv, kNaN)), acc_valid = acc;
    for (int64_t pv = 0; pv < nv; ++pv)
      for (int64_t gv = 0; gv < nv; ++gv) {
        const int64_t k = cell(ci, pv, gv);
        if (count[k] == 0) continue;
        acc[pv][gv] = round2(100.0 * double(hits[k]) / double(count[k]));
        if (valid[k]) acc_valid[pv][gv] = round2(100.0 * double(hits[k]) / double(valid[k]));
      }
    std::vector<double> row(nv), row_valid(nv);
    for (int64_t v = 0; v < nv; ++v) {
      row[v] = mean_defined(acc[v]);
      row_valid[v] = mean_defined(acc_valid[v]);
    }
    t.pairs[cond] = acc;
    t.per_view[cond] = row;
    t.per_view_valid[cond] = row_valid;
    t.mean[cond] = mean_defined(row);
    t.mean_valid[cond] = mean_defined(row_valid);
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
    auto cell = [&](double x) {  // an empty cell (no probes, or no gallery) is "-"
      if (std::isnan(x))
        std::snprintf(buf, sizeof buf, "%7s", "-");
      else
        std::snprintf(buf, sizeof buf, "%7.2f", x);
      s += buf;
    };
    for (double x : row) cell(x);
    cell((valid_only ? t.mean_valid : t.mean).at(c));
    s += "\n";
  }
  return s;
}

}  // namespace rmgait::gait
