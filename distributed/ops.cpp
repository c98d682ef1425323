#include "distributed/ops.h"

#include "engine/autograd.h"
#include "engine/error.h"

namespace rmgait::dist {

namespace {
// A contiguous copy of x's data outside the graph (collectives work in place).
Tensor detached_copy(const Tensor& x) {
  NoGradGuard ng;
  return x.detach().contiguous().clone();
}
}  // namespace

Tensor all_gather(Communicator& comm, const Tensor& x) {
  RM_CHECK(x.dim() >= 1, "all_gather: a scalar has no rows");
  RM_CHECK(x.device() == comm.device(), "all_gather: tensor on ", device_name(x.device()), ", ",
           comm.name(), " communicates ", device_name(comm.device()), " tensors");
  Tensor out;
  {
    NoGradGuard ng;
    out = comm.size() == 1 ? detached_copy(x) : comm.all_gather(x.detach().contiguous());
  }
  const int64_t n = x.size(0), rank = comm.rank();
  Communicator* c = &comm;
  return record("all_gather", out, {x}, [c, n, rank](const Tensor& g) {
    Tensor s = detached_copy(g);
    c->all_reduce_sum(s);
    return std::vector<Tensor>{s.narrow(0, rank * n, n).contiguous()};
  });
}

Tensor all_reduce_sum(Communicator& comm, const Tensor& x) {
  RM_CHECK(x.device() == comm.device(), "all_reduce_sum: tensor on ", device_name(x.device()), ", ",
           comm.name(), " communicates ", device_name(comm.device()), " tensors");
  Tensor out = detached_copy(x);
  comm.all_reduce_sum(out);
  Communicator* c = &comm;
  return record("all_reduce_sum", out, {x}, [c](const Tensor& g) {
    Tensor s = detached_copy(g);
    c->all_reduce_sum(s);
    return std::vector<Tensor>{s};
  });
}

}  // namespace rmgait::dist
