#pragma once
// Helpers shared by the engine tests: seeded inputs, closeness checks and the finite-difference
// gradient checker (central differences, tolerance scaled by magnitude, Caffe-style).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/random.h"

namespace rmgait::test {

inline Tensor uniform(const Shape& s, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  Generator g(seed);
  return rand(s, g, lo, hi);
}

// Values in [-hi, -gap] U [gap, hi]: away from the kink of relu-like ops.
inline Tensor away_from_zero(const Shape& s, uint64_t seed, float gap = 0.1f, float hi = 1.f) {
  std::vector<float> v = uniform(s, seed, -1.f, 1.f).to_vector();
  for (float& x : v) x = (x < 0 ? -1.f : 1.f) * (gap + std::fabs(x) * (hi - gap));
  return Tensor::from_vector(v, s);
}

// Distinct values spaced `step` apart in a seeded random order: no ties for max/min.
inline Tensor distinct(const Shape& s, uint64_t seed, float step = 0.05f) {
  int64_t n = numel_of(s);
  std::vector<float> key = uniform({n}, seed).to_vector();
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key[a] < key[b]; });
  std::vector<float> v(n);
  for (int64_t r = 0; r < n; ++r) v[order[r]] = (float(r) - float(n) / 2) * step;
  return Tensor::from_vector(v, s);
}

// Integers 0, 1, 2 only, so that pooling windows and reductions hold ties (as binary silhouettes
// do).
inline Tensor quantized(const Shape& s, uint64_t seed) {
  std::vector<float> v = uniform(s, seed, 0.f, 3.f).to_vector();
  for (float& e : v) e = std::floor(e);
  return Tensor::from_vector(v, s);
}

inline void check_close(const std::vector<float>& got, const std::vector<double>& want, double rtol,
                        double atol, const std::string& what) {
  REQUIRE_MESSAGE(got.size() == want.size(),
                  what << ": size " << got.size() << " vs " << want.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::fabs(double(got[i]) - want[i]) - (atol + rtol * std::fabs(want[i]));
    if (err > worst || std::isnan(got[i])) worst = std::isnan(got[i]) ? 1e30 : err, at = i;
  }
  CHECK_MESSAGE(worst <= 0,
                what << ": element " << at << " got " << got[at] << " want " << want[at]);
}

inline void check_close(const Tensor& got, const std::vector<double>& want, double rtol,
                        double atol, const std::string& what) {
  check_close(got.to_vector(), want, rtol, atol, what);
}

// |got - want| / |want| in L2 norms (double sums); a want of zeros divides by 1e-30 instead of 0,
// and a NaN anywhere gives NaN, which fails any bound.
inline double rel_l2(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  double d = 0, n = 1e-30;
  for (size_t i = 0; i < got.size(); ++i)
    d += (double(got[i]) - want[i]) * (double(got[i]) - want[i]), n += double(want[i]) * want[i];
  return std::sqrt(d / n);
}
inline double rel_l2(const Tensor& got, const Tensor& want) {
  return rel_l2(got.to_vector(), want.to_vector());
}

inline std::vector<double> to_double(const Tensor& t) {
  std::vector<float> v = t.to_vector();
  return std::vector<double>(v.begin(), v.end());
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-2;
  double tol = 1e-2;        // |analytic - numeric| <= tol * max(1, |analytic|, |numeric|)
  int64_t max_points = 64;  // per input, spread evenly over the elements
};

// loss = sum(f(inputs) * R) for a fixed random R shaped like f's output, in double.
struct ProjectedLoss {
  ProjectedLoss(const Fn& f, const std::vector<Tensor>& inputs) {
    NoGradGuard ng;
    Tensor out = f(inputs);
    shape = out.shape();
    r = uniform(shape, 987654321, -1.f, 1.f).to_vector();
  }
  double operator()(const Tensor& out) const {
    std::vector<float> o = out.to_vector();
    double s = 0;
    for (size_t i = 0; i < o.size(); ++i) s += double(o[i]) * r[i];
    return s;
  }
  Tensor weights() const { return Tensor::from_vector(r, shape); }
  Shape shape;
  std::vector<float> r;
};

// Checks the gradients of loss = sum(f(inputs) * R), R a fixed random tensor, for every input
// that requires grad. f must be deterministic (random ops re-seed inside f).
inline void gradcheck(const Fn& f, std::vector<Tensor> inputs, const std::string& what,
                      GradcheckOptions opt = {}) {
  ProjectedLoss loss_of(f, inputs);
  for (Tensor& t : inputs) t.zero_grad();
  Tensor out = f(inputs);
  REQUIRE_MESSAGE(out.requires_grad(), what << ": output does not require grad");
  out.backward(loss_of.weights());
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor x = inputs[k];
    if (!x.requires_grad()) continue;
    REQUIRE_MESSAGE(x.grad().defined(), what << ": input " << k << " got no gradient");
    std::vector<float> analytic = x.grad().to_vector();
    int64_t n = x.numel(), stride = std::max<int64_t>(1, n / opt.max_points);
    float* p = x.data<float>();
    for (int64_t i = 0; i < n; i += stride) {
      float saved = p[i];
      double lp, lm;
      {
        NoGradGuard ng;
        p[i] = saved + float(opt.eps);
        x.storage()->bump_version();
        lp = loss_of(f(inputs));
        p[i] = saved - float(opt.eps);
        x.storage()->bump_version();
        lm = loss_of(f(inputs));
        p[i] = saved;
      }
      x.storage()->bump_version();  // raw writes must tell weight caches
      double numeric = (lp - lm) / (2 * opt.eps);
      double a = analytic[i];
      double scale = std::max({1.0, std::fabs(a), std::fabs(numeric)});
      CHECK_MESSAGE(std::fabs(a - numeric) <= opt.tol * scale,
                    what << ": input " << k << " element " << i << " analytic " << a << " numeric "
                         << numeric);
    }
  }
}

// For whole networks: compares the directional derivative along random directions v (over all
// inputs at once) with sum(grad * v). A direction whose step crosses a kink (LeakyReLU, max) is
// detected Caffe-style, by forward and backward one-sided differences that disagree, and
// replaced by another; `directions` smooth ones must pass.
inline void directional_gradcheck(const Fn& f, std::vector<Tensor> inputs, const std::string& what,
                                  double eps = 1e-3, double tol = 2e-2, int directions = 3) {
  ProjectedLoss loss_of(f, inputs);
  for (Tensor& t : inputs) t.zero_grad();
  f(inputs).backward(loss_of.weights());
  std::vector<std::vector<float>> saved, grads;
  for (Tensor& t : inputs) {
    saved.push_back(t.to_vector());
    grads.push_back(t.grad().defined() ? t.grad().to_vector() : std::vector<float>(t.numel(), 0.f));
  }
  auto loss_at = [&](const std::vector<std::vector<float>>& v, double step) {
    for (size_t k = 0; k < inputs.size(); ++k) {
      float* p = inputs[k].data<float>();
      for (size_t i = 0; i < v[k].size(); ++i) p[i] = saved[k][i] + float(step * v[k][i]);
      inputs[k].storage()->bump_version();
    }
    NoGradGuard ng;
    return loss_of(f(inputs));
  };
  int passed = 0, kinks = 0;
  for (int d = 0; passed < directions && d < 6 * directions; ++d) {
    std::vector<std::vector<float>> v;
    double analytic = 0;
    for (size_t k = 0; k < inputs.size(); ++k) {
      v.push_back(uniform(inputs[k].shape(), 5000 + 100 * d + k, -1.f, 1.f).to_vector());
      for (size_t i = 0; i < v[k].size(); ++i) analytic += double(grads[k][i]) * v[k][i];
    }
    double lp = loss_at(v, eps), l0 = loss_at(v, 0), lm = loss_at(v, -eps);
    double fwd = (lp - l0) / eps, bwd = (l0 - lm) / eps, numeric = (lp - lm) / (2 * eps);
    double scale = std::max({1.0, std::fabs(analytic), std::fabs(numeric)});
    if (std::fabs(fwd - bwd) > tol * scale) {  // the step crosses a kink: not a fair test
      ++kinks;
      continue;
    }
    CHECK_MESSAGE(std::fabs(analytic - numeric) <= tol * scale, what << ": direction " << d
                                                                     << " analytic " << analytic
                                                                     << " numeric " << numeric);
    ++passed;
  }
  loss_at(saved, 0);  // restore (any v: step 0)
  CHECK_MESSAGE(passed == directions, what << ": only " << passed << " of " << directions
                                           << " directions were smooth (" << kinks << " kinks)");
}

inline Tensor leaf(const Tensor& t) {
  Tensor c = t.detach().contiguous().clone();
  c.set_requires_grad(true);
  return c;
}

struct Conv5 {
  Shape x, w, y;
  Conv3dParams p;
};

inline int64_t at5(const Shape& s, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e) {
  return (((a * s[1] + b) * s[2] + c) * s[3] + d) * s[4] + e;
}

// Visits every (output, input, weight) index triple of a conv3d.
template <class F>
void conv_loops(const Conv5& c, F f) {
  const Shape &xs = c.x, &ws = c.w, &ys = c.y;
  for (int64_t n = 0; n < ys[0]; ++n)
    for (int64_t co = 0; co < ys[1]; ++co)
      for (int64_t t = 0; t < ys[2]; ++t)
        for (int64_t h = 0; h < ys[3]; ++h)
          for (int64_t w = 0; w < ys[4]; ++w)
            for (int64_t ci = 0; ci < ws[1]; ++ci)
              for (int64_t kt = 0; kt < ws[2]; ++kt)
                for (int64_t kh = 0; kh < ws[3]; ++kh)
                  for (int64_t kw = 0; kw < ws[4]; ++kw) {
                    int64_t it = t * c.p.stride[0] - c.p.padding[0] + kt;
                    int64_t ih = h * c.p.stride[1] - c.p.padding[1] + kh;
                    int64_t iw = w * c.p.stride[2] - c.p.padding[2] + kw;
                    if (it < 0 || ih < 0 || iw < 0 || it >= xs[2] || ih >= xs[3] || iw >= xs[4])
                      continue;
                    f(at5(ys, n, co, t, h, w), at5(xs, n, ci, it, ih, iw),
                      at5(ws, co, ci, kt, kh, kw));
                  }
}

}  // namespace rmgait::test
