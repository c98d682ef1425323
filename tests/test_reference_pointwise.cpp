// Elementwise ops (with broadcasting), reductions, softmax and shape ops against naive loops.
#include <cmath>
#include <cstring>

#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

namespace {
// Index of the broadcast source element for output linear index i.
int64_t bcast_index(int64_t i, const Shape& out, const Shape& in) {
  int64_t idx = 0, stride = 1, rem = i;
  int64_t lead = int64_t(out.size() - in.size());
  std::vector<int64_t> pos(out.size());
  for (int64_t d = int64_t(out.size()) - 1; d >= 0; --d) pos[d] = rem % out[d], rem /= out[d];
  for (int64_t d = int64_t(in.size()) - 1; d >= 0; --d) {
    idx += (in[d] == 1 ? 0 : pos[d + lead]) * stride;
    stride *= in[d];
  }
  return idx;
}
}  // namespace

TEST_CASE("binary ops with broadcasting: forward and the reduced backward") {
  struct Op {
    const char* name;
    std::function<Tensor(const Tensor&, const Tensor&)> f;
    std::function<double(double, double)> ref, da, db;
  } ops[] = {
      {"add", [](auto& a, auto& b) { return add(a, b); }, [](double a, double b) { return a + b; },
       [](double, double) { return 1.0; }, [](double, double) { return 1.0; }},
      {"sub", [](auto& a, auto& b) { return sub(a, b); }, [](double a, double b) { return a - b; },
       [](double, double) { return 1.0; }, [](double, double) { return -1.0; }},
      {"mul", [](auto& a, auto& b) { return mul(a, b); }, [](double a, double b) { return a * b; },
       [](double, double b) { return b; }, [](double a, double) { return a; }},
      {"div", [](auto& a, auto& b) { return div(a, b); }, [](double a, double b) { return a / b; },
       [](double, double b) { return 1 / b; }, [](double a, double b) { return -a / (b * b); }},
      {"pow", [](auto& a, auto& b) { return pow(a, b); },
       [](double a, double b) { return std::pow(a, b); },
       [](double a, double b) { return b * std::pow(a, b - 1); },
       [](double a, double b) { return std::pow(a, b) * std::log(a); }},
      {"maximum", [](auto& a, auto& b) { return maximum(a, b); },
       [](double a, double b) { return std::max(a, b); },
       [](double a, double b) { return a >= b ? 1.0 : 0.0; },
       [](double a, double b) { return a >= b ? 0.0 : 1.0; }},
      {"minimum", [](auto& a, auto& b) { return minimum(a, b); },
       [](double a, double b) { return std::min(a, b); },
       [](double a, double b) { return a <= b ? 1.0 : 0.0; },
       [](double a, double b) { return a <= b ? 0.0 : 1.0; }},
  };
  std::pair<Shape, Shape> shapes[] = {
      {{3, 4, 5}, {3, 4, 5}}, {{3, 1, 5}, {4, 1}}, {{2, 3, 4, 5}, {1}}, {{5}, {2, 3, 1}}};
  for (const Op& op : ops)
    for (auto& [sa, sb] : shapes) {
      CAPTURE(op.name);
      CAPTURE(shape_str(sa));
      CAPTURE(shape_str(sb));
      Tensor a = leaf(uniform(sa, 41, 0.5f, 2.f)), b = leaf(uniform(sb, 42, 0.5f, 2.f));
      Tensor y = op.f(a, b);
      Shape so = y.shape();
      REQUIRE(so == broadcast_shapes(sa, sb, "test"));
      std::vector<float> av = a.to_vector(), bv = b.to_vector();
      Tensor g = uniform(so, 43);
      std::vector<float> gv = g.to_vector();
      std::vector<double> yr(y.numel()), gar(av.size(), 0), gbr(bv.size(), 0);
      for (int64_t i = 0; i < y.numel(); ++i) {
        int64_t ia = bcast_index(i, so, sa), ib = bcast_index(i, so, sb);
        yr[i] = op.ref(av[ia], bv[ib]);
        gar[ia] += gv[i] * op.da(av[ia], bv[ib]);
        gbr[ib] += gv[i] * op.db(av[ia], bv[ib]);
      }
      check_close(y, yr, 1e-5, 1e-6, std::string(op.name) + " forward");
      y.backward(g);
      check_close(a.grad(), gar, 1e-4, 1e-5, std::string(op.name) + " grad a");
      check_close(b.grad(), gbr, 1e-4, 1e-5, std::string(op.name) + " grad b");
    }
}

TEST_CASE("unary ops and scalar forms: forward and backward") {
  struct Op {
    const char* name;
    std::function<Tensor(const Tensor&)> f;
    std::function<double(double)> ref, d;
  } ops[] = {
      {"exp", [](auto& x) { return exp(x); }, [](double x) { return std::exp(x); },
       [](double x) { return std::exp(x); }},
      {"log", [](auto& x) { return log(x); }, [](double x) { return std::log(x); },
       [](double x) { return 1 / x; }},
      {"sqrt", [](auto& x) { return sqrt(x); }, [](double x) { return std::sqrt(x); },
       [](double x) { return 0.5 / std::sqrt(x); }},
      {"neg", [](auto& x) { return neg(x); }, [](double x) { return -x; },
       [](double) { return -1.0; }},
      {"abs", [](auto& x) { return abs(sub(x, Tensor::scalar(1.2f))); },
       [](double x) { return std::fabs(x - 1.2); }, [](double x) { return x > 1.2 ? 1.0 : -1.0; }},
      {"clamp", [](auto& x) { return clamp(x, 0.8f, 1.6f); },
       [](double x) { return std::min(1.6, std::max(0.8, x)); },
       [](double x) { return x >= 0.8 && x <= 1.6 ? 1.0 : 0.0; }},
      {"pow_scalar", [](auto& x) { return pow(x, 2.5f); },
       [](double x) { return std::pow(x, 2.5); }, [](double x) { return 2.5 * std::pow(x, 1.5); }},
      {"add_scalar", [](auto& x) { return x + 3.f; }, [](double x) { return x + 3; },
       [](double) { return 1.0; }},
      {"mul_scalar", [](auto& x) { return x * -2.f; }, [](double x) { return -2 * x; },
       [](double) { return -2.0; }},
      {"rsub_scalar", [](auto& x) { return sub(1.f, x); }, [](double x) { return 1 - x; },
       [](double) { return -1.0; }},
      {"rdiv_scalar", [](auto& x) { return div(2.f, x); }, [](double x) { return 2 / x; },
       [](double x) { return -2 / (x * x); }},
  };
  for (const Op& op : ops) {
    CAPTURE(op.name);
    Tensor x = leaf(uniform({3, 7, 5}, 51, 0.3f, 2.f));
    Tensor y = op.f(x);
    Tensor g = uniform(x.shape(), 52);
    std::vector<float> xv = x.to_vector(), gv = g.to_vector();
    std::vector<double> yr, gr;
    for (size_t i = 0; i < xv.size(); ++i) {
      yr.push_back(op.ref(xv[i]));
      gr.push_back(gv[i] * op.d(xv[i]));
    }
    check_close(y, yr, 1e-5, 1e-6, std::string(op.name) + " forward");
    y.backward(g);
    check_close(x.grad(), gr, 1e-4, 1e-6, std::string(op.name) + " backward");
  }
}

TEST_CASE("sqrt's gradient at 0 is PyTorch's: gy / (2 * 0)") {
  Tensor x = Tensor::zeros({2}).set_requires_grad(true);
  sqrt(x).backward(Tensor::from_vector({1.f, 0.f}, {2}));
  std::vector<float> g = x.grad().to_vector();
  CHECK(std::isinf(g[0]));
  CHECK(g[0] > 0);
  CHECK(std::isnan(g[1]));  // 0 / 0, as in PyTorch
}

TEST_CASE("where routes values and gradients by the condition") {
  Tensor cond = compare(BinaryOp::gt, uniform({4, 1, 6}, 61), Tensor::scalar(0.f));
  Tensor a = leaf(uniform({4, 5, 6}, 62)), b = leaf(uniform({5, 1}, 63));
  Tensor y = where(cond, a, b);
  std::vector<float> cv = cond.to_vector(), av = a.to_vector(), bv = b.to_vector();
  Tensor g = uniform(y.shape(), 64);
  std::vector<float> gv = g.to_vector();
  std::vector<double> yr(y.numel()), gar(av.size(), 0), gbr(bv.size(), 0);
  for (int64_t i = 0; i < y.numel(); ++i) {
    int64_t ic = bcast_index(i, y.shape(), cond.shape()), ib = bcast_index(i, y.shape(), b.shape());
    bool c = cv[ic] != 0;
    yr[i] = c ? av[i] : bv[ib];
    (c ? gar[i] : gbr[ib]) += gv[i];
  }
  check_close(y, yr, 0, 0, "where forward");
  y.backward(g);
  check_close(a.grad(), gar, 1e-6, 1e-6, "where grad a");
  check_close(b.grad(), gbr, 1e-5, 1e-6, "where grad b");
}

TEST_CASE("reductions over dims: sum, mean, max, min, argmax, argmin") {
  const Shape s = {3, 4, 5, 2};
  // middle dims and blocks of them reduce in place ([outer, len, inner]); others move last
  std::vector<std::vector<int64_t>> dim_sets = {{0},    {2},    {-1},   {1, 3},
                                                {1, 2}, {2, 1}, {0, 1}, {0, 1, 2, 3}};
  for (auto& dims : dim_sets)
    for (bool keep : {false, true}) {
      CAPTURE(dims.size());
      CAPTURE(keep);
      Tensor x = leaf(distinct(s, 71));
      std::vector<float> xv = x.to_vector();
      std::vector<bool> red(4, false);
      for (int64_t d : dims) red[wrap_dim(d, 4, "test")] = true;
      // output position of input element
      Shape os;
      for (int d = 0; d < 4; ++d)
        if (!red[d]) os.push_back(s[d]);
      int64_t on = numel_of(os), cnt = x.numel() / on;
      auto out_index = [&](int64_t i) {
        int64_t pos[4], rem = i, o = 0;
        for (int d = 3; d >= 0; --d) pos[d] = rem % s[d], rem /= s[d];
        for (int d = 0; d < 4; ++d)
          if (!red[d]) o = o * s[d] + pos[d];
        return o;
      };
      std::vector<double> sr(on, 0), mx(on, -INFINITY), mn(on, INFINITY);
      std::vector<int64_t> amx(on), amn(on);
      for (int64_t i = 0; i < x.numel(); ++i) {
        int64_t o = out_index(i);
        sr[o] += xv[i];
        if (xv[i] > mx[o]) mx[o] = xv[i], amx[o] = i;
        if (xv[i] < mn[o]) mn[o] = xv[i], amn[o] = i;
      }
      Tensor ys = sum(x, dims, keep), ym = mean(x, dims, keep);
      Tensor yx = max(x, dims, keep), yn = min(x, dims, keep);
      int64_t expect_dims = keep ? 4 : int64_t(os.size());
      CHECK(ys.dim() == expect_dims);
      CHECK(yx.dim() == expect_dims);
      check_close(ys, sr, 1e-5, 1e-5, "sum");
      std::vector<double> mr(sr);
      for (double& v : mr) v /= cnt;
      check_close(ym, mr, 1e-5, 1e-6, "mean");
      check_close(yx, mx, 0, 0, "max");
      check_close(yn, mn, 0, 0, "min");
      Tensor g = uniform(ys.shape(), 72);
      std::vector<float> gv = g.to_vector();
      std::vector<double> gs(xv.size()), gm(xv.size()), gx(xv.size(), 0), gn(xv.size(), 0);
      for (int64_t i = 0; i < x.numel(); ++i) {
        int64_t o = out_index(i);
        gs[i] = gv[o];
        gm[i] = gv[o] / double(cnt);
        if (amx[o] == i) gx[i] = gv[o];
        if (amn[o] == i) gn[i] = gv[o];
      }
      ys.backward(g);
      check_close(x.grad(), gs, 1e-6, 1e-7, "sum backward");
      x.zero_grad();
      ym.backward(g);
      check_close(x.grad(), gm, 1e-5, 1e-7, "mean backward");
      x.zero_grad();
      yx.backward(g);
      check_close(x.grad(), gx, 0, 0, "max backward");
      x.zero_grad();
      yn.backward(g);
      check_close(x.grad(), gn, 0, 0, "min backward");
    }
  // argmax / argmin along one dim, first occurrence on ties
  Tensor t = Tensor::from_vector({1, 3, 3, 0, 5, 5, -1, -1, 2}, {3, 3});
  CHECK(argmax(t, 1).to(DType::f32).to_vector() == std::vector<float>{1, 1, 2});
  CHECK(argmin(t, 1).to(DType::f32).to_vector() == std::vector<float>{0, 0, 0});
  CHECK(argmax(t, 0, true).shape() == Shape{1, 3});
  CHECK(argmax(t, 0).to(DType::f32).to_vector() == std::vector<float>{0, 1, 1});
  // ties along a middle dim, wider than one block of inner positions (256): the first wins
  Tensor w = Tensor::zeros({2, 3, 300});
  w.narrow(1, 1, 2).fill_(1.0);
  CHECK(argmax(w, 1).to(DType::f32).to_vector() == std::vector<float>(600, 1.f));
  CHECK(argmin(w, 1).to(DType::f32).to_vector() == std::vector<float>(600, 0.f));
  Tensor wl = leaf(w);
  max(wl, {1}).backward(Tensor::ones({2, 300}));
  std::vector<float> gw = wl.grad().to_vector();
  for (int64_t i = 0; i < 1800; ++i) CHECK(gw[i] == ((i / 300) % 3 == 1 ? 1.f : 0.f));
}

TEST_CASE("max and min over NaNs and ties: a NaN wins, then the first index among equals") {
  // values from {-1, 0, 1, NaN} so that ties and NaNs are common; [2, 7, 300] reduced over the
  // middle dim (blocks of inner positions, two blocks and a tail) and over the last (rows)
  const Shape s = {2, 7, 300};
  const float nan = std::nanf("");
  std::vector<float> v(size_t(numel_of(s)));
  for (size_t i = 0; i < v.size(); ++i) {
    const uint32_t h = uint32_t(i) * 2654435761u >> 24;  // a fixed scramble of the index
    v[i] = h % 11 == 0 ? nan : float(int(h % 3) - 1);
  }
  Tensor x = Tensor::from_vector(v, s);
  for (ReduceOp op : {ReduceOp::max, ReduceOp::min})
    for (int64_t dim : {1, 2}) {
      CAPTURE(int(op));
      CAPTURE(dim);
      const int64_t len = s[size_t(dim)], inner = dim == 1 ? 300 : 1,
                    outer = 2 * 7 * 300 / len / inner;
      Tensor y = op == ReduceOp::max ? max(x, {dim}) : min(x, {dim});
      Tensor a = op == ReduceOp::max ? argmax(x, dim) : argmin(x, dim);
      std::vector<float> yv = y.to_vector(), av = a.to(DType::f32).to_vector();
      int64_t wrong = 0, nans = 0;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < inner; ++k) {
          const float* p = v.data() + o * len * inner + k;
          int64_t best = 0;
          for (int64_t i = 1; i < len; ++i)
            if (extreme_replaces(op, p[i * inner], i, p[best * inner], best)) best = i;
          const float want = p[best * inner], have = yv[size_t(o * inner + k)];
          nans += std::isnan(want);
          wrong += std::memcmp(&want, &have, sizeof(float)) != 0;
          wrong += av[size_t(o * inner + k)] != float(best);
        }
      CHECK(wrong == 0);
      CHECK(nans > 0);
    }
}

TEST_CASE("a sum of two terms is bit for bit the double-accumulated sum") {
  // [3, 2, 20000]: the two-term path, threaded; the pair's magnitudes 0 to 60 binades apart, of
  // either sign, and signed zeros (-0 + -0 is +0 in the double sum, which starts at +0)
  const Shape s = {3, 2, 20000};
  std::vector<float> v(size_t(numel_of(s)));
  Generator gen(5);
  std::vector<float> r = rand(s, gen, -1.f, 1.f).to_vector();
  for (size_t i = 0; i < v.size(); ++i) {
    const int64_t k = int64_t(i) % 20000, second = (int64_t(i) / 20000) % 2;
    v[i] = r[i] * std::ldexp(1.f, int(second * (k % 61)) - 30);
    if (k % 97 == 0) v[i] = -0.f;
    if (k % 89 == 0) v[i] = second ? 0.f : -0.f;
  }
  Tensor x = Tensor::from_vector(v, s);
  std::vector<float> got = sum(x, {1}).to_vector();
  int64_t mismatches = 0;
  for (int64_t o = 0; o < 3; ++o)
    for (int64_t k = 0; k < 20000; ++k) {
      double acc = 0.0;  // the general path's accumulation
      acc += v[size_t(o * 40000 + k)];
      acc += v[size_t(o * 40000 + 20000 + k)];
      const float want = float(acc), have = got[size_t(o * 20000 + k)];
      mismatches += std::memcmp(&want, &have, sizeof(float)) != 0;
    }
  CHECK(mismatches == 0);
}

TEST_CASE("softmax and log_softmax over any dim") {
  Tensor x = leaf(uniform({3, 4, 5}, 81, -3.f, 3.f));
  for (int64_t dim : {0, 1, 2}) {
    for (bool lg : {false, true}) {
      CAPTURE(dim);
      CAPTURE(lg);
      x.zero_grad();
      Tensor y = lg ? log_softmax(x, dim) : softmax(x, dim);
      Tensor g = uniform(x.shape(), 82);
      std::vector<float> xv = x.to_vector(), gv = g.to_vector();
      Shape s = x.shape();
      int64_t stride = 1;
      for (int64_t d = 2; d > dim; --d) stride *= s[d];
      std::vector<double> yr(xv.size()), gr(xv.size());
      for (int64_t i = 0; i < x.numel(); ++i) {
        if ((i / stride) % s[dim] != 0) continue;  // i is the first element of its slice
        double m = -INFINITY, z = 0, dot = 0;
        for (int64_t j = 0; j < s[dim]; ++j) m = std::max(m, double(xv[i + j * stride]));
        for (int64_t j = 0; j < s[dim]; ++j) z += std::exp(xv[i + j * stride] - m);
        for (int64_t j = 0; j < s[dim]; ++j) {
          int64_t k = i + j * stride;
          double p = std::exp(xv[k] - m) / z;
          yr[k] = lg ? std::log(p) : p;
          dot += lg ? gv[k] : gv[k] * p;
        }
        for (int64_t j = 0; j < s[dim]; ++j) {
          int64_t k = i + j * stride;
          double p = std::exp(xv[k] - m) / z;
          gr[k] = lg ? gv[k] - p * dot : p * (gv[k] - dot);
        }
      }
      check_close(y, yr, 1e-5, 1e-6, "softmax forward");
      y.backward(g);
      check_close(x.grad(), gr, 1e-4, 1e-6, "softmax backward");
    }
  }
}

TEST_CASE("cat, stack and split move values and gradients") {
  Tensor a = leaf(uniform({2, 3, 4}, 91)), b = leaf(uniform({2, 1, 4}, 92));
  Tensor c = cat({a, b}, 1);
  REQUIRE(c.shape() == Shape{2, 4, 4});
  std::vector<float> av = a.to_vector(), bv = b.to_vector(), cv = c.to_vector();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t k = 0; k < 4; ++k)
        CHECK(cv[(n * 4 + j) * 4 + k] == (j < 3 ? av[(n * 3 + j) * 4 + k] : bv[n * 4 + k]));
  Tensor g = uniform(c.shape(), 93);
  c.backward(g);
  CHECK(a.grad().to_vector() == g.narrow(1, 0, 3).contiguous().to_vector());
  CHECK(b.grad().to_vector() == g.narrow(1, 3, 1).contiguous().to_vector());

  Tensor s = stack({a, a}, 0);
  CHECK(s.shape() == Shape{2, 2, 3, 4});
  auto parts = split(c, {1, 3}, 1);
  CHECK(parts[1].shape() == Shape{2, 3, 4});
  CHECK(parts[0].to_vector() == c.narrow(1, 0, 1).contiguous().to_vector());
  auto ch = chunk(c, 2, 2);
  CHECK(ch[1].to_vector() == c.narrow(2, 2, 2).contiguous().to_vector());
}

TEST_CASE("index_select picks along a dim and scatter-adds gradients (repeats accumulate)") {
  Tensor x = leaf(uniform({3, 5, 2}, 101));
  std::vector<int64_t> pick = {4, 0, 4, 2};
  Tensor idx = Tensor::empty({4}, DType::i64);
  std::copy(pick.begin(), pick.end(), idx.data<int64_t>());
  Tensor y = index_select(x, 1, idx);
  REQUIRE(y.shape() == Shape{3, 4, 2});
  std::vector<float> xv = x.to_vector();
  Tensor g = uniform(y.shape(), 102);
  std::vector<float> gv = g.to_vector();
  std::vector<double> yr(y.numel()), gr(xv.size(), 0);
  for (int64_t a = 0; a < 3; ++a)
    for (int64_t j = 0; j < 4; ++j)
      for (int64_t c = 0; c < 2; ++c) {
        yr[(a * 4 + j) * 2 + c] = xv[(a * 5 + pick[j]) * 2 + c];
        gr[(a * 5 + pick[j]) * 2 + c] += gv[(a * 4 + j) * 2 + c];
      }
  check_close(y, yr, 0, 0, "index_select forward");
  y.backward(g);
  check_close(x.grad(), gr, 1e-6, 1e-7, "index_select backward");
  idx.data<int64_t>()[0] = 5;
  CHECK_THROWS_WITH_AS(index_select(x, 1, idx), doctest::Contains("index 5 out of range"), Error);
}

TEST_CASE("leaky_relu from sign bits: every lane and tail, one thread or many, slope 0 or not") {
  // 100,003 elements: past the parallel threshold, with a tail beyond the last full byte; exact
  // zeros (not positive: the slope's side) and infinities (0 * inf must not become NaN at slope 0)
  Generator g(31);
  std::vector<float> x = randn({100003}, g).to_vector(), gy = randn({100003}, g).to_vector();
  for (size_t i = 0; i < x.size(); i += 97) x[i] = 0.f;
  for (size_t i = 5; i < gy.size(); i += 1013) gy[i] = INFINITY;
  for (float slope : {0.f, 0.01f, 0.2f}) {
    Tensor xt = Tensor::from_vector(x, {100003});
    xt.set_requires_grad();
    Tensor y = leaky_relu(xt, slope);
    y.backward(Tensor::from_vector(gy, {100003}));
    const std::vector<float> got = xt.grad().to_vector(), out = y.to_vector();
    int wrong = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const float want = x[i] > 0 ? gy[i] : (slope == 0.f ? 0.f : gy[i] * slope);
      const float want_y = x[i] > 0 ? x[i] : x[i] * slope;
      wrong += std::memcmp(&got[i], &want, 4) != 0 || out[i] != want_y;
    }
    CHECK_MESSAGE(wrong == 0, "slope ", slope);
  }
}
