// Finite-difference gradient checks for every differentiable op and for a small
// conv -> BN -> LeakyReLU -> pool -> matmul network.
#include "tests/op_cases.h"
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

TEST_CASE("gradcheck: conv3d with stride, padding and bias") {
  Tensor x = leaf(uniform({2, 2, 4, 5, 4}, 1)), w = leaf(uniform({3, 2, 3, 3, 2}, 2));
  Tensor b = leaf(uniform({3}, 3));
  Conv3dParams p{{1, 2, 1}, {1, 1, 0}};
  gradcheck([&](auto& in) { return conv3d(in[0], in[1], in[2], p); }, {x, w, b}, "conv3d");
}

TEST_CASE("gradcheck: leaky_relu and relu away from the kink") {
  Tensor x = leaf(away_from_zero({3, 4, 5}, 4, 0.05f));
  gradcheck([](auto& in) { return leaky_relu(in[0], 0.01f); }, {x}, "leaky_relu");
  gradcheck([](auto& in) { return relu(in[0]); }, {x}, "relu");
}

TEST_CASE("gradcheck: batch_norm train (batch statistics) and eval") {
  for (Shape s : {Shape{5, 3}, Shape{3, 2, 4}, Shape{2, 3, 2, 3, 2}}) {
    CAPTURE(shape_str(s));
    Tensor x = leaf(uniform(s, 5, -1.f, 2.f)), w = leaf(uniform({s[1]}, 6, 0.5f, 1.5f));
    Tensor b = leaf(uniform({s[1]}, 7));
    gradcheck(
        [&](auto& in) {
          Tensor rm = Tensor::zeros({s[1]}), rv = Tensor::ones({s[1]});
          return batch_norm(in[0], in[1], in[2], rm, rv, true);
        },
        {x, w, b}, "batch_norm train", {1e-2, 2e-2, 64});
    Tensor rm = uniform({s[1]}, 8), rv = uniform({s[1]}, 9, 0.5f, 1.5f);
    gradcheck([&](auto& in) { return batch_norm(in[0], in[1], in[2], rm, rv, false); }, {x, w, b},
              "batch_norm eval");
  }
}

TEST_CASE("gradcheck: max_pool3d on distinct values") {
  Tensor x = leaf(distinct({1, 2, 4, 6, 5}, 10, 0.05f));
  Pool3dParams p{{2, 3, 2}, {2, 2, 2}, {1, 1, 1}};
  gradcheck([&](auto& in) { return max_pool3d(in[0], p); }, {x}, "max_pool3d", {1e-2, 1e-2, 200});
}

TEST_CASE("gradcheck: matmul variants") {
  Tensor a = leaf(uniform({3, 4, 5}, 11)), b = leaf(uniform({3, 5, 2}, 12));
  gradcheck([](auto& in) { return matmul(in[0], in[1]); }, {a, b}, "matmul");
  Tensor bt = leaf(uniform({2, 5}, 13));
  gradcheck([](auto& in) { return matmul(in[0], in[1], false, true); }, {a, bt}, "matmul bT");
  Tensor at = leaf(uniform({1, 5, 4}, 14));
  gradcheck([](auto& in) { return matmul(in[0], in[1], true, false); }, {at, b}, "matmul aT");
}

TEST_CASE("gradcheck: elementwise with broadcasting") {
  Tensor a = leaf(uniform({3, 1, 4}, 15, 0.5f, 2.f)), b = leaf(uniform({5, 1}, 16, 0.5f, 2.f));
  gradcheck([](auto& in) { return add(in[0], in[1]); }, {a, b}, "add");
  gradcheck([](auto& in) { return sub(in[0], in[1]); }, {a, b}, "sub");
  gradcheck([](auto& in) { return mul(in[0], in[1]); }, {a, b}, "mul");
  gradcheck([](auto& in) { return div(in[0], in[1]); }, {a, b}, "div");
  gradcheck([](auto& in) { return pow(in[0], in[1]); }, {a, b}, "pow (tensor exponent)",
            {1e-3, 1e-2, 64});
  Tensor c = leaf(uniform({3, 5, 4}, 17, 0.5f, 2.f)), d = leaf(uniform({3, 5, 4}, 18, 3.f, 4.f));
  gradcheck([](auto& in) { return maximum(in[0], in[1]); }, {c, d}, "maximum");
  gradcheck([](auto& in) { return minimum(in[0], in[1]); }, {c, d}, "minimum");
  Tensor cond = compare(BinaryOp::gt, uniform({3, 5, 1}, 19), Tensor::scalar(0.f));
  gradcheck([&](auto& in) { return where(cond, in[0], in[1]); }, {c, b}, "where");
}

TEST_CASE("gradcheck: unary ops") {
  Tensor x = leaf(uniform({4, 6}, 20, 0.5f, 2.f));
  gradcheck([](auto& in) { return exp(in[0]); }, {x}, "exp");
  gradcheck([](auto& in) { return log(in[0]); }, {x}, "log");
  gradcheck([](auto& in) { return sqrt(in[0]); }, {x}, "sqrt");
  gradcheck([](auto& in) { return neg(in[0]); }, {x}, "neg");
  gradcheck([](auto& in) { return pow(in[0], 6.5f); }, {x}, "pow scalar", {1e-3, 1e-2, 64});
  gradcheck([](auto& in) { return div(1.f, in[0]); }, {x}, "rdiv");
  Tensor y = leaf(away_from_zero({4, 6}, 21, 0.05f));
  gradcheck([](auto& in) { return abs(in[0]); }, {y}, "abs");
  gradcheck([](auto& in) { return clamp(in[0], -0.5f, 0.5f); },
            {leaf(away_from_zero({4, 6}, 22, 0.55f, 1.f))}, "clamp outside");
  gradcheck([](auto& in) { return clamp(in[0], -2.f, 2.f); }, {y}, "clamp inside");
}

TEST_CASE("gradcheck: GeM pooling, input and exponent") {
  Tensor p = leaf(Tensor::full({1}, 3.5f));
  gradcheck([](auto& in) { return gem_pool(in[0], in[1], 1e-6f); },
            {leaf(uniform({3, 4, 7}, 23, 0.2f, 2.f)), p}, "gem_pool", {1e-3, 1e-2, 64});
  // some inputs below eps sit on the clamp's flat side
  gradcheck([](auto& in) { return gem_pool(in[0], in[1], 0.1f); },
            {leaf(away_from_zero({5, 6}, 24, 0.15f, 1.5f)), p}, "gem_pool clamped",
            {1e-3, 1e-2, 64});
}

TEST_CASE("gradcheck: reductions, softmax, views and shape ops") {
  Tensor x = leaf(distinct({3, 4, 5}, 23, 0.05f));
  gradcheck([](auto& in) { return sum(in[0], {1}); }, {x}, "sum");
  gradcheck([](auto& in) { return mean(in[0], {0, 2}, true); }, {x}, "mean");
  gradcheck([](auto& in) { return max(in[0], {2}); }, {x}, "max");
  gradcheck([](auto& in) { return min(in[0], {0, 1}); }, {x}, "min");
  gradcheck([](auto& in) { return sum(in[0]).reshape({1}); }, {x}, "total sum");
  gradcheck([](auto& in) { return softmax(in[0], 1); }, {x}, "softmax");
  gradcheck([](auto& in) { return log_softmax(in[0], 2); }, {x}, "log_softmax");
  gradcheck([](auto& in) { return in[0].permute({2, 0, 1}).reshape({5, 12}); }, {x}, "permute");
  gradcheck([](auto& in) { return in[0].narrow(1, 1, 2).transpose(0, 2); }, {x}, "narrow");
  gradcheck([](auto& in) { return in[0].unsqueeze(1).expand({3, 2, 4, 5}); }, {x}, "expand");
  gradcheck([](auto& in) { return in[0].select(2, 3).squeeze(0 + 0 * 1).unsqueeze(0); },
            {leaf(uniform({1, 4, 5}, 24))}, "select/squeeze");
  Tensor y = leaf(uniform({3, 2, 5}, 25));
  gradcheck([](auto& in) { return cat({in[0], in[1], in[0]}, 1); }, {x, y}, "cat");
  gradcheck([](auto& in) { return stack({in[0], in[0]}, 3); }, {x}, "stack");
  gradcheck([](auto& in) { return split(in[0], {1, 3}, 1)[1]; }, {x}, "split");
}

TEST_CASE("gradcheck: random masks re-seeded before each evaluation") {
  // A Bernoulli mask drawn inside f from a fresh generator: every evaluation sees the same mask.
  Tensor x = leaf(uniform({2, 3, 4, 5}, 26));
  gradcheck(
      [](auto& in) {
        Generator g(1234);
        Tensor m = bernoulli({1, 1, 4, 5}, 0.5f, g);
        return mul(leaky_relu(mul(in[0], m)), in[0]);
      },
      {leaf(away_from_zero({2, 3, 4, 5}, 27, 0.05f))}, "bernoulli-masked product");
}

TEST_CASE("gradcheck: a small conv -> BN -> LeakyReLU -> pool -> matmul network") {
  Tensor x = leaf(uniform({2, 1, 3, 6, 4}, 30));
  Tensor w1 = leaf(uniform({4, 1, 3, 3, 3}, 31, -0.5f, 0.5f));
  Tensor bw = leaf(uniform({4}, 32, 0.5f, 1.5f)), bb = leaf(uniform({4}, 33));
  Tensor fc = leaf(uniform({3, 4, 5}, 34));  // per-part FC: [P, C, C'] with P = 3 rows
  auto net = [](auto& in) {
    Tensor rm = Tensor::zeros({4}), rv = Tensor::ones({4});
    Tensor h = conv3d(in[0], in[1], Tensor(), {{1, 1, 1}, {1, 1, 1}});
    h = batch_norm(h, in[2], in[3], rm, rv, true);
    h = leaky_relu(h, 0.01f);
    h = max_pool3d(h, {{1, 2, 2}, {1, 2, 2}, {0, 0, 0}});  // [2, 4, 3, 3, 2]
    h = max(h, {2});                                       // temporal max -> [2, 4, 3, 2]
    h = mean(h, {3});                                      // [2, 4, 3]
    h = h.permute({2, 0, 1});                              // [P=3, N=2, C=4]
    return matmul(h, in[4]);                               // [3, 2, 5]
  };
  // Kinks (lrelu at 0, ties in max) are measure-zero for these seeded inputs; eps is small.
  gradcheck(net, {x, w1, bw, bb, fc}, "network", {2e-3, 3e-2, 48});
}

TEST_CASE("gradcheck: index_select with repeated indices") {
  Tensor idx = Tensor::empty({5}, DType::i64);
  int64_t v[5] = {1, 3, 1, 0, 2};
  std::copy(v, v + 5, idx.data<int64_t>());
  gradcheck([&](auto& in) { return index_select(in[0], 0, idx); }, {leaf(uniform({4, 3}, 103))},
            "index_select");
}

TEST_CASE("the op table: every differentiable record by finite differences") {
  int checked = 0;
  for (OpCase& c : op_cases()) {
    if (!c.differentiable) continue;
    gradcheck(c.f, c.inputs, c.name, c.grad);
    ++checked;
  }
  CHECK(checked >= 30);
}
