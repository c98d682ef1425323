// The NCCL communicator on CUDA tensors against the same collectives on the host, with the
// ranks this binary runs on: alone, a lent single GPU runs N = 1 through NCCL; under
// `mpirun -np 2` (CTest nccl_2_ranks) two ranks on two GPUs. Exits 77 (CTest SKIP_RETURN_CODE)
// on every rank when any rank lacks a GPU or the NCCL module.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "distributed/nccl.h"
#include "distributed/ops.h"
#include "distributed/reducer.h"
#include "distributed/world.h"
#include "engine/backend.h"
#include "tests/test_util.h"

using namespace rmgait;

namespace {

dist::Communicator& nccl() {
  static std::unique_ptr<dist::Communicator> c = dist::make_nccl(dist::world());
  return *c;
}

void same(const Tensor& gpu, const Tensor& cpu, const char* what) {
  test::check_close(gpu.to(Device::cpu), test::to_double(cpu), 1e-6, 1e-6, what);
}

TEST_CASE("NCCL collectives on CUDA tensors equal MPI's (or the identity) on the host") {
  dist::Communicator& host = dist::world();
  const int me = host.rank();
  CHECK(nccl().size() == host.size());
  Tensor x = test::uniform({4, 3}, 100 + uint64_t(me));
  Tensor h = x.clone(), g = x.to(Device::cuda);
  host.all_reduce_sum(h);
  nccl().all_reduce_sum(g);
  same(g, h, "all_reduce_sum");
  Tensor ga = x.to(Device::cuda);
  auto work = nccl().all_reduce_sum_async(ga);
  work->wait();
  same(ga, h, "all_reduce_sum_async");
  same(nccl().all_gather(x.to(Device::cuda)), host.all_gather(x), "all_gather");
  Tensor b = x.to(Device::cuda);
  Tensor hb = x.clone();
  nccl().broadcast(b, 0);
  host.broadcast(hb, 0);
  same(b, hb, "broadcast");
  Tensor rows = Tensor::full({me + 1, 2}, double(me));
  Tensor gr = nccl().gather_rows(rows.to(Device::cuda), 0), hr = host.gather_rows(rows, 0);
  if (me == 0) same(gr, hr, "gather_rows");
  nccl().barrier();
}

TEST_CASE("the gradient reducer and all_gather's backward over NCCL") {
  const int n = dist::world().size();
  Tensor a = test::uniform({1000}, 7).to(Device::cuda).set_requires_grad(true);
  dist::GradientReducer red(nccl(), {a}, 1024);
  {
    LeafReadyHookGuard hook(red.hook());
    sum(mul(dist::all_gather(nccl(), a.unsqueeze(0)), 3.f)).backward();
  }
  red.finish();
  // every rank's loss reaches every rank's rows: 3 n per rank, summed over n ranks
  test::check_close(a.grad().to(Device::cpu), std::vector<double>(1000, 3.0 * n * n), 1e-6, 1e-6,
                    "gradient");
}

}  // namespace

int main(int argc, char** argv) {
  // under mpirun, one GPU per rank; every rank learns whether all have one, so that they skip
  // (or run) together instead of leaving one rank waiting in NCCL's set-up
  dist::select_local_gpu();
  const bool mine = dist::built_with_nccl() && device_available(Device::cuda);
  Tensor have = Tensor::full({1}, mine ? 0.0 : 1.0, DType::i64);
  dist::world().all_reduce_sum(have);
  if (have.data<int64_t>()[0] > 0) {
    std::printf("test_nccl: skipped: %lld of %d ranks without a GPU or NCCL (%s)\n",
                (long long)have.data<int64_t>()[0], dist::world().size(),
                dist::built_with_nccl() ? device_unavailable_reason(Device::cuda).c_str()
                                        : "built without NCCL");
    return 77;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
