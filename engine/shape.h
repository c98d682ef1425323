#pragma once
// Shapes and strides: plain vectors of int64, with the few helpers every op needs.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rmgait {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"
// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// Strides that view a tensor of (shape, strides) as new_shape without copying, where it can be
// done: each run of dims that memory walks as one block splits or merges only within itself
// (PyTorch's rule). nullopt when the elements would need a copy.
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape);
// The memory order of a dense tensor: dims from outermost (largest stride) to innermost, such
// that permuting the tensor by it gives a contiguous tensor. A dim of size 1 (whose stride says
// nothing) follows the dim of size > 1 before it logically; leading ones come first. nullopt unless
// every element is stored exactly once in one block (no gaps, no broadcast dims of size > 1).
std::optional<std::vector<int64_t>> dense_order(const Shape& shape, const Shape& strides);
// Strides of a dense tensor of `shape` laid out in memory `order` (as dense_order returns).
Shape strides_in_order(const Shape& shape, const std::vector<int64_t>& order);
// NumPy broadcasting of two shapes; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace rmgait
