// Bad input: exceptions whose messages name the op and the shapes, never a crash.
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

TEST_CASE("shape mismatches name the op and the shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 3});
  CHECK_THROWS_WITH_AS(add(a, b),
                       doctest::Contains("add: shapes [2, 3] and [4, 3] do not broadcast"), Error);
  CHECK_THROWS_WITH_AS(matmul(a, b),
                       doctest::Contains("matmul: inner sizes differ: [2, 3] x [4, 3]"), Error);
  CHECK_THROWS_WITH_AS(conv3d(Tensor::zeros({1, 2, 3, 4, 5}), Tensor::zeros({4, 3, 1, 1, 1})),
                       doctest::Contains("conv3d: input [1, 2, 3, 4, 5] has 2 channels"), Error);
  CHECK_THROWS_WITH_AS(conv3d(Tensor::zeros({2, 3, 4}), Tensor::zeros({4, 3, 1, 1, 1})),
                       doctest::Contains("must be 5-d"), Error);
  CHECK_THROWS_WITH_AS(conv3d(Tensor::zeros({1, 1, 2, 2, 2}), Tensor::zeros({1, 1, 3, 3, 3})),
                       doctest::Contains("larger than padded input"), Error);
  CHECK_THROWS_WITH_AS(max_pool3d(Tensor::zeros({1, 1, 2, 2}), {}), doctest::Contains("max_pool3d"),
                       Error);
  Tensor rm = Tensor::zeros({3}), rv = Tensor::ones({3});
  CHECK_THROWS_WITH_AS(batch_norm(Tensor::zeros({2, 4, 5}), Tensor(), Tensor(), rm, rv, true),
                       doctest::Contains("running_mean [3] does not match 4 channels"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(Tensor::zeros({1, 3}), Tensor(), Tensor(), rm, rv, true),
                       doctest::Contains("more than one value per channel"), Error);
  CHECK_THROWS_WITH_AS(a.view({5, -1}), doctest::Contains("view: cannot infer"), Error);
  CHECK_THROWS_WITH_AS(a.transpose(0, 1).view({6}), doctest::Contains("without a copy"), Error);
  CHECK_THROWS_WITH_AS(a.narrow(1, 2, 2), doctest::Contains("narrow: [2, 4) out of range"), Error);
  CHECK_THROWS_WITH_AS(sum(a, {2}), doctest::Contains("sum: dim 2 out of range"), Error);
  CHECK_THROWS_WITH_AS(cat({a, Tensor::zeros({2, 3, 1})}, 0), doctest::Contains("cat: tensor 1"),
                       Error);
  CHECK_THROWS_WITH_AS(split(a, {1, 1}, 1), doctest::Contains("split: sizes add up to 2"), Error);
  CHECK_THROWS_WITH_AS(a.backward(), doctest::Contains("does not require grad"), Error);
  CHECK_THROWS_WITH_AS(Tensor::from_vector({1, 2}, {3}),
                       doctest::Contains("2 values for shape [3]"), Error);
}

TEST_CASE("wrong dtypes are rejected by name") {
  Tensor u = Tensor::zeros({2, 3}, DType::u8), f = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(add(u, f),
                       doctest::Contains("add: first operand has dtype u8, expected f32"), Error);
  CHECK_THROWS_WITH_AS(exp(u), doctest::Contains("exp: input has dtype u8"), Error);
  CHECK_THROWS_WITH_AS(u.data<float>(), doctest::Contains("dtype u8, expected f32"), Error);
  CHECK_THROWS_WITH_AS(leaf(f).backward(Tensor::zeros({3})),
                       doctest::Contains("gradient [3] does not match tensor [2, 3]"), Error);
}
