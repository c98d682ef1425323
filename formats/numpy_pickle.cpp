#include "formats/numpy_pickle.h"

#include <fstream>
#include <iterator>

#include "engine/error.h"
#include "formats/pickle.h"

namespace rmgait::formats {

namespace {
const PickleRules& numpy_rules() {
  static const PickleRules rules{
      {"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray",
       "numpy.dtype", "_codecs.encode"},
      "NumPy arrays",
      false,
      false};
  return rules;
}

// numpy.dtype('u1', ...) with its BUILD state (3, '|', ...): the type string, little-endian only.
std::string array_dtype(const PyPtr& p, const std::string& origin) {
  RM_CHECK(std::holds_alternative<PyCall>(p->v) && std::get<PyCall>(p->v).fn == "numpy.dtype",
           origin, ": array dtype missing");
  const PyCall& d = std::get<PyCall>(p->v);
  RM_CHECK(!d.args.empty(), origin, ": numpy.dtype without a type");
  if (d.state) {
    const PyTuple& s = py_tuple(d.state, origin, "dtype state");
    RM_CHECK(s.items.size() >= 2, origin, ": malformed dtype state");
    const std::string& order = py_str(s.items[1], origin, "the dtype's byte order");
    RM_CHECK(order == "|" || order == "<", origin, ": big-endian arrays are not supported");
  }
  return py_str(d.args[0], origin, "the dtype's type");
}
}  // namespace

PickledArray parse_pickled_array(const std::string& bytes, const std::string& origin) {
  const PyPtr top = unpickle(bytes, origin, numpy_rules());
  const bool is_array = std::holds_alternative<PyCall>(top->v) &&
                        std::get<PyCall>(top->v).fn.find("_reconstruct") != std::string::npos;
  RM_CHECK(is_array, origin, ": the pickle holds something other than a NumPy array");
  const PyCall& call = std::get<PyCall>(top->v);
  RM_CHECK(call.state, origin, ": array state missing");
  const PyTuple& s = py_tuple(call.state, origin, "array state");
  RM_CHECK(s.items.size() == 5, origin, ": array state has ", s.items.size(), " items, expected 5");
  PickledArray a;
  for (const PyPtr& d : py_tuple(s.items[1], origin, "shape").items)
    a.shape.push_back(py_int(d, origin, "a shape entry"));
  a.dtype = array_dtype(s.items[2], origin);
  RM_CHECK(std::holds_alternative<bool>(s.items[3]->v) && !std::get<bool>(s.items[3]->v), origin,
           ": Fortran-order arrays are not supported");
  RM_CHECK(std::holds_alternative<PyBytes>(s.items[4]->v), origin,
           ": array data is not raw bytes (object arrays are not supported)");
  const std::string& d = std::get<PyBytes>(s.items[4]->v).data;
  a.data.assign(d.begin(), d.end());
  uint64_t n = 1;  // elements, with every overflow an error (the bytes come from outside)
  for (int64_t x : a.shape)
    RM_CHECK(x >= 0 && !__builtin_mul_overflow(n, uint64_t(x), &n), origin,
             ": array shape dimension ", x, " is negative or the element count overflows");
  // the dtype string is "u1", "f4", ...: a kind, then the item size in digits
  const bool digits = a.dtype.size() >= 2 && a.dtype.size() <= 3 &&
                      a.dtype.find_first_not_of("0123456789", 1) == std::string::npos;
  const uint64_t item = digits ? std::stoull(a.dtype.substr(1)) : 0;
  uint64_t bytes_needed = 0;
  RM_CHECK(
      item > 0 && !__builtin_mul_overflow(n, item, &bytes_needed) && bytes_needed == a.data.size(),
      origin, ": array of dtype '", a.dtype, "' and ", n, " elements holds ", a.data.size(),
      " bytes");
  return a;
}

PickledArray read_pickled_array(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  RM_CHECK(f, path, ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  return parse_pickled_array(bytes, path);
}

}  // namespace rmgait::formats
