#include "engine/lru_cache.h"

#include <cstdlib>

namespace rmgait {

size_t lru_cache_capacity() {
  static const size_t n = [] {
    const char* v = std::getenv("RMGAIT_PRIMITIVE_CACHE");
    return v ? size_t(std::max(2L, std::atol(v))) : size_t(256);
  }();
  return n;
}

}  // namespace rmgait
