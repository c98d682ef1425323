#pragma once
// Errors: every check throws rmgait::Error whose message names the place, the op and the
// offending values. One macro per library; RM_CHECK for our own invariants.
#include <sstream>
#include <stdexcept>
#include <string>

namespace rmgait {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
[[noreturn]] void throw_error(const char* file, int line, const std::string& msg);

template <class... Args>
std::string cat_str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace rmgait

// RM_CHECK(cond, parts...): throws rmgait::Error("file:line: parts...") when cond is false.
#define RM_CHECK(cond, ...)                                                                      \
  do {                                                                                           \
    if (!(cond))                                                                                 \
      ::rmgait::detail::throw_error(__FILE__, __LINE__, ::rmgait::detail::cat_str(__VA_ARGS__)); \
  } while (0)

#define RM_FAIL(...) \
  ::rmgait::detail::throw_error(__FILE__, __LINE__, ::rmgait::detail::cat_str(__VA_ARGS__))
