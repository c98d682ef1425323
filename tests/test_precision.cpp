// bf16 compute against f32, with the error bound bf16's 8-bit significand gives: each operand is
// rounded to bf16 with relative error at most u = 2^-8, so a product carries at most 2u + u^2,
// and a sum of K products in f32 adds at most about K 2^-24 of the sum of magnitudes. So
//   |r_bf16 - r_f32| <= (2u + u^2 + 2 K 2^-24) * sum |a_i| |b_i|   elementwise,
// where sum |a_i| |b_i| is the same op on |a| and |b| (in f32, inflated by 1% for its own error).
#include <cmath>
#include <fstream>
#include <string>

#include "engine/precision.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

namespace {
// Whether /proc/cpuinfo lists the flag (e.g. "amx_bf16") for this CPU.
bool cpu_has_flag(const std::string& flag) {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("flags", 0) == 0)
      return (line + " ").find(" " + flag + " ") != std::string::npos;
  return false;
}

void check_within_bf16_bound(const Tensor& got, const Tensor& want, const Tensor& magnitude,
                             int64_t k, const char* what) {
  const double u = std::ldexp(1.0, -8);
  const double rel = 2 * u + u * u + 2 * double(k) * std::ldexp(1.0, -24);
  std::vector<float> g = got.to_vector(), w = want.to_vector(), m = magnitude.to_vector();
  REQUIRE(g.size() == w.size());
  double worst = 0;  // the largest error as a share of its bound
  for (size_t i = 0; i < g.size(); ++i)
    worst = std::max(worst, std::fabs(double(g[i]) - w[i]) / (rel * 1.01 * m[i] + 1e-30));
  MESSAGE(std::string(what) << ": the largest error is " << worst << " of its bound");
  CHECK(worst <= 1.0);
  CHECK(worst > 0.0);  // bf16 really ran: the results differ from f32
}
}  // namespace

TEST_CASE("bf16 conv3d and matmul stay within the bf16 rounding bound of f32") {
  if (!backend(Device::cpu).has_bf16()) {
    MESSAGE("this CPU has no AVX512-BF16: bf16 is refused (tested below), nothing to compare");
    CHECK_THROWS_WITH_AS(check_precision(Precision::bf16, Device::cpu),
                         doctest::Contains("neither AVX512-BF16 nor AMX-BF16"), Error);
    return;
  }
  Conv3dParams p{{1, 1, 1}, {1, 1, 1}};
  Tensor x = uniform({2, 16, 4, 9, 7}, 81), w = uniform({24, 16, 3, 3, 3}, 82);
  Tensor g = uniform({2, 24, 4, 9, 7}, 83);
  auto run = [&](Precision prec, const Tensor& xv, const Tensor& wv, const Tensor& gv) {
    Tensor xl = leaf(xv), wl = leaf(wv), y;
    {
      PrecisionGuard pg(prec);
      y = conv3d(xl, wl, Tensor(), p);
    }
    y.backward(gv);  // outside the guard: the op keeps its precision for backward
    return std::vector<Tensor>{y.detach(), xl.grad(), wl.grad()};
  };
  auto f32 = run(Precision::f32, x, w, g), bf = run(Precision::bf16, x, w, g);
  auto mag = run(Precision::f32, abs(x), abs(w), abs(g));
  check_within_bf16_bound(bf[0], f32[0], mag[0], 16 * 27, "conv3d forward");
  check_within_bf16_bound(bf[1], f32[1], mag[1], 24 * 27, "conv3d backward data");
  check_within_bf16_bound(bf[2], f32[2], mag[2], 2 * 4 * 9 * 7, "conv3d backward weights");

  Tensor a = uniform({3, 5, 40}, 84), b = uniform({3, 40, 6}, 85);
  Tensor c32 = matmul(a, b), cbf;
  {
    PrecisionGuard pg(Precision::bf16);
    cbf = matmul(a, b);
  }
  check_within_bf16_bound(cbf, c32, matmul(abs(a), abs(b)), 40, "matmul");
}

TEST_CASE("bf16 conv3d backward-weights equals naive loops over the bf16-rounded operands") {
  // 64 input channels, 3x3 spatial taps, stride 1: the form that runs over frame stacks on CPUs
  // with bf16 kernels (engine/cpu/conv3d_bf16_weights.h); 9 x 7 pixels leave a part tile. The
  // operands rounded to bf16 are multiplied exactly, so only f32 summation separates the result
  // from the loops in double: any frame, pixel or channel out of place would show at full size.
  if (!backend(Device::cpu).has_bf16()) {
    MESSAGE("this CPU has no AVX512-BF16: nothing runs in bf16");
    return;
  }
  Backend& be = backend(Device::cpu);
  // x and gy row-major, or channels-last as a bf16 network's activations come (the stacks are
  // then read as rows of channels)
  auto channels_last = [](const Tensor& t) {
    return t.permute({0, 2, 3, 4, 1}).contiguous().permute({0, 4, 1, 2, 3});
  };
  for (bool cl : {false, true})
    for (int64_t pt : {1, 0})
      for (DType xtype : {DType::f32, DType::bf16}) {
        CAPTURE(cl);
        CAPTURE(pt);
        Conv3dParams p{{1, 1, 1}, {pt, 1, 1}};
        p.bf16 = true;
        const Shape xs{3, 64, 5, 9, 7}, ws{32, 64, 3, 3, 3};
        const Shape ys{3, 32, 5 + 2 * pt - 2, 9, 7};
        Tensor x = uniform(xs, 101 + pt), gy = uniform(ys, 103 + pt), gw = Tensor::empty(ws);
        Tensor xin = cl ? channels_last(x.to(xtype)) : x.to(xtype),
               gin = cl ? channels_last(gy) : gy;
        be.conv3d_backward_weights(xin, gin, gw, Tensor(), p);
        const std::vector<float> xr = x.to(DType::bf16).to(DType::f32).to_vector(),
                                 gr = gy.to(DType::bf16).to(DType::f32).to_vector();
        std::vector<double> want(size_t(numel_of(ws))), mag(want.size());
        conv_loops(Conv5{xs, ws, ys, p}, [&](int64_t yi, int64_t xi, int64_t wi) {
          const double ab = double(xr[size_t(xi)]) * gr[size_t(yi)];
          want[size_t(wi)] += ab, mag[size_t(wi)] += std::fabs(ab);
        });
        const std::vector<float> got = gw.to_vector();
        double worst = 0;  // as a share of f32 summation's bound over 3 * 5 * 9 * 7 products
        for (size_t i = 0; i < got.size(); ++i)
          worst = std::max(worst, std::fabs(got[i] - want[i]) / (945 * 0x1p-24 * mag[i] + 1e-30));
        MESSAGE("bf16 backward-weights, "
                << (cl ? "channels-last" : "row-major") << ", temporal padding " << pt << ", x "
                << std::string(dtype_name(xtype)) << ": the largest error is " << worst
                << " of its bound");
        CHECK(worst <= 1.0);
      }
  {  // several sample groups (at most 32 MiB of stacks a call): against the 3D form, which a
     // bias gradient selects (same bf16 products, summed in another order)
    Conv3dParams p{{1, 1, 1}, {1, 1, 1}};
    p.bf16 = true;
    Tensor x = uniform({14, 64, 10, 32, 22}, 105), gy = uniform({14, 16, 10, 32, 22}, 106);
    Tensor stacked = Tensor::empty({16, 64, 3, 3, 3}), direct = Tensor::empty(stacked.shape());
    be.conv3d_backward_weights(x, gy, stacked, Tensor(), p);
    be.conv3d_backward_weights(x, gy, direct, Tensor::empty({16}), p);
    const std::vector<float> a = stacked.to_vector(), b = direct.to_vector();
    double scale = 0, err = 0;
    for (size_t i = 0; i < a.size(); ++i)
      scale = std::max(scale, std::fabs(double(b[i]))),
      err = std::max(err, std::fabs(double(a[i]) - b[i]));
    MESSAGE("bf16 backward-weights over sample groups: "
            << err / scale << " of the largest value off the 3D form's");
    CHECK(err <= 1e-4 * scale);
    // on AMX CPUs the stacks ran: the same products, summed in another order
    if (cpu_has_flag("amx_bf16")) CHECK(a != b);
  }
}

TEST_CASE("bf16 forward and backward-weights over one or two input channels run in f32") {
  // engine/cpu/conv3d.cpp (as_run): AMX wastes most of each tile on so few channels, so these
  // passes take the f32 kernels: the results are those of f32 on the same (bf16-valued) input
  // and output gradient, bit for bit; backward-data, the faster in bf16, stays bf16. The passes
  // run in the op's order (backward-data hands its reordered bf16 gradient to backward-weights,
  // which must not take it for its f32 kernel), x and gy in bf16 as a training step has them.
  if (!backend(Device::cpu).has_bf16()) {
    MESSAGE("this CPU has no AVX512-BF16: nothing runs in bf16");
    return;
  }
  Backend& be = backend(Device::cpu);
  for (int64_t ci : {1, 2, 3}) {
    CAPTURE(ci);
    Conv3dParams f32{{1, 1, 1}, {1, 1, 1}}, bf = f32;
    bf.bf16 = true;
    const Shape xs{2, ci, 5, 9, 7}, ws{16, ci, 3, 3, 3};
    Tensor x = uniform(xs, 111 + ci).to(DType::bf16), w = uniform(ws, 112 + ci);
    Tensor gy = uniform({2, 16, 5, 9, 7}, 113 + ci).to(DType::bf16);
    auto pass = [&](const Conv3dParams& p) {
      const Tensor xin = p.bf16 ? x : x.to(DType::f32), gin = p.bf16 ? gy : gy.to(DType::f32);
      Tensor y = Tensor::empty(gy.shape()), gw = Tensor::empty(ws), gx = Tensor::empty(xs);
      be.conv3d_forward(xin, w, Tensor(), y, p);
      be.conv3d_backward_data(gin, w, gx, p);
      be.conv3d_backward_weights(xin, gin, gw, Tensor(), p);
      return std::vector<std::vector<float>>{y.to_vector(), gw.to_vector(), gx.to_vector()};
    };
    const auto want = pass(f32), got = pass(bf);
    CHECK((got[0] == want[0]) == (ci <= 2));  // forward
    CHECK((got[1] == want[1]) == (ci <= 2));  // backward-weights
    CHECK(got[2] != want[2]);                 // backward-data: bf16 products
  }
}

TEST_CASE("conv algorithm names and the guard") {
  CHECK(parse_conv_algorithm("winograd") == ConvAlgorithm::winograd);
  CHECK(std::string(conv_algorithm_name(ConvAlgorithm::direct)) == "direct");
  CHECK_THROWS_WITH_AS(parse_conv_algorithm("fft"),
                       doctest::Contains("'fft': expected direct or winograd"), Error);
  CHECK(conv_algorithm() == ConvAlgorithm::direct);  // the engine's default: exact
  {
    ConvAlgorithmGuard g(ConvAlgorithm::winograd);
    CHECK(conv_algorithm() == ConvAlgorithm::winograd);
  }
  CHECK(conv_algorithm() == ConvAlgorithm::direct);
}

TEST_CASE("precision names and the guard") {
  CHECK(parse_precision("bf16") == Precision::bf16);
  CHECK_THROWS_WITH_AS(parse_precision("fp16"), doctest::Contains("'fp16': expected f32 or bf16"),
                       Error);
  CHECK(compute_precision() == Precision::f32);
  {
    PrecisionGuard pg(Precision::bf16);
    CHECK(compute_precision() == Precision::bf16);
  }
  CHECK(compute_precision() == Precision::f32);
}

TEST_CASE("bf16 tensors: f32 -> bf16 rounds to nearest even on every path, and widens exactly") {
  const float tiny = std::ldexp(1.f, -126), denormal = std::ldexp(1.f, -133);
  // Each value with its bf16 by hand: ties go to the even significand; past the largest bf16,
  // rounding carries into inf; NaN stays a NaN; denormals become zeros of their sign (as
  // AVX512-BF16's conversion, which oneDNN's reorders use, makes them).
  const std::vector<std::pair<float, float>> cases = {
      {1.f, 1.f},
      {1.f + std::ldexp(1.f, -8), 1.f},                            // a tie: down to even
      {1.f + 3 * std::ldexp(1.f, -8), 1.f + std::ldexp(1.f, -6)},  // a tie: up to even
      {1.f + std::ldexp(1.f, -8) + std::ldexp(1.f, -20), 1.f + std::ldexp(1.f, -7)},  // past one
      {-2.5f, -2.5f},
      {-0.f, -0.f},
      {3.4e38f, INFINITY},
      {-INFINITY, -INFINITY},
      {tiny, tiny},
      {denormal + std::ldexp(1.f, -141), 0.f},
      {-denormal, -0.f},
      {NAN, NAN}};
  std::vector<float> in, in2;  // in2: each value then a 0, read with stride 2
  for (auto& c : cases) in.push_back(c.first), in2.push_back(c.first), in2.push_back(0.f);
  const int64_t n = int64_t(in.size());
  // contiguous: oneDNN's reorder; strided: the generic loop over BFloat16 (engine/math/bf16.h)
  Tensor contiguous = Tensor::from_vector(in, {n}).to(DType::bf16);
  Tensor strided = Tensor::empty({n, 2}, DType::bf16).narrow(1, 0, 1);
  strided.copy_(Tensor::from_vector(in2, {n, 2}).narrow(1, 0, 1));
  REQUIRE(contiguous.dtype() == DType::bf16);
  REQUIRE(!strided.is_contiguous());
  const BFloat16* a = contiguous.data<BFloat16>();
  const BFloat16* b = strided.data<BFloat16>();
  for (int64_t i = 0; i < n; ++i) {
    const float want = cases[size_t(i)].second, got = a[i];
    CAPTURE(in[size_t(i)]);
    CHECK(a[i].bits == b[2 * i].bits);
    CHECK(a[i].bits == BFloat16(in[size_t(i)]).bits);
    if (std::isnan(want)) {
      CHECK(std::isnan(got));
    } else {
      CHECK(got == want);
      CHECK(std::signbit(got) == std::signbit(want));
    }
  }
  // widening is exact, contiguous and strided
  std::vector<float> back = contiguous.to(DType::f32).to_vector();
  Tensor wide = Tensor::zeros({n, 2}).narrow(1, 1, 1);
  wide.copy_(strided);
  std::vector<float> back2 = wide.contiguous().to_vector();
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(float(a[i]))) continue;
    CHECK(back[size_t(i)] == float(a[i]));
    CHECK(back2[size_t(i)] == float(a[i]));
  }
}

TEST_CASE("a conv under bf16 keeps its input in bf16 and multiplies it as it would the f32 input") {
  if (!backend(Device::cpu).has_bf16()) {
    MESSAGE("this CPU has no AVX512-BF16: nothing runs in bf16");
    return;
  }
  Conv3dParams p{{1, 1, 1}, {1, 1, 1}};
  p.bf16 = true, p.leaky_relu = true, p.negative_slope = 0.01f;
  Tensor x0 = uniform({2, 16, 8, 32, 22}, 91), w = uniform({24, 16, 3, 3, 3}, 92);
  Tensor g = uniform({2, 24, 8, 32, 22}, 93);
  // The backend on f32 tensors (the input, the gradient through the fused leaky_relu): what the
  // op, with its bf16 copies, must reproduce bit for bit.
  Backend& be = backend(Device::cpu);
  Tensor y_want = Tensor::empty(g.shape()), bits = Tensor::empty({(g.numel() + 7) / 8}, DType::u8);
  Tensor pre = Tensor::empty(g.shape()), gx_want = Tensor::empty(x0.shape());
  Tensor gw_want = Tensor::empty(w.shape());
  be.conv3d_forward(x0, w, Tensor(), y_want, p);
  be.sign_bits(y_want, bits);
  be.leaky_relu_backward_bits(g, bits, pre, p.negative_slope);
  Conv3dParams plain = p;
  plain.leaky_relu = false;
  be.conv3d_backward_data(pre, w, gx_want, plain);
  be.conv3d_backward_weights(x0, pre, gw_want, Tensor(), plain);

  auto run = [&](Precision prec) {
    Tensor xl = leaf(x0), wl = leaf(w), y;
    {
      PrecisionGuard pg(prec);
      y = conv3d(mul(xl, 1.f), wl, Tensor(), p);
    }
    y.backward(g);
    return std::vector<Tensor>{y.detach(), xl.grad(), wl.grad()};
  };
  auto f32 = run(Precision::f32);
  auto bf = run(Precision::bf16);
  CHECK(bf[0].to_vector() == y_want.to_vector());
  CHECK(bf[1].to_vector() == gx_want.to_vector());
  CHECK(bf[2].to_vector() == gw_want.to_vector());
  CHECK(f32[2].to_vector() != gw_want.to_vector());  // bf16 really ran

  // the leaky_relu backward written in bf16 rounds as the portable rule (denormals included)
  std::vector<float> gv = uniform({4096}, 94).to_vector();
  for (size_t i = 0; i < 64; ++i) gv[i] = std::ldexp(gv[i], -130);  // denormals
  Tensor gd = Tensor::from_vector(gv, {4096}), yd = uniform({4096}, 95);
  Tensor bd = Tensor::empty({512}, DType::u8), out = Tensor::empty({4096}, DType::bf16);
  be.sign_bits(yd, bd);
  be.leaky_relu_backward_bits(gd, bd, out, 0.01f);
  std::vector<float> yv = yd.to_vector();
  int same = 0;
  for (size_t i = 0; i < gv.size(); ++i)
    same += out.data<BFloat16>()[i].bits ==
            BFloat16(leaky_relu_backward_bit(gv[i], yv[i] > 0.f, 0.01f)).bits;
  CHECK(same == 4096);

  // What the graph holds: the bytes freed when y's node goes (y's values kept aside).
  Tensor wl = leaf(w);
  auto kept_bytes = [&](Precision prec) {
    PrecisionGuard pg(prec);
    release_cached_cpu_memory();  // each block then has its own size, not a larger cached one's
    Tensor y = conv3d(mul(x0, 1.f), wl, Tensor(), p);  // x: only the conv holds it
    Tensor values = y.detach();
    const size_t held = cpu_memory_stats().in_use;
    y = Tensor();
    return held - cpu_memory_stats().in_use;
  };
  // f32 keeps x (4 bytes an element), bf16 its bf16 copy (2 bytes), and both the output's sign
  // bits (1/8 byte an element); the cache is emptied first, so x's block is its size class
  // (at most 1/8 above the request, engine/storage.cpp), but the small bits block may reuse a
  // block freed during the forward (the cache hands out up to twice the request)
  const size_t kept32 = kept_bytes(Precision::f32), kept16 = kept_bytes(Precision::bf16);
  MESSAGE("kept for backward: f32 " << kept32 << " bytes, bf16 " << kept16 << " bytes");
  const size_t n = size_t(x0.numel()), nbits = size_t(g.numel() + 7) / 8;
  CHECK(kept32 >= n * 4 + nbits);
  CHECK(kept32 <= n * 4 * 9 / 8 + 2 * nbits);
  CHECK(kept16 >= n * 2 + nbits);
  CHECK(kept16 <= n * 2 * 9 / 8 + 2 * nbits);
}

TEST_CASE("bf16_copy: one copy per value of a tensor, a new one after an in-place write") {
  Tensor x = uniform({3, 4, 5}, 96);
  Tensor a = bf16_copy(x), b = bf16_copy(x);
  CHECK(a.dtype() == DType::bf16);
  CHECK(a.storage() == b.storage());                              // shared while held
  CHECK(bf16_copy(x.narrow(1, 1, 2)).shape() == Shape{3, 2, 5});  // a view: its own copy
  CHECK(bf16_copy(x.narrow(1, 1, 2)).storage() != a.storage());
  x.narrow(0, 0, 1).fill_(2.f);  // bumps the version: the old copy no longer matches x
  Tensor c = bf16_copy(x);
  CHECK(c.storage() != a.storage());
  CHECK(float(c.data<BFloat16>()[0]) == 2.f);
  CHECK(float(a.data<BFloat16>()[0]) != 2.f);
  CHECK(bf16_copy(a).storage() == a.storage());  // already bf16: itself
  CHECK_THROWS_WITH_AS(bf16_copy(Tensor::zeros({2}, DType::i64)),
                       doctest::Contains("bf16_copy: got a i64 tensor [2]; expected f32 or bf16"),
                       Error);
}

TEST_CASE("convs and pooling take channels-last tensors and give what row-major ones give") {
  // engine/ops/layout.h: the CPU's bf16 conv kernels write channels-last, so under bf16 a conv's
  // output and input gradient come so, and the next conv, pooling and the elementwise ops take
  // them as they lie. Row-major and channels-last inputs give the same values and gradients,
  // bit for bit, in f32 and (where the CPU has it) bf16.
  const Shape xs{2, 16, 4, 8, 6};
  const Tensor x0 = uniform(xs, 301), w1 = uniform({32, 16, 3, 3, 3}, 302, -0.2f, 0.2f),
               w2 = uniform({16, 32, 3, 3, 3}, 303, -0.2f, 0.2f);
  const Tensor mask = Tensor::from_vector({1.f, 0.5f}, {2, 1, 1, 1, 1, 1});
  std::vector<Precision> precisions{Precision::f32};
  if (backend(Device::cpu).has_bf16()) precisions.push_back(Precision::bf16);
  for (Precision prec : precisions) {
    CAPTURE(precision_name(prec));
    PrecisionGuard guard(prec);
    Conv3dParams p{{1, 1, 1}, {1, 1, 1}};
    p.leaky_relu = true;
    p.negative_slope = 0.01f;
    Shape y1_strides;
    // conv -> a masked pair through a second conv, summed -> pooling -> a weighted sum
    auto run = [&](const Tensor& xin) {
      Tensor x = xin, a = leaf(w1), b = leaf(w2);
      x.set_requires_grad(true);
      Tensor y1 = conv3d(x, a, Tensor(), p);
      y1_strides = y1.strides();
      Tensor pair = mul(y1.unsqueeze(0), mask).view({4, 32, 4, 8, 6});
      Tensor y2 = conv3d(pair, b, Tensor(), p);
      Tensor s = sum(y2.view({2, 2, 16, 4, 8, 6}), {0});
      Tensor z = max_pool3d(s, {{1, 2, 2}, {1, 2, 2}, {0, 0, 0}});
      sum(mul(z, uniform(z.shape(), 304))).backward();
      return std::vector<std::vector<float>>{z.to_vector(), x.grad().to_vector(),
                                             a.grad().to_vector(), b.grad().to_vector()};
    };
    const auto plain = run(x0.clone());
    const Shape plain_strides = y1_strides;
    const auto cl = run(x0.permute({0, 2, 3, 4, 1}).contiguous().permute({0, 4, 1, 2, 3}));
    CHECK(plain_strides == y1_strides);  // the output's layout is the conv's, not the input's
    if (prec == Precision::f32) CHECK(y1_strides == contiguous_strides({2, 32, 4, 8, 6}));
    if (prec == Precision::bf16)  // the CPU's bf16 convs write channels-last
      CHECK(y1_strides == strides_in_order({2, 32, 4, 8, 6}, {0, 2, 3, 4, 1}));
    for (size_t i = 0; i < plain.size(); ++i) {
      CAPTURE(i);
      CHECK(cl[i] == plain[i]);
    }
  }
  // pooling alone: a channels-last input gives a channels-last output and gradient
  Tensor x = uniform(xs, 305).permute({0, 2, 3, 4, 1}).contiguous().permute({0, 4, 1, 2, 3});
  x.set_requires_grad(true);
  Tensor xp = leaf(x);
  const Pool3dParams pool{{2, 3, 2}, {1, 2, 2}, {1, 1, 0}};
  Tensor y = max_pool3d(x, pool), yp = max_pool3d(xp, pool);
  CHECK(y.strides() == strides_in_order(y.shape(), {0, 2, 3, 4, 1}));
  CHECK(y.to_vector() == yp.to_vector());
  Tensor g = uniform(y.shape(), 306);
  sum(mul(y, g)).backward();
  sum(mul(yp, g)).backward();
  CHECK(x.grad().to_vector() == xp.grad().to_vector());
}
