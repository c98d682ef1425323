// The restricted unpickler (OpenGait's .pkl silhouettes): any bytes, never code execution.
#include "formats/numpy_pickle.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  rmgait::fuzz::expect_clear_error([&] {
    rmgait::formats::parse_pickled_array(std::string(reinterpret_cast<const char*>(data), size),
                                      "fuzz.pkl");
  });
  return 0;
}
