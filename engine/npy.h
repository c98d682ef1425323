#pragma once
// NumPy .npy files (format 1.0 / 2.0 / 3.0 headers), little-endian f32, u8, i32, i64, C order.
// Anything else (big-endian, Fortran order, other dtypes, truncation) is a clear error naming
// the file.
// Limits: the header below 1 MiB and inside the file; the shape's bytes (overflow-checked)
// inside the file before the tensor is allocated.
#include <string>

#include "engine/tensor.h"

namespace rmgait {

Tensor load_npy(const std::string& path);
// Writes atomically (temporary file, then rename).
void save_npy(const std::string& path, const Tensor& t);

}  // namespace rmgait
