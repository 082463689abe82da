#include "core/progress.h"

#include <unistd.h>

#include <cmath>

namespace pelab {

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%.0fm", s / 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(std::fmod(s, 3600) / 60));
  return buf;
}

Progress::Progress(std::string label, int64_t total, Mode mode, std::FILE* out, double plain_every_s)
    : label_(std::move(label)), total_(total), mode_(mode), out_(out), plain_every_s_(plain_every_s) {
  if (mode_ == Mode::AUTO) mode_ = isatty(fileno(out_)) ? Mode::TERMINAL : Mode::PLAIN;
  start_ = last_print_ = Clock::now();
}

std::string Progress::format(int64_t done, const std::string& extra, double elapsed) const {
  char buf[96];
  std::string line;
  if (total_ > 0) std::snprintf(buf, sizeof buf, "[%s %lld/%lld]", label_.c_str(), (long long)done, (long long)total_);
  else std::snprintf(buf, sizeof buf, "[%s %lld]", label_.c_str(), (long long)done);
  line = buf;
  if (!extra.empty()) line += " " + extra;
  if (elapsed > 0 && done > 0) {
    double rate = done / elapsed;
    std::snprintf(buf, sizeof buf, rate >= 10 ? " %.0f it/s" : " %.2f it/s", rate);
    line += buf;
    if (total_ > done) line += " ETA " + format_duration((total_ - done) / rate);
  }
  return line;
}

void Progress::update(int64_t done, const std::string& extra) {
  done_ = done;
  if (mode_ == Mode::QUIET || finished_) return;
  auto now = Clock::now();
  double since = std::chrono::duration<double>(now - last_print_).count();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  if (mode_ == Mode::TERMINAL) {
    if (printed_ && since < 0.1) return;
    std::fprintf(out_, "\r%s\x1b[K", format(done, extra, elapsed).c_str());
  } else {
    if (printed_ ? since < plain_every_s_ : elapsed < plain_every_s_) return;
    std::fprintf(out_, "%s\n", format(done, extra, elapsed).c_str());
  }
  std::fflush(out_);
  printed_ = true;
  last_print_ = now;
}

void Progress::finish(const std::string& extra) {
  if (mode_ == Mode::QUIET || finished_) return;
  finished_ = true;
  double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  std::string line = format(done_, extra, elapsed);
  if (mode_ == Mode::TERMINAL) std::fprintf(out_, "\r%s\x1b[K\n", line.c_str());
  else std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

}  // namespace pelab
