#pragma once
// Progress of a long job on stderr. In a terminal: one line redrawn in place ("\r") with a bar and
// the time left. Otherwise (a log file, a pipe, CI): plain lines, one per tenth of the job and
// one at the end, so that logs hold no carriage returns.
#include <chrono>
#include <string>

namespace rmgait {

class Progress {
 public:
  // what: "pretreat", "eval: sequences", ...; on: whether to report at all
  Progress(std::string what, size_t total, bool on);
  void update(size_t done);

 private:
  std::string what_;
  size_t total_;
  bool on_, tty_;
  int last_tenth_ = -1;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

}  // namespace rmgait
