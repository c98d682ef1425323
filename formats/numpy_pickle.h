#pragma once
// Pickled NumPy arrays (pickle protocols 2-5), as OpenGait stores pretreated sequences, read
// with the restricted unpickler of formats/pickle.h, which accepts here only the globals that
// rebuild an array: numpy.core.multiarray._reconstruct (or NumPy 2's
// numpy._core.multiarray._reconstruct), numpy.ndarray, numpy.dtype, and _codecs.encode (which
// protocol 2 uses for raw bytes). Any other global or opcode is an error naming it: nothing is
// ever executed.
// Limits: the file is read whole (its own size); the array's shape (overflow-checked) must match
// the bytes it holds.
#include <cstdint>
#include <string>
#include <vector>

namespace rmgait::formats {

struct PickledArray {
  std::string dtype;  // NumPy type string without byte order: "u1", "f4", ...
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // C order
};

PickledArray read_pickled_array(const std::string& path);
PickledArray parse_pickled_array(const std::string& bytes, const std::string& origin);

}  // namespace rmgait::formats
