// Helpers shared by the `pelab bench` topics (bench_*.cc); the registry of
// topics and the options they share are in cmd_bench.cc.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "core/error.h"
#include "cli/cli.h"

namespace pelab::cli {

int bench_attention(Context& ctx);
int bench_train(Context& ctx);
int bench_eval(Context& ctx);

namespace bench_util {

inline int positive_int(Context& ctx, const std::string& key, long long max, const char* example) {
  const long long v = ctx.integer(key);
  PELAB_CHECK(v >= 1 && v <= max, "--" << key << " must be in [1, " << max << "], got " << v, "e.g. --" << key << " " << example);
  return static_cast<int>(v);
}

inline std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

inline std::string mb(int64_t bytes) { return bytes < 0 ? "-" : fmt("%.1f", static_cast<double>(bytes) / (1 << 20)); }

}  // namespace bench_util
}  // namespace pelab::cli
