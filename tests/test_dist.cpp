// Collectives, the gradient reducer and synchronised batch norm, on however many ranks run the
// binary: alone (one rank) and under `mpirun -np 2` (CTest runs both). Every rank builds every
// rank's inputs from seeds, so each checks its results against a naive one-process reference.
#include <doctest/doctest.h>

#include "distributed/ops.h"
#include "distributed/reducer.h"
#include "distributed/world.h"
#include "gait/regularizers.h"
#include "nn/layers.h"
#include "test_util.h"

namespace rmgait {
namespace {

using test::uniform;

dist::Communicator& comm() {
  return dist::world();
}

// Every rank's [n, ...] input, rank r's drawn from seed + r.
std::vector<Tensor> per_rank(const Shape& s, uint64_t seed) {
  std::vector<Tensor> out;
  for (int r = 0; r < comm().size(); ++r) out.push_back(uniform(s, seed + uint64_t(r)));
  return out;
}

double dot(const Tensor& a, const Tensor& b) {
  std::vector<float> x = a.to_vector(), y = b.to_vector();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += double(x[i]) * y[i];
  return s;
}

double summed_over_ranks(double local) {
  Tensor t = Tensor::from_vector({float(local)}, {1});
  comm().all_reduce_sum(t);
  return t.data<float>()[0];
}

// Finite differences of J = sum over ranks of sum(f(x_r) * R_r) against the gradient of each
// rank's x: every rank evaluates f for every perturbation (of any rank's element), as the
// collectives inside f require.
void distributed_gradcheck(const std::function<Tensor(const Tensor&)>& f, const Tensor& x,
                           uint64_t seed, const std::string& what) {
  Tensor xr = x.detach().clone().set_requires_grad(true);
  Tensor out = f(xr);
  Tensor r = uniform(out.shape(), seed * 7 + uint64_t(comm().rank()));
  out.backward(r);
  std::vector<float> analytic = xr.grad().to_vector();
  const float eps = 1e-2f;
  for (int owner = 0; owner < comm().size(); ++owner)
    for (int64_t i = 0; i < x.numel(); i += std::max<int64_t>(1, x.numel() / 16)) {
      double j[2];
      for (int side = 0; side < 2; ++side) {
        NoGradGuard ng;
        Tensor xp = x.detach().clone();
        if (comm().rank() == owner) xp.data<float>()[i] += side ? -eps : eps;
        j[side] = summed_over_ranks(dot(f(xp), r));
      }
      if (comm().rank() != owner) continue;
      const double numeric = (j[0] - j[1]) / (2 * eps), a = analytic[size_t(i)];
      CHECK_MESSAGE(
          std::fabs(a - numeric) <= 2e-2 * std::max({1.0, std::fabs(a), std::fabs(numeric)}),
          what << ": rank " << owner << " element " << i << " analytic " << a << " numeric "
               << numeric);
    }
}

TEST_CASE("rows_of: contiguous blocks in rank order, the first ranks one row more") {
  int64_t at = 0;
  for (int r = 0; r < 3; ++r) {
    dist::Rows rows = dist::rows_of(10, r, 3);
    CHECK(rows.begin == at);
    CHECK(rows.count() == (r == 0 ? 4 : 3));
    at = rows.end;
  }
  CHECK(at == 10);
  CHECK(dist::rows_of(1, 1, 2).count() == 0);
}

TEST_CASE("all_gather: the ranks' rows in rank order; backward sums the ranks' gradients") {
  const int n = comm().size(), me = comm().rank();
  std::vector<Tensor> xs = per_rank({3, 4}, 11);
  Tensor x = xs[size_t(me)].clone().set_requires_grad(true);
  Tensor g = dist::all_gather(comm(), x);
  REQUIRE(g.shape() == Shape{3 * n, 4});
  for (int r = 0; r < n; ++r)
    test::check_close(g.narrow(0, 3 * r, 3).contiguous(), test::to_double(xs[size_t(r)]), 0, 0,
                      "gathered rows");
  // each rank weights the gathered rows by its own W_s: x_r's gradient is sum_s W_s[rows r]
  std::vector<Tensor> ws = per_rank({3 * n, 4}, 50);
  g.backward(ws[size_t(me)]);
  std::vector<double> want(12, 0.0);
  for (int s = 0; s < n; ++s) {
    std::vector<float> w = ws[size_t(s)].narrow(0, 3 * me, 3).contiguous().to_vector();
    for (size_t i = 0; i < 12; ++i) want[i] += w[i];
  }
  test::check_close(x.grad(), want, 1e-6, 1e-6, "all_gather backward");
  distributed_gradcheck(
      [](const Tensor& t) { return mul(dist::all_gather(comm(), t), dist::all_gather(comm(), t)); },
      xs[size_t(me)], 3, "all_gather");
}

TEST_CASE("all_reduce_sum: the sum everywhere; backward sums the ranks' gradients") {
  const int n = comm().size(), me = comm().rank();
  std::vector<Tensor> xs = per_rank({5}, 21);
  Tensor x = xs[size_t(me)].clone().set_requires_grad(true);
  Tensor s = dist::all_reduce_sum(comm(), x);
  std::vector<double> want(5, 0.0);
  for (int r = 0; r < n; ++r)
    for (size_t i = 0; i < 5; ++i) want[i] += xs[size_t(r)].to_vector()[i];
  test::check_close(s, want, 1e-6, 1e-6, "all_reduce_sum");
  std::vector<Tensor> ws = per_rank({5}, 60);
  s.backward(ws[size_t(me)]);
  std::vector<double> gw(5, 0.0);
  for (int r = 0; r < n; ++r)
    for (size_t i = 0; i < 5; ++i) gw[i] += ws[size_t(r)].to_vector()[i];
  test::check_close(x.grad(), gw, 1e-6, 1e-6, "all_reduce_sum backward");
  distributed_gradcheck([](const Tensor& t) { return exp(dist::all_reduce_sum(comm(), t)); },
                        xs[size_t(me)], 4, "all_reduce_sum");
}

TEST_CASE("gather_rows: uneven row counts, in rank order, on the root only") {
  const int me = comm().rank();
  Tensor mine = Tensor::full({me + 1, 2}, double(me));
  Tensor all = comm().gather_rows(mine, 0);
  if (me != 0) {
    CHECK_FALSE(all.defined());
    return;
  }
  const int n = comm().size();
  REQUIRE(all.size(0) == n * (n + 1) / 2);
  int64_t row = 0;
  for (int r = 0; r < n; ++r)
    for (int i = 0; i <= r; ++i, ++row) CHECK(all.to_vector()[size_t(row * 2)] == float(r));
}

TEST_CASE("GradientReducer: gradients summed over ranks, in several buckets") {
  const int me = comm().rank(), n = comm().size();
  Tensor a = uniform({64}, 1).set_requires_grad(true),
         b = uniform({8, 8}, 2).set_requires_grad(true),
         unused = uniform({3}, 3).set_requires_grad(true);
  // 256-byte buckets, filled in reverse order: [b (256 B)], [unused (12 B, never gets a
  // gradient), a (256 B)]
  dist::GradientReducer red(comm(), {a, unused, b}, 256);
  CHECK(red.buckets() == 2);
  std::vector<Tensor> ws = per_rank({64}, 70);
  {
    LeafReadyHookGuard hook(red.hook());
    add(sum(mul(a, ws[size_t(me)])), sum(mul(b, b))).backward();
  }
  red.finish();
  std::vector<double> want_a(64, 0.0), want_b = test::to_double(mul(b.detach(), 2.f * float(n)));
  for (int r = 0; r < n; ++r)
    for (size_t i = 0; i < 64; ++i) want_a[i] += ws[size_t(r)].to_vector()[i];
  test::check_close(a.grad(), want_a, 1e-6, 1e-6, "a");
  test::check_close(b.grad(), want_b, 1e-6, 1e-6, "b");
  CHECK_FALSE(unused.grad().defined());  // as in one process: the optimizer skips it
}

TEST_CASE("synchronised batch norm: one process's outputs, statistics and gradients") {
  const int me = comm().rank(), n = comm().size();
  std::vector<Tensor> xs = per_rank({2, 3, 4}, 31), ws = per_rank({2, 3, 4}, 41);
  auto bn = nn::BatchNorm1d(3), ref = nn::BatchNorm1d(3);
  bn->sync_gather = [](const Tensor& t) { return dist::all_gather(comm(), t); };
  bn->sync_rank = me;
  bn->train(), ref->train();
  Tensor x = xs[size_t(me)].clone().set_requires_grad(true);
  Tensor y = bn->forward(x);
  // the reference: one BatchNorm on the global batch, every rank's weights on its rows
  Tensor xg = cat(xs, 0).set_requires_grad(true);
  Tensor yg = ref->forward(xg);
  test::check_close(y, test::to_double(yg.narrow(0, 2 * me, 2).contiguous()), 0, 0,
                    "outputs, bit for bit");
  test::check_close(bn->running_mean, test::to_double(ref->running_mean), 0, 0, "running mean");
  test::check_close(bn->running_var, test::to_double(ref->running_var), 0, 0, "running var");
  y.backward(ws[size_t(me)]);
  yg.backward(cat(ws, 0));
  test::check_close(x.grad(), test::to_double(xg.grad().narrow(0, 2 * me, 2).contiguous()), 1e-5,
                    1e-6, "input gradient");
  Tensor gw = bn->weight.grad().clone();
  comm().all_reduce_sum(gw);  // what the reducer does
  test::check_close(gw, test::to_double(ref->weight.grad()), 1e-5, 1e-6, "weight gradient");
  (void)n;
}

TEST_CASE("drop_block on a rank's rows: the global batch's masks and rescaling") {
  const int me = comm().rank(), n = comm().size();
  Tensor xg = uniform({2 * n, 2, 1, 8, 8}, 5, 0.5f, 1.f);
  gait::DropBlockConfig cfg;
  cfg.drop_prob = 0.3f;
  Generator g1(9), g2(9);
  Tensor whole = gait::drop_block(xg, cfg, g1);
  Tensor mine = gait::drop_block(xg.narrow(0, 2 * me, 2).contiguous(), cfg, g2, {2 * me, 2 * n});
  test::check_close(mine, test::to_double(whole.narrow(0, 2 * me, 2).contiguous()), 0, 0,
                    "drop_block rows");
  CHECK(g1.offset() == g2.offset());
}

}  // namespace
}  // namespace rmgait
