#pragma once
// Differentiable collectives for data-parallel training. The objective is the sum of the ranks'
// losses and parameter gradients are summed over ranks afterwards (GradientReducer), so the
// backward of a collective is its adjoint under that sum.
#include "distributed/communicator.h"

namespace rmgait::dist {

// x [n, ...] on every rank -> [size * n, ...], the ranks' x in rank order. Backward: the gradient
// summed over ranks, this rank's rows (a reduce-scatter): every rank's loss may depend on every
// rank's rows (synchronised batch norm; a loss over the global batch, weighted 1 / size on each
// rank so that the ranks' terms add up to it once).
Tensor all_gather(Communicator& comm, const Tensor& x);

// x summed over ranks (every rank gets the sum). Backward: the gradient summed over ranks, since
// each rank's copy of the sum feeds that rank's part of the loss (synchronised batch norm).
Tensor all_reduce_sum(Communicator& comm, const Tensor& x);

}  // namespace rmgait::dist
