// Every op against a naive loop in double, forward and backward, on awkward shapes.
#include <cmath>
#include <set>

#include "engine/math/max_pool3d.h"
#include "engine/precision.h"
#include "tests/op_cases.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

namespace {

// Upstream gradient G for out, then the gradients of sum(out * G).
std::vector<Tensor> grads_of(const Tensor& out, const std::vector<Tensor>& inputs,
                             const Tensor& g) {
  out.backward(g);
  std::vector<Tensor> gs;
  for (const Tensor& x : inputs) gs.push_back(x.grad());
  return gs;
}

}  // namespace

TEST_CASE("conv3d matches naive loops: forward, backward-data, backward-weights, bias") {
  struct Case {
    Shape x, w;
    Conv3dParams p;
  } cases[] = {
      {{2, 3, 5, 7, 6}, {4, 3, 3, 3, 3}, {{1, 1, 1}, {1, 1, 1}}},
      {{1, 2, 7, 9, 5}, {3, 2, 3, 1, 1}, {{3, 1, 1}, {0, 0, 0}}},     // LTA-like
      {{2, 1, 4, 8, 7}, {5, 1, 2, 3, 3}, {{1, 2, 2}, {0, 1, 1}}},     // stride 2, odd sizes
      {{1, 16, 3, 5, 4}, {17, 16, 3, 3, 3}, {{1, 1, 1}, {1, 1, 1}}},  // blocked layouts
      // stride 1: backward-data runs as a forward conv with padding K-1-pad (0, 1 or 2 here)
      {{2, 16, 4, 6, 5}, {32, 16, 3, 1, 2}, {{1, 1, 1}, {1, 0, 0}}},
      {{1, 3, 4, 5, 6}, {2, 3, 3, 3, 3}, {{1, 1, 1}, {2, 0, 1}}},
      {{1, 2, 3, 4, 4}, {3, 2, 1, 3, 3}, {{1, 1, 1}, {0, 3, 1}}},  // padding > K-1: not so
  };
  int k = 0;
  for (const Case& cs : cases) {
    CAPTURE(k++);
    Tensor x = leaf(uniform(cs.x, 1)), w = leaf(uniform(cs.w, 2)), b = leaf(uniform({cs.w[0]}, 3));
    Tensor y = conv3d(x, w, b, cs.p);
    Conv5 c{cs.x, cs.w, y.shape(), cs.p};
    std::vector<float> xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
    Tensor g = uniform(y.shape(), 4);
    std::vector<float> gv = g.to_vector();
    std::vector<double> yr(y.numel()), gxr(x.numel(), 0), gwr(w.numel(), 0), gbr(bv.size(), 0);
    for (int64_t i = 0; i < y.numel(); ++i) {
      int64_t co = (i / (c.y[2] * c.y[3] * c.y[4])) % c.y[1];
      yr[i] = bv[co];
      gbr[co] += gv[i];
    }
    conv_loops(c, [&](int64_t yi, int64_t xi, int64_t wi) {
      yr[yi] += double(xv[xi]) * wv[wi];
      gxr[xi] += double(gv[yi]) * wv[wi];
      gwr[wi] += double(gv[yi]) * xv[xi];
    });
    check_close(y, yr, 1e-4, 1e-4, "conv3d forward");
    auto gs = grads_of(y, {x, w, b}, g);
    check_close(gs[0], gxr, 1e-4, 1e-4, "conv3d backward data");
    check_close(gs[1], gwr, 1e-4, 1e-4, "conv3d backward weights");
    check_close(gs[2], gbr, 1e-4, 1e-4, "conv3d backward bias");
  }
}

TEST_CASE("conv3d with a fused leaky_relu equals conv3d then leaky_relu, forward and backward") {
  Conv3dParams p{{1, 2, 1}, {1, 1, 0}}, fused = p;
  fused.leaky_relu = true;
  for (float slope : {0.01f, 0.f}) {
    fused.negative_slope = slope;
    Tensor x = leaf(uniform({2, 3, 5, 7, 6}, 15)), w = leaf(uniform({4, 3, 3, 3, 3}, 16));
    Tensor b = leaf(uniform({4}, 17));
    Tensor ref = leaky_relu(conv3d(x, w, b, p), slope);
    Tensor g = uniform(ref.shape(), 18);
    ref.backward(g);
    std::vector<double> gx = to_double(x.grad()), gw = to_double(w.grad()),
                        gb = to_double(b.grad());
    x.zero_grad(), w.zero_grad(), b.zero_grad();
    Tensor y = conv3d(x, w, b, fused);
    CAPTURE(slope);
    check_close(y, to_double(ref), 1e-6, 1e-6, "fused conv + leaky_relu forward");
    y.backward(g);
    check_close(x.grad(), gx, 1e-6, 1e-7, "fused input gradient");
    check_close(w.grad(), gw, 1e-6, 1e-7, "fused weight gradient");
    check_close(b.grad(), gb, 1e-6, 1e-7, "fused bias gradient");
  }
  fused.negative_slope = -0.5f;
  CHECK_THROWS_WITH_AS(
      conv3d(uniform({1, 3, 3, 3, 3}, 19), uniform({4, 3, 3, 3, 3}, 20), Tensor(), fused),
      doctest::Contains("needs a slope >= 0"), Error);
}

TEST_CASE("conv3d with a recomputed input: the same gradients, the input not kept") {
  Conv3dParams p{{1, 1, 1}, {1, 1, 1}};
  Tensor a = leaf(uniform({2, 3, 4, 5, 6}, 11)), w = leaf(uniform({4, 3, 3, 3, 3}, 12));
  Tensor m = uniform({1, 1, 1, 5, 6}, 13), g = uniform({2, 4, 4, 5, 6}, 14);
  conv3d(mul(a, m), w, Tensor(), p).backward(g);
  std::vector<double> ga = to_double(a.grad()), gw = to_double(w.grad());
  a.zero_grad(), w.zero_grad();
  std::weak_ptr<Storage> input;
  int calls = 0;
  Tensor y;
  {
    Tensor x = mul(a, m);
    input = x.storage();
    Tensor ad = a.detach();
    y = conv3d(x, w, Tensor(), p, [ad, m, &calls] { return ++calls, mul(ad, m); });
  }
  CHECK(input.expired());  // rebuilt in backward, not kept
  y.backward(g);
  CHECK(calls == 1);
  check_close(a.grad(), ga, 1e-6, 1e-7, "grad of the input through a recomputed conv");
  check_close(w.grad(), gw, 1e-6, 1e-7, "weight grad from the recomputed input");
}

TEST_CASE("conv3d without bias, repeated calls reuse cached reordered weights correctly") {
  Tensor x = uniform({1, 16, 3, 6, 5}, 5), w = uniform({32, 16, 3, 3, 3}, 6);
  Conv3dParams p{{1, 1, 1}, {1, 1, 1}};
  Tensor y1 = conv3d(x, w, Tensor(), p);
  w.copy_(mul(w, 2.f));  // in-place update bumps the version: the cache must refresh
  Tensor y2 = conv3d(x, w, Tensor(), p);
  check_close(y2, to_double(mul(y1, 2.f)), 1e-5, 1e-5, "conv3d after weight update");
}

TEST_CASE("conv3d backward-data follows the weights: the flipped copy refreshes on updates") {
  Backend& be = backend(Device::cpu);
  Tensor w = uniform({16, 16, 3, 3, 3}, 11), gy = uniform({1, 16, 4, 6, 5}, 12);
  Conv3dParams p{{1, 1, 1}, {1, 1, 1}};
  auto data_grad = [&](const Tensor& weights) {
    Tensor gx = Tensor::empty(gy.shape());
    be.conv3d_backward_data(gy, weights, gx, p);
    return gx;
  };
  Tensor before = data_grad(w);
  w.copy_(mul(w, 2.f));  // in place: the version changes, the storage does not
  check_close(data_grad(w), to_double(mul(before, 2.f)), 1e-5, 1e-5, "after an update");
  // two weights in one storage, the same version, at two offsets
  Tensor both = Tensor::empty({2, 16, 16, 3, 3, 3});
  both.select(0, 0).fill_(0);
  both.select(0, 1).copy_(w);
  check_close(data_grad(both.select(0, 1)), to_double(mul(before, 2.f)), 1e-5, 1e-5, "offset 1");
  check_close(data_grad(both.select(0, 0)), to_double(mul(before, 0.f)), 0, 0, "offset 0");
}

TEST_CASE(
    "conv3d backward-weights reuses backward-data's reordered gradient only when it is gy's") {
  Backend& be = backend(Device::cpu);
  Tensor x = uniform({2, 16, 4, 8, 6}, 7), w = uniform({16, 16, 3, 3, 3}, 8);
  Tensor gy = uniform({2, 16, 4, 8, 6}, 9);
  Conv3dParams p{{1, 1, 1}, {1, 1, 1}};
  for (bool winograd : {false, true}) {  // the Winograd path: the same rules hold
    p.winograd = winograd;
    CAPTURE(winograd);
    auto weights_grad = [&](const Tensor& g) {
      Tensor gw = Tensor::empty(w.shape());
      be.conv3d_backward_weights(x, g, gw, Tensor(), p);
      return gw.to_vector();
    };
    const std::vector<float> alone = weights_grad(gy.clone());
    Tensor gx = Tensor::empty(x.shape());
    be.conv3d_backward_data(gy, w, gx, p);
    CHECK(weights_grad(gy) == alone);  // the shared reorder: the same numbers
    // gy written in place after backward-data: backward-weights must see the new values
    const std::vector<float> fresh = weights_grad(mul(gy, -3.f));
    CHECK(fresh != alone);
    be.conv3d_backward_data(gy, w, gx, p);
    gy.copy_(mul(gy, -3.f));
    CHECK(weights_grad(gy) == fresh);
    // another gradient of the same shape: not the kept one
    be.conv3d_backward_data(gy, w, gx, p);
    CHECK(weights_grad(gy.clone()) == fresh);
    Tensor other = uniform(gy.shape(), 10);
    be.conv3d_backward_data(gy, w, gx, p);
    CHECK(weights_grad(other) == weights_grad(other.clone()));
    CHECK(weights_grad(other) != fresh);
  }
}

TEST_CASE("conv3d as Winograd: near the direct conv on model shapes, and it ran where it can") {
  // oneDNN's Winograd kernels need AVX-512 (avx512_core); elsewhere the direct conv runs
  const bool has_kernels = __builtin_cpu_supports("avx512f") &&
                           __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  Conv3dParams p{{1, 1, 1}, {1, 1, 1}};
  p.leaky_relu = true, p.negative_slope = 0.01f;
  Tensor x = leaf(uniform({2, 32, 6, 16, 11}, 21)),
         w = leaf(uniform({64, 32, 3, 3, 3}, 22, -0.1f, 0.1f));
  Tensor b = leaf(uniform({64}, 23));
  Tensor g = uniform({2, 64, 6, 16, 11}, 24);
  auto run = [&](ConvAlgorithm a) {
    ConvAlgorithmGuard guard(a);
    x.zero_grad(), w.zero_grad(), b.zero_grad();
    Tensor y = conv3d(x, w, b, p);
    y.backward(g);
    return std::vector<std::vector<float>>{y.to_vector(), x.grad().to_vector(),
                                           w.grad().to_vector(), b.grad().to_vector()};
  };
  const auto direct = run(ConvAlgorithm::direct), wino = run(ConvAlgorithm::winograd);
  const char* names[] = {"forward", "input gradient", "weight gradient", "bias gradient"};
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(names[i]);
    double scale = 0, err = 0;
    for (size_t j = 0; j < direct[i].size(); ++j) {
      scale = std::max(scale, std::fabs(double(direct[i][j])));
      err = std::max(err, std::fabs(double(wino[i][j]) - direct[i][j]));
    }
    MESSAGE("Winograd ", std::string(names[i]), ": largest error ", err / scale,
            " of the largest value");
    CHECK(err <= 1e-5 * scale);                               // rounding of the transforms
    if (i < 3) CHECK((wino[i] != direct[i]) == has_kernels);  // which path ran
  }
}

TEST_CASE("leaky_relu and relu match the naive rule, forward and backward") {
  Tensor x = leaf(uniform({3, 5, 7}, 7));
  for (float slope : {0.01f, 0.2f, -0.5f}) {  // a negative slope keeps x, not sign bits
    x.zero_grad();
    Tensor g = uniform(x.shape(), 8);
    Tensor y = leaky_relu(x, slope);
    std::vector<float> xv = x.to_vector(), gv = g.to_vector();
    std::vector<double> yr, gr;
    for (size_t i = 0; i < xv.size(); ++i) {
      yr.push_back(xv[i] > 0 ? xv[i] : double(slope) * xv[i]);
      gr.push_back(xv[i] > 0 ? gv[i] : double(slope) * gv[i]);
    }
    check_close(y, yr, 1e-6, 1e-7, "leaky_relu forward");
    check_close(grads_of(y, {x}, g)[0], gr, 1e-6, 1e-7, "leaky_relu backward");
  }
  x.zero_grad();
  Tensor y = relu(x), g = uniform(x.shape(), 9);
  std::vector<float> xv = x.to_vector(), gv = g.to_vector();
  std::vector<double> yr, gr;
  for (size_t i = 0; i < xv.size(); ++i) {
    yr.push_back(std::max(0.f, xv[i]));
    gr.push_back(xv[i] > 0 ? gv[i] : 0.0);
  }
  check_close(y, yr, 0, 0, "relu forward");
  check_close(grads_of(y, {x}, g)[0], gr, 0, 0, "relu backward");
}

TEST_CASE("batch_norm train and eval match naive statistics for 2-d to 5-d inputs") {
  for (Shape s : {Shape{6, 3}, Shape{4, 3, 5}, Shape{2, 3, 4, 5}, Shape{2, 3, 3, 4, 5}}) {
    CAPTURE(shape_str(s));
    const int64_t n = s[0], c = s[1], inner = numel_of(s) / (n * c), cnt = n * inner;
    Tensor x = leaf(uniform(s, 11, -2.f, 3.f)), w = leaf(uniform({c}, 12, 0.5f, 1.5f)),
           b = leaf(uniform({c}, 13));
    Tensor rm = uniform({c}, 14), rv = uniform({c}, 15, 0.5f, 2.f);
    std::vector<float> rm0 = rm.to_vector(), rv0 = rv.to_vector();
    Tensor y = batch_norm(x, w, b, rm, rv, true, 0.1f, 1e-5f);
    std::vector<float> xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
    Tensor g = uniform(s, 16);
    std::vector<float> gv = g.to_vector();
    auto idx = [&](int64_t i, int64_t ch, int64_t j) { return (i * c + ch) * inner + j; };
    std::vector<double> yr(xv.size()), gxr(xv.size()), gwr(c), gbr(c), rmr(c), rvr(c);
    for (int64_t ch = 0; ch < c; ++ch) {
      double mu = 0, var = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < inner; ++j) mu += xv[idx(i, ch, j)];
      mu /= cnt;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < inner; ++j) var += std::pow(xv[idx(i, ch, j)] - mu, 2);
      var /= cnt;
      double inv = 1 / std::sqrt(var + 1e-5), sg = 0, sgx = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < inner; ++j) {
          double xh = (xv[idx(i, ch, j)] - mu) * inv;
          yr[idx(i, ch, j)] = xh * wv[ch] + bv[ch];
          sg += gv[idx(i, ch, j)];
          sgx += gv[idx(i, ch, j)] * xh;
        }
      gwr[ch] = sgx;
      gbr[ch] = sg;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < inner; ++j) {
          double xh = (xv[idx(i, ch, j)] - mu) * inv;
          gxr[idx(i, ch, j)] = wv[ch] * inv * (gv[idx(i, ch, j)] - sg / cnt - xh * sgx / cnt);
        }
      rmr[ch] = 0.9 * rm0[ch] + 0.1 * mu;
      rvr[ch] = 0.9 * rv0[ch] + 0.1 * var * cnt / (cnt - 1);  // unbiased, PyTorch's way
    }
    check_close(y, yr, 1e-4, 1e-4, "batch_norm train forward");
    check_close(rm, rmr, 1e-5, 1e-6, "running_mean");
    check_close(rv, rvr, 1e-5, 1e-6, "running_var");
    auto gs = grads_of(y, {x, w, b}, g);
    check_close(gs[0], gxr, 1e-3, 1e-4, "batch_norm backward x");
    check_close(gs[1], gwr, 1e-4, 1e-4, "batch_norm backward weight");
    check_close(gs[2], gbr, 1e-4, 1e-4, "batch_norm backward bias");

    // eval mode: running statistics, gradients through the affine map
    x.zero_grad(), w.zero_grad(), b.zero_grad();
    Tensor ye = batch_norm(x, w, b, rm, rv, false);
    std::vector<float> rmv = rm.to_vector(), rvv = rv.to_vector();
    std::vector<double> yer(xv.size()), gxe(xv.size()), gwe(c, 0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t j = 0; j < inner; ++j) {
          double inv = 1 / std::sqrt(double(rvv[ch]) + 1e-5);
          double xh = (xv[idx(i, ch, j)] - rmv[ch]) * inv;
          yer[idx(i, ch, j)] = xh * wv[ch] + bv[ch];
          gxe[idx(i, ch, j)] = gv[idx(i, ch, j)] * wv[ch] * inv;
          gwe[ch] += gv[idx(i, ch, j)] * xh;
        }
    check_close(ye, yer, 1e-4, 1e-4, "batch_norm eval forward");
    auto ge = grads_of(ye, {x, w, b}, g);
    check_close(ge[0], gxe, 1e-4, 1e-4, "batch_norm eval backward x");
    check_close(ge[1], gwe, 1e-4, 1e-4, "batch_norm eval backward weight");
    check_close(ge[2], gbr, 1e-4, 1e-4, "batch_norm eval backward bias");
  }
}

TEST_CASE("max_pool3d matches naive loops with stride and padding; ties go to the first max") {
  struct Case {
    Shape x;
    Pool3dParams p;
  } cases[] = {
      {{2, 3, 4, 8, 6}, {{1, 2, 2}, {1, 2, 2}, {0, 0, 0}}},  // the model's MaxPool0
      {{1, 2, 5, 7, 9}, {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}}},
      {{1, 1, 6, 5, 5}, {{2, 3, 2}, {2, 1, 3}, {0, 1, 1}}},
  };
  for (bool ties : {false, true})
    for (const Case& cs : cases) {
      CAPTURE(ties);
      Tensor x = leaf(ties ? quantized(cs.x, 23) : distinct(cs.x, 21));
      Tensor y = max_pool3d(x, cs.p);
      const Shape& ys = y.shape();
      std::vector<float> xv = x.to_vector();
      Tensor g = uniform(ys, 22);
      std::vector<float> gv = g.to_vector();
      std::vector<double> yr(y.numel()), gxr(x.numel(), 0);
      for (int64_t n = 0; n < ys[0]; ++n)
        for (int64_t c = 0; c < ys[1]; ++c)
          for (int64_t t = 0; t < ys[2]; ++t)
            for (int64_t h = 0; h < ys[3]; ++h)
              for (int64_t w = 0; w < ys[4]; ++w) {
                double best = -INFINITY;
                int64_t arg = -1;
                for (int64_t kt = 0; kt < cs.p.kernel[0]; ++kt)
                  for (int64_t kh = 0; kh < cs.p.kernel[1]; ++kh)
                    for (int64_t kw = 0; kw < cs.p.kernel[2]; ++kw) {
                      int64_t it = t * cs.p.stride[0] - cs.p.padding[0] + kt;
                      int64_t ih = h * cs.p.stride[1] - cs.p.padding[1] + kh;
                      int64_t iw = w * cs.p.stride[2] - cs.p.padding[2] + kw;
                      if (it < 0 || ih < 0 || iw < 0 || it >= cs.x[2] || ih >= cs.x[3] ||
                          iw >= cs.x[4])
                        continue;
                      int64_t xi = at5(cs.x, n, c, it, ih, iw);
                      if (xv[xi] > best) best = xv[xi], arg = xi;
                    }
                int64_t yi = at5(ys, n, c, t, h, w);
                yr[yi] = best;
                gxr[arg] += gv[yi];
              }
      check_close(y, yr, 0, 0, "max_pool3d forward");
      check_close(grads_of(y, {x}, g)[0], gxr, 1e-6, 1e-6, "max_pool3d backward");
    }
}

TEST_CASE(
    "pooling backward: the CUDA kernels' gather form (engine/math/max_pool3d.h) equals the CPU "
    "scatter") {
  const Pool3dParams cases[] = {{{1, 2, 2}, {1, 2, 2}, {0, 0, 0}},
                                {{3, 3, 3}, {2, 2, 2}, {1, 1, 1}},
                                {{2, 3, 2}, {2, 1, 3}, {0, 1, 1}},
                                {{2, 3, 3}, {1, 2, 1}, {1, 1, 1}}};
  const Shape xs = {2, 3, 6, 7, 9};
  for (bool ties : {false, true})
    for (const Pool3dParams& p : cases) {
      CAPTURE(ties);
      Tensor x = leaf(ties ? quantized(xs, 24) : distinct(xs, 25));
      Tensor y = max_pool3d(x, p);
      Tensor g = uniform(y.shape(), 26);
      PoolGeom geom = make_pool_geom(xs.data(), y.shape().data(), p.kernel.data(), p.stride.data(),
                                     p.padding.data());
      REQUIRE(pool_fits_32bit(geom));
      std::vector<float> xv = x.to_vector(), gv = g.to_vector();
      auto gather = [&](auto index_type) {  // the loops of the two CUDA kernels, in I arithmetic
        using I = decltype(index_type);
        std::vector<int64_t> arg(size_t(y.numel()));
        for (I i = 0; i < I(y.numel()); ++i) {
          I o[3];
          I row = pool_split(i, geom.out, o);
          arg[i] = pool_first_argmax(xv.data() + row * I(geom.plane_in), geom, o);
        }
        std::vector<double> gx(size_t(x.numel()));
        for (I i = 0; i < I(x.numel()); ++i) {
          I c[3];
          I row = pool_split(i, geom.in, c);
          gx[i] = pool_input_grad(gv.data() + row * I(geom.plane_out),
                                  arg.data() + row * I(geom.plane_out), geom, c,
                                  I(i % I(geom.plane_in)));
        }
        return gx;
      };
      Tensor gx_cpu = grads_of(y, {x}, g)[0];
      check_close(gx_cpu, gather(int64_t()), 1e-6, 1e-6,
                  "max_pool3d.h gather rule (i64) vs the CPU");
      check_close(gx_cpu, gather(int32_t()), 1e-6, 1e-6,
                  "max_pool3d.h gather rule (i32) vs the CPU");
    }
}

TEST_CASE("gem_pool matches naive loops, forward and backward (input and exponent)") {
  const int64_t rows = 12, len = 9;
  const float eps = 0.05f;
  for (float pv : {1.f, 3.f, 6.5f}) {
    Tensor x = leaf(uniform({3, 4, len}, 27, -0.5f, 2.f));  // some below eps: clamped
    Tensor p = leaf(Tensor::full({1}, pv));
    Tensor y = gem_pool(x, p, eps);
    REQUIRE(y.shape() == Shape{3, 4});
    Tensor g = uniform({3, 4}, 28);
    std::vector<float> xv = x.to_vector(), gv = g.to_vector();
    std::vector<double> yr(rows), gxr(rows * len), gpr(1, 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      double z = 0, zlog = 0;
      for (int64_t i = 0; i < len; ++i) {
        double c = std::max(double(xv[r * len + i]), double(eps));
        z += std::pow(c, pv) / len, zlog += std::pow(c, pv) * std::log(c) / len;
      }
      yr[r] = std::pow(z, 1.0 / pv);
      for (int64_t i = 0; i < len; ++i) {
        double xi = xv[r * len + i];
        gxr[r * len + i] = xi >= eps ? gv[r] * yr[r] * std::pow(xi, pv - 1) / (len * z) : 0.0;
      }
      gpr[0] += gv[r] * yr[r] * (zlog / (z * pv) - std::log(z) / (pv * pv));
    }
    CAPTURE(pv);
    check_close(y, yr, 1e-5, 1e-6, "gem_pool forward");
    auto gs = grads_of(y, {x, p}, g);
    check_close(gs[0], gxr, 1e-4, 1e-6, "gem_pool backward x");
    check_close(gs[1], gpr, 1e-4, 1e-6, "gem_pool backward p");
  }
}

TEST_CASE("matmul: batched, transposed, broadcast batch, against naive loops") {
  struct Case {
    Shape a, b;
    bool ta, tb;
  } cases[] = {
      {{5, 7}, {7, 3}, false, false},
      {{4, 5, 7}, {4, 7, 3}, false, false},       // SeparateFCs: [P, N, C] x [P, C, C']
      {{2, 3, 7, 5}, {1, 3, 7, 6}, true, false},  // broadcast batch + transpose a
      {{3, 5, 7}, {6, 7}, false, true},           // broadcast 2-d b, transposed
      {{1, 5, 7}, {4, 3, 7}, false, true},
  };
  for (const Case& cs : cases) {
    Tensor a = leaf(uniform(cs.a, 31)), b = leaf(uniform(cs.b, 32));
    Tensor c = matmul(a, b, cs.ta, cs.tb);
    int64_t m = cs.ta ? cs.a.back() : cs.a[cs.a.size() - 2];
    int64_t k = cs.ta ? cs.a[cs.a.size() - 2] : cs.a.back();
    int64_t n = cs.tb ? cs.b[cs.b.size() - 2] : cs.b.back();
    Shape batch(c.shape().begin(), c.shape().end() - 2);
    int64_t nb = numel_of(batch);
    REQUIRE(c.size(-2) == m);
    REQUIRE(c.size(-1) == n);
    // expanded copies of a and b, indexed per batch
    Shape fa = batch, fb = batch;
    fa.insert(fa.end(), cs.a.end() - 2, cs.a.end());
    fb.insert(fb.end(), cs.b.end() - 2, cs.b.end());
    std::vector<float> av = a.detach().expand(fa).contiguous().to_vector();
    std::vector<float> bv = b.detach().expand(fb).contiguous().to_vector();
    auto A = [&](int64_t q, int64_t i, int64_t j) {  // op(a)[q][i][j]
      return cs.ta ? av[(q * k + j) * m + i] : av[(q * m + i) * k + j];
    };
    auto B = [&](int64_t q, int64_t i, int64_t j) {
      return cs.tb ? bv[(q * n + j) * k + i] : bv[(q * k + i) * n + j];
    };
    Tensor g = uniform(c.shape(), 33);
    std::vector<float> gv = g.to_vector();
    std::vector<double> cr(c.numel(), 0), gar(av.size(), 0), gbr(bv.size(), 0);
    for (int64_t q = 0; q < nb; ++q)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t l = 0; l < k; ++l) {
            double gij = gv[(q * m + i) * n + j];
            cr[(q * m + i) * n + j] += double(A(q, i, l)) * B(q, l, j);
            gar[cs.ta ? (q * k + l) * m + i : (q * m + i) * k + l] += gij * B(q, l, j);
            gbr[cs.tb ? (q * n + j) * k + l : (q * k + l) * n + j] += gij * A(q, i, l);
          }
    check_close(c, cr, 1e-5, 1e-5, "matmul forward");
    auto gs = grads_of(c, {a, b}, g);
    // reduce the expanded gradients back over broadcast batch dims
    auto reduce = [&](const std::vector<double>& full, const Shape& fs, const Shape& s) {
      NoGradGuard ng;
      std::vector<float> f(full.begin(), full.end());
      return to_double(sum_to(Tensor::from_vector(f, fs), s));
    };
    check_close(gs[0], reduce(gar, fa, cs.a), 1e-4, 1e-5, "matmul grad a");
    check_close(gs[1], reduce(gbr, fb, cs.b), 1e-4, 1e-5, "matmul grad b");
  }
}

TEST_CASE("mean_pairwise_distance: naive loops, and the op-by-op formula bit for bit") {
  // B = 3 slices of N = 7 and M = 6 vectors of C = 5; one pair of equal vectors (distance 0, where
  // the Gram form may go slightly negative and must clamp).
  Tensor x = uniform({3, 7, 5}, 51), y = uniform({3, 6, 5}, 52);
  y.narrow(1, 2, 1).copy_(x.narrow(1, 4, 1));
  Tensor d = mean_pairwise_distance(x, y);
  REQUIRE(d.shape() == Shape{7, 6});
  CHECK_FALSE(d.requires_grad());
  std::vector<float> xv = x.to_vector(), yv = y.to_vector();
  std::vector<double> want(7 * 6, 0.0);
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t i = 0; i < 7; ++i)
      for (int64_t j = 0; j < 6; ++j) {
        double s = 0;
        for (int64_t c = 0; c < 5; ++c) {
          double t = double(xv[(b * 7 + i) * 5 + c]) - yv[(b * 6 + j) * 5 + c];
          s += t * t;
        }
        want[i * 6 + j] += std::sqrt(s) / 3.0;
      }
  check_close(d, want, 1e-5, 1e-5, "mean_pairwise_distance");
  CHECK(d.to_vector()[4 * 6 + 2] < 1e-3f);
  // what the evaluator computed before it worked in tiles, op by op over the whole matrix
  Tensor x2 = sum(mul(x, x), {2}, true), y2 = sum(mul(y, y), {2}, true).transpose(1, 2);
  Tensor old = mean(sqrt(relu(sub(add(x2, y2), mul(matmul(x, y, false, true), 2.f)))), {0});
  CHECK(d.to_vector() == old.to_vector());
  CHECK_THROWS_WITH_AS(mean_pairwise_distance(x, uniform({2, 6, 5}, 53)),
                       doctest::Contains("must be [B, N, C] and [B, M, C]"), Error);
}

// ---- the op table (tests/op_cases.h) ----

TEST_CASE("the op table: every record's forward against its naive loops in double") {
  int checked = 0;
  for (const OpCase& c : op_cases()) {
    if (!c.reference) continue;
    CAPTURE(c.name);
    std::vector<std::vector<double>> host;
    for (const Tensor& t : c.inputs) host.push_back(to_double(t.to(DType::f32)));
    NoGradGuard ng;
    check_close(c.f(c.inputs), c.reference(host), c.rtol, c.atol, c.name.c_str());
    ++checked;
  }
  CHECK(checked >= 40);
}

TEST_CASE("the op table: every op of engine/ops.h has a record") {
  std::set<std::string> recorded;
  for (const OpCase& c : op_cases()) recorded.insert(c.op);
  const std::vector<std::string> ops = public_ops(RMGAIT_SOURCE_DIR "/engine/ops.h");
  CHECK(ops.size() >= 35);  // the header was read
  for (const std::string& op : ops)
    CHECK_MESSAGE(recorded.count(op), "engine/ops.h declares " << op
                                                               << " but tests/op_cases.cpp has no "
                                                                  "record for it");
}
