// A progress line. On a terminal: one line rewritten in place with '\r' and
// erase-to-end (ESC[K), at most 10 times a second. Otherwise (CI, logs): a full
// plain line every `plain_every_s` seconds and at the end, never a '\r'.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace pelab {

class Progress {
 public:
  enum class Mode { AUTO, TERMINAL, PLAIN, QUIET };

  Progress(std::string label, int64_t total, Mode mode = Mode::AUTO, std::FILE* out = stderr,
           double plain_every_s = 10.0);

  // done: units finished so far; extra: e.g. "loss 3.41".
  void update(int64_t done, const std::string& extra = {});
  // Prints the last state and ends the line.
  void finish(const std::string& extra = {});

  // "[label 1200/5000] extra 2.1 it/s ETA 30m" (no control characters).
  std::string format(int64_t done, const std::string& extra, double elapsed_s) const;

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_;
  int64_t total_;
  Mode mode_;
  std::FILE* out_;
  double plain_every_s_;
  Clock::time_point start_;
  Clock::time_point last_print_;
  int64_t done_ = 0;
  bool printed_ = false;
  bool finished_ = false;
};

// "45s", "12m", "3h05m"
std::string format_duration(double seconds);

}  // namespace pelab
