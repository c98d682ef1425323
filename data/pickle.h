#pragma once
// Pickled NumPy arrays (pickle protocols 2-5), as OpenGait stores pretreated sequences, read
// with the restricted unpickler of formats/pickle.h, which accepts here only the globals that
// rebuild an array: numpy.core.multiarray._reconstruct (or NumPy 2's
// numpy._core.multiarray._reconstruct), numpy.ndarray, numpy.dtype, and _codecs.encode (which
// protocol 2 uses for raw bytes). Any other global or opcode is an error naming it: nothing is
// ever executed.
#include <cstdint>
#include <string>
#include <vector>

namespace rmgait::data {

struct PickledArray {
  std::string dtype;  // NumPy type string without byte order: "u1", "f4", ...
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // C order
};

PickledArray read_pickled_array(const std::string& path);
PickledArray parse_pickled_array(const std::string& bytes, const std::string& origin);

}  // namespace rmgait::data
