#include "engine/error.h"

#include <cstring>

namespace rmgait::detail {

[[noreturn]] void throw_error(const char* file, int line, const std::string& msg) {
  const char* base = std::strrchr(file, '/');
  throw Error(std::string(base ? base + 1 : file) + ":" + std::to_string(line) + ": " + msg);
}

}  // namespace rmgait::detail
