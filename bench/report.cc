#include "bench/report.h"

#include <time.h>

#include <cmath>
#include <cstdio>

#include "core/json_line.h"

namespace pelab::bench {

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

void JsonLine::key(const std::string& k) {
  if (!body_.empty()) body_ += ", ";
  body_ += json_escape(k) + ": ";
}

JsonLine& JsonLine::str(const std::string& k, const std::string& value) {
  key(k);
  body_ += json_escape(value);
  return *this;
}

JsonLine& JsonLine::num(const std::string& k, double value) {
  if (!std::isfinite(value)) return null(k);
  key(k);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  body_ += buf;
  return *this;
}

JsonLine& JsonLine::integer(const std::string& k, int64_t value) {
  key(k);
  body_ += std::to_string(value);
  return *this;
}

JsonLine& JsonLine::boolean(const std::string& k, bool value) {
  key(k);
  body_ += value ? "true" : "false";
  return *this;
}

JsonLine& JsonLine::null(const std::string& k) {
  key(k);
  body_ += "null";
  return *this;
}

}  // namespace pelab::bench
