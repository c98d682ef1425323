// The op table (tests/op_cases.h): the records, and their naive forwards in double.
#include "tests/op_cases.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <set>

#include "engine/math/bf16.h"
#include "engine/ops.h"
#include "engine/precision.h"

namespace rmgait::test {

namespace {

using Host = std::vector<std::vector<double>>;
using Ref = std::function<std::vector<double>(const Host&)>;

int64_t count(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// The element of `in` (shape `s`, broadcast against `out`) that out's flat index i reads.
double bcast(const std::vector<double>& in, const Shape& s, const Shape& out, int64_t i) {
  int64_t at = 0, stride = 1;
  for (int64_t d = int64_t(out.size()) - 1, e = int64_t(s.size()) - 1; d >= 0; --d, --e) {
    const int64_t pos = i % out[size_t(d)];
    i /= out[size_t(d)];
    if (e >= 0) {
      if (s[size_t(e)] != 1) at += pos * stride;
      stride *= s[size_t(e)];
    }
  }
  return in[size_t(at)];
}

template <class F>
Ref binary_ref(Shape a, Shape b, Shape out, F f) {
  return [=](const Host& in) {
    std::vector<double> y(size_t(count(out)));
    for (int64_t i = 0; i < count(out); ++i)
      y[size_t(i)] = f(bcast(in[0], a, out, i), bcast(in[1], b, out, i));
    return y;
  };
}

template <class F>
Ref unary_ref(F f) {
  return [=](const Host& in) {
    std::vector<double> y(in[0].size());
    for (size_t i = 0; i < y.size(); ++i) y[i] = f(in[0][i]);
    return y;
  };
}

// Reduces x [outer, len, inner] over len with f (from `init`); then `finish(value, len)`.
template <class F, class G>
std::vector<double> reduce3(const std::vector<double>& x, int64_t outer, int64_t len, int64_t inner,
                            double init, F f, G finish) {
  std::vector<double> y(size_t(outer * inner));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < inner; ++k) {
      double v = init;
      for (int64_t l = 0; l < len; ++l) v = f(v, x[size_t((o * len + l) * inner + k)]);
      y[size_t(o * inner + k)] = finish(v, len);
    }
  return y;
}

// index of max/min along len, first extreme
std::vector<double> arg3(const std::vector<double>& x, int64_t outer, int64_t len, int64_t inner,
                         bool want_max) {
  std::vector<double> y(size_t(outer * inner));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < inner; ++k) {
      int64_t best = 0;
      for (int64_t l = 1; l < len; ++l) {
        const double v = x[size_t((o * len + l) * inner + k)];
        const double b = x[size_t((o * len + best) * inner + k)];
        if (want_max ? v > b : v < b) best = l;
      }
      y[size_t(o * inner + k)] = double(best);
    }
  return y;
}

// softmax rows of x [rows, len] (log: log_softmax)
std::vector<double> softmax_ref(const std::vector<double>& x, int64_t rows, int64_t len, bool log) {
  std::vector<double> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = -INFINITY, s = 0;
    for (int64_t l = 0; l < len; ++l) m = std::max(m, x[size_t(r * len + l)]);
    for (int64_t l = 0; l < len; ++l) s += std::exp(x[size_t(r * len + l)] - m);
    for (int64_t l = 0; l < len; ++l) {
      const double z = x[size_t(r * len + l)] - m;
      y[size_t(r * len + l)] = log ? z - std::log(s) : std::exp(z) / s;
    }
  }
  return y;
}

// x [N, Ci, T, H, W] * w [Co, Ci, kt, kh, kw] (+ bias) -> [N, Co, T', H', W'], then leaky
std::vector<double> conv_ref(const std::vector<double>& x, Shape xs, const std::vector<double>& w,
                             Shape ws, const std::vector<double>* bias, const Conv3dParams& p) {
  Shape ys = {xs[0], ws[0], 0, 0, 0};
  for (int d = 0; d < 3; ++d)
    ys[size_t(2 + d)] =
        (xs[size_t(2 + d)] + 2 * p.padding[size_t(d)] - ws[size_t(2 + d)]) / p.stride[size_t(d)] +
        1;
  std::vector<double> y(size_t(count(ys)));
  auto at = [](const Shape& s, int64_t a, int64_t b, int64_t c, int64_t d, int64_t e) {
    return size_t((((a * s[1] + b) * s[2] + c) * s[3] + d) * s[4] + e);
  };
  for (int64_t n = 0; n < ys[0]; ++n)
    for (int64_t co = 0; co < ys[1]; ++co)
      for (int64_t t = 0; t < ys[2]; ++t)
        for (int64_t h = 0; h < ys[3]; ++h)
          for (int64_t v = 0; v < ys[4]; ++v) {
            double s = bias ? (*bias)[size_t(co)] : 0.0;
            for (int64_t ci = 0; ci < ws[1]; ++ci)
              for (int64_t kt = 0; kt < ws[2]; ++kt)
                for (int64_t kh = 0; kh < ws[3]; ++kh)
                  for (int64_t kw = 0; kw < ws[4]; ++kw) {
                    const int64_t it = t * p.stride[0] - p.padding[0] + kt,
                                  ih = h * p.stride[1] - p.padding[1] + kh,
                                  iw = v * p.stride[2] - p.padding[2] + kw;
                    if (it < 0 || ih < 0 || iw < 0 || it >= xs[2] || ih >= xs[3] || iw >= xs[4])
                      continue;
                    s += x[at(xs, n, ci, it, ih, iw)] * w[at(ws, co, ci, kt, kh, kw)];
                  }
            if (p.leaky_relu && s < 0) s *= p.negative_slope;
            y[at(ys, n, co, t, h, v)] = s;
          }
  return y;
}

// max over windows of x [N, C, T, H, W], padding as -inf
std::vector<double> pool_ref(const std::vector<double>& x, Shape xs, const Pool3dParams& p) {
  Shape ys = {xs[0], xs[1], 0, 0, 0};
  for (int d = 0; d < 3; ++d)
    ys[size_t(2 + d)] =
        (xs[size_t(2 + d)] + 2 * p.padding[size_t(d)] - p.kernel[size_t(d)]) / p.stride[size_t(d)] +
        1;
  std::vector<double> y;
  for (int64_t nc = 0; nc < xs[0] * xs[1]; ++nc)
    for (int64_t t = 0; t < ys[2]; ++t)
      for (int64_t h = 0; h < ys[3]; ++h)
        for (int64_t v = 0; v < ys[4]; ++v) {
          double m = -INFINITY;
          for (int64_t a = 0; a < p.kernel[0]; ++a)
            for (int64_t b = 0; b < p.kernel[1]; ++b)
              for (int64_t c = 0; c < p.kernel[2]; ++c) {
                const int64_t it = t * p.stride[0] - p.padding[0] + a,
                              ih = h * p.stride[1] - p.padding[1] + b,
                              iw = v * p.stride[2] - p.padding[2] + c;
                if (it < 0 || ih < 0 || iw < 0 || it >= xs[2] || ih >= xs[3] || iw >= xs[4])
                  continue;
                m = std::max(m, x[size_t(((nc * xs[2] + it) * xs[3] + ih) * xs[4] + iw)]);
              }
          y.push_back(m);
        }
  return y;
}

Tensor leafu(const Shape& s, uint64_t seed, float lo = -1.f, float hi = 1.f) {
  return leaf(uniform(s, seed, lo, hi));
}

void elementwise(std::vector<OpCase>& cs) {
  const Shape a{3, 1, 4}, b{2, 4}, o{3, 2, 4};
  auto two = [&](const char* op, Fn f, auto ref, float lo = -1.f, float hi = 1.f) {
    cs.push_back({op,
                  std::string(op) + " broadcast [3, 1, 4] with [2, 4]",
                  {leafu(a, 1, lo, hi), leafu(b, 2, lo, hi)},
                  f,
                  binary_ref(a, b, o, ref)});
  };
  two(
      "add", [](auto& in) { return add(in[0], in[1]); }, [](double x, double y) { return x + y; });
  two(
      "sub", [](auto& in) { return sub(in[0], in[1]); }, [](double x, double y) { return x - y; });
  two(
      "mul", [](auto& in) { return mul(in[0], in[1]); }, [](double x, double y) { return x * y; });
  two(
      "div", [](auto& in) { return div(in[0], in[1]); }, [](double x, double y) { return x / y; },
      0.5f, 2.f);
  two(
      "pow", [](auto& in) { return pow(in[0], in[1]); },
      [](double x, double y) { return std::pow(x, y); }, 0.5f, 2.f);
  // maximum and minimum on distinct values: no ties, so finite differences see one side
  for (const char* op : {"maximum", "minimum"}) {
    const bool mx = std::string(op) == "maximum";
    cs.push_back({op,
                  std::string(op) + " broadcast",
                  {leaf(distinct(a, 3)), leaf(add(distinct(b, 4), 0.025f))},  // half a step apart
                  [mx](auto& in) { return mx ? maximum(in[0], in[1]) : minimum(in[0], in[1]); },
                  binary_ref(a, b, o, [mx](double x, double y) {
                    return mx ? std::max(x, y) : std::min(x, y);
                  })});
  }
  const Shape s{2, 3, 5};
  auto one = [&](const char* op, const std::string& variant, Tensor x, Fn f, auto ref) {
    cs.push_back({op, std::string(op) + variant, {x}, f, unary_ref(ref)});
  };
  one(
      "add", " scalar", leafu(s, 5), [](auto& in) { return add(in[0], 0.75f); },
      [](double x) { return x + 0.75; });
  one(
      "mul", " scalar", leafu(s, 6), [](auto& in) { return mul(in[0], -1.5f); },
      [](double x) { return x * -1.5; });
  one(
      "sub", " from a scalar", leafu(s, 7), [](auto& in) { return sub(2.f, in[0]); },
      [](double x) { return 2 - x; });
  one(
      "div", " a scalar by x", leafu(s, 8, 0.5f, 2.f), [](auto& in) { return div(3.f, in[0]); },
      [](double x) { return 3 / x; });
  one(
      "pow", " by a scalar", leafu(s, 9, 0.5f, 2.f), [](auto& in) { return pow(in[0], 2.5f); },
      [](double x) { return std::pow(x, 2.5); });
  one(
      "neg", "", leafu(s, 10), [](auto& in) { return neg(in[0]); }, [](double x) { return -x; });
  one(
      "abs", " away from 0", leaf(away_from_zero(s, 11)), [](auto& in) { return abs(in[0]); },
      [](double x) { return std::fabs(x); });
  one(
      "exp", "", leafu(s, 12), [](auto& in) { return exp(in[0]); },
      [](double x) { return std::exp(x); });
  one(
      "log", "", leafu(s, 13, 0.2f, 3.f), [](auto& in) { return log(in[0]); },
      [](double x) { return std::log(x); });
  one(
      "sqrt", "", leafu(s, 14, 0.2f, 3.f), [](auto& in) { return sqrt(in[0]); },
      [](double x) { return std::sqrt(x); });
  one(
      "clamp", " inside and outside [-0.5, 0.4]", leaf(away_from_zero(s, 15)),
      [](auto& in) { return clamp(in[0], -0.5f, 0.4f); },
      [](double x) { return std::min(0.4, std::max(-0.5, x)); });
  // the kinks of clamp at its bounds: inputs are 0.1 away from 0 but not from -0.5 / 0.4, so
  // finite differences use a step well below that distance
  cs.back().grad.eps = 1e-3;
  one(
      "relu", " away from 0", leaf(away_from_zero(s, 16)), [](auto& in) { return relu(in[0]); },
      [](double x) { return std::max(0.0, x); });
  one(
      "leaky_relu", " away from 0", leaf(away_from_zero(s, 17)),
      [](auto& in) { return leaky_relu(in[0], 0.2f); },
      [](double x) { return x > 0 ? x : 0.2 * x; });
  cs.push_back({"compare",
                "compare gt",
                {uniform(a, 18), uniform(b, 19)},
                [](auto& in) { return compare(BinaryOp::gt, in[0], in[1]); },
                binary_ref(a, b, o, [](double x, double y) { return x > y ? 1.0 : 0.0; })});
  cs.back().differentiable = false;
  cs.push_back({"where",
                "where (f32 condition, broadcast)",
                {uniform(b, 20), leafu(a, 21), leafu(b, 22)},
                [](auto& in) { return where(compare(BinaryOp::gt, in[0], in[2]), in[1], in[2]); },
                [=](const Host& in) {
                  std::vector<double> y(size_t(count(o)));
                  for (int64_t i = 0; i < count(o); ++i)
                    y[size_t(i)] = bcast(in[0], b, o, i) > bcast(in[2], b, o, i)
                                       ? bcast(in[1], a, o, i)
                                       : bcast(in[2], b, o, i);
                  return y;
                }});
}

void reductions(std::vector<OpCase>& cs) {
  const Shape s{3, 4, 5};
  auto sum_f = [](double v, double x) { return v + x; };
  cs.push_back({"sum",
                "sum over dim 1",
                {leafu(s, 30)},
                [](auto& in) { return sum(in[0], {1}); },
                [=](const Host& in) {
                  return reduce3(in[0], 3, 4, 5, 0.0, sum_f, [](double v, int64_t) { return v; });
                }});
  cs.push_back({"sum",
                "sum of all",
                {leafu(s, 31)},
                [](auto& in) { return sum(in[0]); },
                [=](const Host& in) {
                  return reduce3(in[0], 1, 60, 1, 0.0, sum_f, [](double v, int64_t) { return v; });
                }});
  cs.push_back({"mean",
                "mean over dims 0 and 2",
                {leafu(s, 32)},
                [](auto& in) {
                  return mean(in[0], {0, 2}, true);
                },
                [](const Host& in) {
                  std::vector<double> y(4, 0.0);
                  for (int64_t i = 0; i < 60; ++i) y[size_t(i / 5 % 4)] += in[0][size_t(i)] / 15;
                  return y;
                }});
  cs.push_back({"mean",
                "mean of all",
                {leafu(s, 33)},
                [](auto& in) { return mean(in[0]); },
                [=](const Host& in) {
                  return reduce3(in[0], 1, 60, 1, 0.0, sum_f,
                                 [](double v, int64_t n) { return v / double(n); });
                }});
  for (bool mx : {true, false}) {
    auto pick = [mx](double v, double x) { return mx ? std::max(v, x) : std::min(v, x); };
    const double init = mx ? -INFINITY : INFINITY;
    cs.push_back({mx ? "max" : "min",
                  std::string(mx ? "max" : "min") + " over dim 2",
                  {leaf(distinct(s, 34 + mx))},
                  [mx](auto& in) { return mx ? max(in[0], {2}) : min(in[0], {2}); },
                  [=](const Host& in) {
                    return reduce3(in[0], 12, 5, 1, init, pick,
                                   [](double v, int64_t) { return v; });
                  }});
    cs.push_back({mx ? "max" : "min",
                  std::string(mx ? "max" : "min") + " of all",
                  {leaf(distinct(s, 36 + mx))},
                  [mx](auto& in) { return mx ? max(in[0]) : min(in[0]); },
                  [=](const Host& in) {
                    return reduce3(in[0], 1, 60, 1, init, pick,
                                   [](double v, int64_t) { return v; });
                  }});
    cs.push_back(
        {mx ? "argmax" : "argmin",
         std::string(mx ? "argmax" : "argmin") + " over dim 1",
         {distinct(s, 38 + mx)},
         [mx](auto& in) { return (mx ? argmax(in[0], 1) : argmin(in[0], 1)).to(DType::f32); },
         [=](const Host& in) { return arg3(in[0], 3, 4, 5, mx); }});
    cs.back().differentiable = false;
  }
  for (bool log : {false, true}) {
    cs.push_back({log ? "log_softmax" : "softmax",
                  std::string(log ? "log_softmax" : "softmax") + " over the last dim",
                  {leafu({4, 7}, 40 + log, -2.f, 2.f)},
                  [log](auto& in) { return log ? log_softmax(in[0], 1) : softmax(in[0], 1); },
                  [log](const Host& in) { return softmax_ref(in[0], 4, 7, log); }});
  }
  Tensor p = leaf(Tensor::full({1}, 3.f));
  cs.push_back({"gem_pool",
                "gem_pool p = 3",
                {leafu({3, 4, 7}, 42, 0.2f, 2.f), p},
                [](auto& in) { return gem_pool(in[0], in[1], 1e-6f); },
                [](const Host& in) {
                  const double pw = in[1][0];
                  std::vector<double> y(12);
                  for (int64_t r = 0; r < 12; ++r) {
                    double z = 0;
                    for (int64_t l = 0; l < 7; ++l)
                      z += std::pow(std::max(in[0][size_t(r * 7 + l)], 1e-6), pw);
                    y[size_t(r)] = std::pow(z / 7, 1 / pw);
                  }
                  return y;
                },
                1e-5,
                1e-6,
                true,
                {1e-3, 1e-2, 64}});
}

void shapes_and_dense(std::vector<OpCase>& cs) {
  auto concat = [](std::vector<std::vector<double>> parts) {
    std::vector<double> y;
    for (auto& p : parts) y.insert(y.end(), p.begin(), p.end());
    return y;
  };
  cs.push_back({"cat",
                "cat along dim 1",
                {leafu({2, 3, 2}, 50), leafu({2, 1, 2}, 51)},
                [](auto& in) {
                  return cat({in[0], in[1]}, 1);
                },
                [](const Host& in) {
                  std::vector<double> y;
                  for (int64_t i = 0; i < 2; ++i) {
                    y.insert(y.end(), in[0].begin() + i * 6, in[0].begin() + (i + 1) * 6);
                    y.insert(y.end(), in[1].begin() + i * 2, in[1].begin() + (i + 1) * 2);
                  }
                  return y;
                }});
  cs.push_back({"stack",
                "stack along dim 0",
                {leafu({2, 3}, 52), leafu({2, 3}, 53)},
                [](auto& in) {
                  return stack({in[0], in[1]}, 0);
                },
                [=](const Host& in) {
                  return concat({in[0], in[1]});
                }});
  cs.push_back({"split",
                "split [2, 3] along dim 0 (rejoined)",
                {leafu({5, 2}, 54)},
                [](auto& in) {
                  auto parts = split(in[0], {2, 3}, 0);
                  return cat({mul(parts[1], 2.f), parts[0]}, 0);
                },
                [](const Host& in) {
                  std::vector<double> y;
                  for (size_t i = 4; i < 10; ++i) y.push_back(2 * in[0][i]);
                  y.insert(y.end(), in[0].begin(), in[0].begin() + 4);
                  return y;
                }});
  cs.push_back({"chunk",
                "chunk in 2 along dim 1 (rejoined)",
                {leafu({3, 4}, 55)},
                [](auto& in) {
                  auto parts = chunk(in[0], 2, 1);
                  return sub(parts[0], parts[1]);
                },
                [](const Host& in) {
                  std::vector<double> y;
                  for (int64_t r = 0; r < 3; ++r)
                    for (int64_t c = 0; c < 2; ++c)
                      y.push_back(in[0][size_t(r * 4 + c)] - in[0][size_t(r * 4 + c + 2)]);
                  return y;
                }});
  cs.push_back({"index_select",
                "index_select dim 1, repeated indices",
                {leafu({2, 5, 3}, 56)},
                [](auto& in) {
                  Tensor idx = Tensor::empty({4}, DType::i64);
                  const int64_t pick[] = {4, 0, 4, 2};
                  std::copy(pick, pick + 4, idx.data<int64_t>());
                  return index_select(in[0], 1, idx);
                },
                [](const Host& in) {
                  std::vector<double> y;
                  const int64_t pick[] = {4, 0, 4, 2};
                  for (int64_t a = 0; a < 2; ++a)
                    for (int64_t k : pick)
                      for (int64_t c = 0; c < 3; ++c)
                        y.push_back(in[0][size_t((a * 5 + k) * 3 + c)]);
                  return y;
                }});
  for (bool ta : {false, true}) {
    cs.push_back({"matmul",
                  std::string("matmul broadcast batch") + (ta ? ", a transposed" : ""),
                  {leafu(ta ? Shape{2, 5, 4} : Shape{2, 4, 5}, 57 + ta), leafu({1, 5, 3}, 59)},
                  [ta](auto& in) { return matmul(in[0], in[1], ta, false); },
                  [ta](const Host& in) {
                    std::vector<double> y;
                    for (int64_t b = 0; b < 2; ++b)
                      for (int64_t m = 0; m < 4; ++m)
                        for (int64_t n = 0; n < 3; ++n) {
                          double s = 0;
                          for (int64_t k = 0; k < 5; ++k)
                            s += in[0][size_t(ta ? (b * 5 + k) * 4 + m : (b * 4 + m) * 5 + k)] *
                                 in[1][size_t(k * 3 + n)];
                          y.push_back(s);
                        }
                    return y;
                  }});
  }
  const Shape xs{2, 3, 4, 6, 5}, ws{4, 3, 3, 3, 3};
  Conv3dParams same{{1, 1, 1}, {1, 1, 1}}, strided{{1, 2, 2}, {0, 1, 1}};
  cs.push_back({"conv3d",
                "conv3d 3x3x3, padding 1, bias",
                {leafu(xs, 60), leafu(ws, 61), leafu({4}, 62)},
                [=](auto& in) { return conv3d(in[0], in[1], in[2], same); },
                [=](const Host& in) { return conv_ref(in[0], xs, in[1], ws, &in[2], same); }});
  cs.push_back({"conv3d",
                "conv3d stride (1, 2, 2), padding (0, 1, 1)",
                {leafu(xs, 63), leafu(ws, 64)},
                [=](auto& in) { return conv3d(in[0], in[1], Tensor(), strided); },
                [=](const Host& in) { return conv_ref(in[0], xs, in[1], ws, nullptr, strided); }});
  Conv3dParams fused = same;
  fused.leaky_relu = true, fused.negative_slope = 0.01f;
  cs.push_back({"conv3d",
                "conv3d + fused leaky_relu",
                {leafu(xs, 65), leafu(ws, 66)},
                [=](auto& in) { return conv3d(in[0], in[1], Tensor(), fused); },
                [=](const Host& in) { return conv_ref(in[0], xs, in[1], ws, nullptr, fused); }});
  // the kink at 0 of the fused activation: a direction-free check is not fair there
  cs.back().differentiable = false;
  // Winograd F(4x4, 3x3) over frame stacks (engine/cpu/conv3d_winograd.h): channels in 16s,
  // temporal padding 1 and 0; direct where the CPU has no Winograd kernel (and on the GPU)
  const Shape wxs{2, 16, 4, 6, 5}, wws{16, 16, 3, 3, 3};
  for (int64_t pt : {1, 0}) {
    const Conv3dParams wino{{1, 1, 1}, {pt, 1, 1}};
    cs.push_back({"conv3d",
                  "conv3d as Winograd, temporal padding " + std::to_string(pt) + ", bias",
                  {leafu(wxs, 67 + pt), leafu(wws, 69 + pt), leafu({16}, 71 + pt)},
                  [=](auto& in) {
                    ConvAlgorithmGuard g(ConvAlgorithm::winograd);
                    return conv3d(in[0], in[1], in[2], wino);
                  },
                  [=](const Host& in) { return conv_ref(in[0], wxs, in[1], wws, &in[2], wino); }});
    cs.back().atol = 1e-4;  // Winograd's rounding: ~1.5e-6 of the outputs' scale (~7) here
  }
  const Pool3dParams pool{{1, 2, 2}, {1, 2, 2}, {0, 0, 0}}, padded{{3, 3, 3}, {2, 2, 2}, {1, 1, 1}};
  for (const Pool3dParams& pp : {pool, padded}) {
    const Shape s{1, 2, 5, 7, 6};
    cs.push_back({"max_pool3d",
                  std::string("max_pool3d ") + (pp.padding[0] ? "3x3x3 stride 2 padded" : "1x2x2"),
                  {leaf(distinct(s, 67 + pp.padding[0]))},
                  [=](auto& in) { return max_pool3d(in[0], pp); },
                  [=](const Host& in) { return pool_ref(in[0], s, pp); }});
  }
  cs.push_back({"batch_norm",
                "batch_norm train [4, 3, 5]",
                {leafu({4, 3, 5}, 70, -2.f, 3.f), leafu({3}, 71, 0.5f, 1.5f), leafu({3}, 72)},
                [](auto& in) {
                  Tensor rm = Tensor::zeros({3}, DType::f32, in[0].device());
                  Tensor rv = Tensor::ones({3}, DType::f32, in[0].device());
                  return batch_norm(in[0], in[1], in[2], rm, rv, true);
                },
                [](const Host& in) {
                  std::vector<double> y(60);
                  for (int64_t c = 0; c < 3; ++c) {
                    double m = 0, v = 0;
                    for (int64_t n = 0; n < 4; ++n)
                      for (int64_t l = 0; l < 5; ++l) m += in[0][size_t((n * 3 + c) * 5 + l)] / 20;
                    for (int64_t n = 0; n < 4; ++n)
                      for (int64_t l = 0; l < 5; ++l)
                        v += std::pow(in[0][size_t((n * 3 + c) * 5 + l)] - m, 2) / 20;
                    for (int64_t n = 0; n < 4; ++n)
                      for (int64_t l = 0; l < 5; ++l) {
                        const size_t i = size_t((n * 3 + c) * 5 + l);
                        y[i] = (in[0][i] - m) / std::sqrt(v + 1e-5) * in[1][size_t(c)] +
                               in[2][size_t(c)];
                      }
                  }
                  return y;
                },
                1e-4,
                1e-5});
  cs.push_back({"mean_pairwise_distance",
                "mean_pairwise_distance [2, 3, 4] x [2, 5, 4]",
                {uniform({2, 3, 4}, 73), uniform({2, 5, 4}, 74)},
                [](auto& in) { return mean_pairwise_distance(in[0], in[1]); },
                [](const Host& in) {
                  std::vector<double> y(15, 0.0);
                  for (int64_t b = 0; b < 2; ++b)
                    for (int64_t n = 0; n < 3; ++n)
                      for (int64_t m = 0; m < 5; ++m) {
                        double d = 0;
                        for (int64_t c = 0; c < 4; ++c)
                          d += std::pow(in[0][size_t((b * 3 + n) * 4 + c)] -
                                            in[1][size_t((b * 5 + m) * 4 + c)],
                                        2);
                        y[size_t(n * 5 + m)] += std::sqrt(d) / 2;
                      }
                  return y;
                },
                1e-5,
                1e-5});
  cs.back().differentiable = false;
  cs.push_back({"bf16_copy",
                "bf16_copy rounds to nearest even",
                {uniform({3, 7}, 75, -3.f, 3.f)},
                [](auto& in) { return bf16_copy(in[0]).to(DType::f32); },
                unary_ref([](double x) {
                  return double(float_from_bf16_bits(bf16_bits_from_float(float(x))));
                }),
                0,
                0});
  cs.back().differentiable = false;
  cs.push_back({"conv_rebuild_source",
                "conv_rebuild_source in f32 (the tensor, detached)",
                {leafu({2, 3}, 76), leafu({4, 3}, 77)},
                [](auto& in) { return conv_rebuild_source(in[0], in[1]); },
                unary_ref([](double x) { return x; }),
                0,
                0});
  cs.back().differentiable = false;
  cs.push_back({"adam_step",
                "adam_step (L2 decay), step 3",
                {uniform({2, 5}, 78), uniform({2, 5}, 79), uniform({2, 5}, 80, -0.1f, 0.1f),
                 uniform({2, 5}, 81, 0.f, 0.1f)},
                [](auto& in) {
                  Tensor p = in[0].clone(), m = in[2].clone(), v = in[3].clone();
                  AdamConfig c;
                  c.lr = 0.01f, c.weight_decay = 0.1f;
                  adam_step(p, in[1], m, v, 3, c);
                  return cat({p, m, v}, 0);
                },
                [](const Host& in) {
                  std::vector<double> p = in[0], m = in[2], v = in[3];
                  const double b1 = 0.9, b2 = 0.999, lr = 0.01, wd = 0.1;
                  for (size_t i = 0; i < p.size(); ++i) {
                    const double g = in[1][i] + wd * p[i];
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    p[i] -= lr / (1 - std::pow(b1, 3)) * m[i] /
                            (std::sqrt(v[i]) / std::sqrt(1 - std::pow(b2, 3)) + 1e-8);
                  }
                  std::vector<double> y = p;
                  y.insert(y.end(), m.begin(), m.end());
                  y.insert(y.end(), v.begin(), v.end());
                  return y;
                },
                1e-5,
                1e-6});
  cs.back().differentiable = false;
}

}  // namespace

std::vector<OpCase> op_cases() {
  std::vector<OpCase> cs;
  elementwise(cs);
  reductions(cs);
  shapes_and_dense(cs);
  return cs;
}

std::vector<std::string> public_ops(const std::string& ops_header) {
  std::ifstream f(ops_header);
  REQUIRE_MESSAGE(f, ops_header << ": cannot open");
  const std::string text((std::istreambuf_iterator<char>(f)), {});
  // a declaration at the start of a line: a return type, then the op's name and '('
  const std::regex decl(R"((?:^|\n)(?:Tensor|void|std::vector<Tensor>)\s+(\w+)\()");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), decl); it != std::sregex_iterator();
       ++it)
    names.insert((*it)[1].str());
  return {names.begin(), names.end()};
}

}  // namespace rmgait::test
