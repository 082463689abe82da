#include "core/memory.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace pelab {

int64_t mem_available_bytes() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (!f) return -1;
  char line[256];
  int64_t value = -1;
  while (std::fgets(line, sizeof line, f)) {
    long long kb = 0;
    if (std::strncmp(line, "MemAvailable:", 13) == 0 && std::sscanf(line + 13, "%lld", &kb) == 1) {
      value = static_cast<int64_t>(kb) * 1024;
      break;
    }
  }
  std::fclose(f);
  return value;
}

void check_memory(double bytes, const std::string& what, const std::string& hint) {
  double avail = static_cast<double>(mem_available_bytes());
  if (const char* env = std::getenv("PELAB_MEMORY_LIMIT_GB")) avail = std::atof(env) * 1e9;
  if (avail <= 0) return;  // unknown: let the allocation decide
  char buf[160];
  std::snprintf(buf, sizeof buf, " needs %.2f GB, but only %.2f GB of memory is available", bytes / 1e9, avail / 1e9);
  PELAB_CHECK(bytes <= 0.9 * avail, what << buf, hint);
}

}  // namespace pelab
