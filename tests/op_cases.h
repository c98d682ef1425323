#pragma once
// The op table, in the spirit of ggml's test-backend-ops and PyTorch's OpInfo: one record per op
// of engine/ops.h and variant (its inputs, the op, a naive forward in double over host vectors,
// tolerances, flags), iterated by the reference test (test_reference_ops.cpp), the
// finite-difference gradient check (test_gradcheck.cpp) and the CPU-CUDA parity test
// (test_cuda.cpp). A new op is one kernel line (engine/kernels.def) and one record here; a test
// fails when an op of engine/ops.h has none (test_reference_ops.cpp). The dedicated tests beside
// them keep what a record cannot say (naive backward loops, bit-level rules, caches).
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace rmgait::test {

struct OpCase {
  std::string op;              // the engine/ops.h function exercised
  std::string name;            // op and variant, for messages
  std::vector<Tensor> inputs;  // on the CPU; leaves where a gradient is checked
  Fn f;                        // the op on the inputs (on any device)
  // The same forward as naive loops in double over the inputs' host values (row-major), or
  // empty where the record has none (a dedicated test holds it).
  std::function<std::vector<double>(const std::vector<std::vector<double>>& in)> reference;
  double rtol = 1e-5, atol = 1e-6;  // against the reference
  bool differentiable = true;       // finite differences apply to the leaf inputs
  GradcheckOptions grad = {};
  bool cuda = true;          // compared with the CPU on a GPU
  double parity_tol = 1e-4;  // |cuda - cpu| / max |cpu|, forward and gradients
};

// Every record, built fresh (inputs are leaves whose gradients the tests accumulate).
std::vector<OpCase> op_cases();

// The functions engine/ops.h declares (read from the header itself).
std::vector<std::string> public_ops(const std::string& ops_header);

}  // namespace rmgait::test
