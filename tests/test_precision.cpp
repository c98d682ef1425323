// bf16 compute against f32, with the error bound bf16's 8-bit significand gives: each operand is
// rounded to bf16 with relative error at most u = 2^-8, so a product carries at most 2u + u^2,
// and a sum of K products in f32 adds at most about K 2^-24 of the sum of magnitudes. So
//   |r_bf16 - r_f32| <= (2u + u^2 + 2 K 2^-24) * sum |a_i| |b_i|   elementwise,
// where sum |a_i| |b_i| is the same op on |a| and |b| (in f32, inflated by 1% for its own error).
#include <cmath>

#include "engine/precision.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

namespace {
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
