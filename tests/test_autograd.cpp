// Autograd mechanics: fan-out accumulation, no-grad guard, graph freeing, leaves.
#include "tests/test_util.h"

using namespace rmgait;
using namespace rmgait::test;

TEST_CASE("fan-out accumulates gradients from every use") {
  Tensor x = leaf(Tensor::from_vector({1, 2, 3}, {3}));
  Tensor y = sum(add(mul(x, x), mul(x, 3.f)));  // d/dx = 2x + 3
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{5, 7, 9});
  // a second graph accumulates into the same leaf gradient
  sum(x).backward();
  CHECK(x.grad().to_vector() == std::vector<float>{6, 8, 10});
  x.zero_grad();
  CHECK(!x.grad().defined());
}

TEST_CASE("diamond graph: a shared intermediate receives both branches") {
  Tensor x = leaf(Tensor::from_vector({2}, {1}));
  Tensor h = exp(x);             // shared
  Tensor y = add(mul(h, h), h);  // dy/dh = 2h + 1, dy/dx = (2h + 1) h
  y.backward(Tensor::ones({1}));
  double h0 = std::exp(2.0);
  CHECK(x.grad().item() == doctest::Approx((2 * h0 + 1) * h0).epsilon(1e-6));
}

TEST_CASE("NoGradGuard records nothing") {
  Tensor x = leaf(uniform({3}, 1));
  Tensor y;
  {
    NoGradGuard ng;
    y = mul(x, 2.f);
  }
  CHECK(!y.requires_grad());
  CHECK(y.impl()->grad_fn == nullptr);
  CHECK(grad_enabled());
  CHECK_THROWS_AS(y.backward(Tensor::ones({3})), Error);
}

TEST_CASE("the graph is freed after backward; a second backward is a clear error") {
  Tensor x = leaf(uniform({3}, 2));
  Tensor y = sum(mul(x, x));
  y.backward();
  CHECK(y.impl()->grad_fn->next.empty());
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("already freed"), Error);
}

TEST_CASE("the graph does not keep tensors alive beyond their uses") {
  std::weak_ptr<Storage> weak;
  {
    Tensor x = leaf(uniform({1000}, 3));
    Tensor y = exp(x);
    weak = y.storage();
    Tensor z = sum(y);
    z.backward();
  }
  CHECK(weak.expired());  // no reference cycle through the backward closures
}

TEST_CASE("a node keeps only what its backward reads, not its inputs") {
  // add reads nothing, leaky_relu keeps sign bits: the intermediates die with their last use,
  // before backward, while the graph is still alive
  std::weak_ptr<Storage> pre, post;
  Tensor x = leaf(uniform({1000}, 4));
  Tensor z;
  {
    Tensor y = mul(x, 3.f);
    Tensor r = leaky_relu(y);
    pre = y.storage(), post = r.storage();
    z = sum(add(r, 1.f));
  }
  CHECK(pre.expired());
  CHECK(post.expired());
  z.backward();
  std::vector<float> g = x.grad().to_vector(), xv = x.to_vector();
  for (size_t i = 0; i < g.size(); ++i) CHECK(g[i] == (xv[i] > 0 ? 3.f : 0.03f));
}

TEST_CASE("detach cuts the graph; views of leaves pass gradients back") {
  Tensor x = leaf(Tensor::from_vector({1, 2, 3, 4}, {2, 2}));
  Tensor d = x.detach();
  CHECK(!d.requires_grad());
  CHECK(d.storage() == x.storage());
  Tensor y = sum(mul(x.transpose(0, 1).narrow(0, 1, 1), 2.f));  // picks x[0,1], x[1,1]
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{0, 2, 0, 2});
  CHECK_THROWS_AS(Tensor::arange(3, DType::i64).set_requires_grad(true), Error);
}

TEST_CASE("checkpoint: the same gradients, the inside not kept, parameters reached as leaves") {
  Tensor x = leaf(uniform({64}, 5)), w = leaf(uniform({64}, 6));
  auto f = [&w](const std::vector<Tensor>& in) { return exp(mul(leaky_relu(in[0]), w)); };
  Tensor g = uniform({64}, 7);
  f({x}).backward(g);
  std::vector<float> gx = x.grad().to_vector(), gw = w.grad().to_vector();
  x.zero_grad(), w.zero_grad();
  int calls = 0;
  std::weak_ptr<Storage> inside;
  Tensor y = checkpoint(
      [&](const std::vector<Tensor>& in) {
        ++calls;
        Tensor t = mul(leaky_relu(in[0]), w);
        if (calls == 1) inside = t.storage();
        return exp(t);
      },
      {x}, {w});
  CHECK(inside.expired());  // nothing of the first run is kept
  CHECK(calls == 1);
  y.backward(g);
  CHECK(calls == 2);
  CHECK(x.grad().to_vector() == gx);
  CHECK(w.grad().to_vector() == gw);
  // only a parameter requires a gradient: the node is still recorded
  w.zero_grad();
  Tensor c = uniform({64}, 8);
  checkpoint([&w](const std::vector<Tensor>& in) { return mul(in[0], w); }, {c}, {w}).backward(g);
  CHECK(w.grad().to_vector() == mul(g, c).to_vector());
}

TEST_CASE("a gradient shared by two fused conv + leaky_relu nodes is not overwritten in place") {
  // add's backward hands one gradient tensor to both convs. When it is an intermediate (behind
  // a mul), the first conv shares it with the second, which still has to read it, and may not
  // write in place; the second then holds it alone and may. The results must equal the convs'
  // gradients taken one at a time, and the caller's gradient must stay as it was.
  Conv3dParams p{{1, 1, 1}, {1, 1, 1}};
  p.leaky_relu = true, p.negative_slope = 0.1f;
  Tensor x = uniform({1, 2, 3, 5, 4}, 301);
  Tensor wa = uniform({3, 2, 3, 3, 3}, 302), wb = uniform({3, 2, 3, 3, 3}, 303);
  Tensor g = uniform({1, 3, 3, 5, 4}, 304);
  const std::vector<float> g_before = g.to_vector();
  auto grads = [&](int how) {
    Tensor a = wa.clone().set_requires_grad(), b = wb.clone().set_requires_grad();
    Tensor ya = conv3d(x, a, Tensor(), p), yb = conv3d(x, b, Tensor(), p);
    if (how == 0) {
      ya.backward(g);
      yb.backward(g);
    } else if (how == 1) {
      add(ya, yb).backward(g);  // the caller's g reaches both convs
    } else {
      mul(add(ya, yb), 1.f).backward(g);  // an intermediate gradient reaches both convs
    }
    return std::make_pair(a.grad().to_vector(), b.grad().to_vector());
  };
  auto apart = grads(0);
  for (int how : {1, 2}) {
    CAPTURE(how);
    auto together = grads(how);
    CHECK(together.first == apart.first);
    CHECK(together.second == apart.second);
    CHECK(g.to_vector() == g_before);
  }
}
