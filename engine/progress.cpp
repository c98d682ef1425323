#include "engine/progress.h"

#include <unistd.h>

#include <cstdio>

namespace rmgait {

Progress::Progress(std::string what, size_t total, bool on)
    : what_(std::move(what)), total_(total), on_(on), tty_(isatty(2)) {}

void Progress::update(size_t done) {
  if (!on_) return;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  const int eta = done ? int(s / double(done) * double(total_ - done)) : 0;
  char left[32];
  std::snprintf(left, sizeof left, "%d:%02d:%02d", eta / 3600, eta / 60 % 60, eta % 60);
  if (tty_) {  // "\rpretreat [=====>    ] 42/100  ETA 0:01:03"
    const int bar = total_ ? int(30 * done / total_) : 30;
    std::fprintf(stderr, "\r%s [%s%s] %zu/%zu  ETA %s", what_.c_str(),
                 std::string(size_t(bar), '=').c_str(), std::string(size_t(30 - bar), ' ').c_str(),
                 done, total_, left);
    if (done == total_) std::fprintf(stderr, "\n");
    return;
  }
  const int tenth = total_ ? int(10 * done / total_) : 10;
  if (tenth == last_tenth_ && done != total_) return;
  if (done == total_ && last_tenth_ == 10) return;
  last_tenth_ = tenth;
  std::fprintf(stderr, "%s: %zu/%zu (%.0f s, %s left)\n", what_.c_str(), done, total_, s, left);
}

}  // namespace rmgait
