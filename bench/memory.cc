#include "bench/memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>

namespace pelab::bench {

namespace {

// The largest VmHWM seen just before a reset (the reset forgets it).
std::atomic<int64_t> g_folded_peak{0};

// "Key:   1234 kB" line of a /proc file, in bytes; -1 if absent.
int64_t read_kb_field(const char* path, const char* key) {
  std::FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  char line[256];
  const size_t klen = std::strlen(key);
  int64_t value = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, klen) == 0 && line[klen] == ':') {
      long long kb = 0;
      if (std::sscanf(line + klen + 1, "%lld", &kb) == 1) value = static_cast<int64_t>(kb) * 1024;
      break;
    }
  }
  std::fclose(f);
  return value;
}

void fold(int64_t bytes) {
  int64_t cur = g_folded_peak.load();
  while (bytes > cur && !g_folded_peak.compare_exchange_weak(cur, bytes)) {
  }
}

}  // namespace

int64_t current_rss_bytes() { return read_kb_field("/proc/self/status", "VmRSS"); }
int64_t rss_high_water_mark_bytes() { return read_kb_field("/proc/self/status", "VmHWM"); }

int64_t peak_rss_bytes() {
  int64_t peak = std::max(g_folded_peak.load(), rss_high_water_mark_bytes());
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) peak = std::max<int64_t>(peak, static_cast<int64_t>(ru.ru_maxrss) * 1024);
  return peak > 0 ? peak : -1;
}

bool reset_rss_high_water_mark() {
  fold(peak_rss_bytes());
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool wrote = std::fputs("5", f) >= 0;
  const bool closed = std::fclose(f) == 0;
  if (!wrote || !closed) return false;
  const int64_t hwm = rss_high_water_mark_bytes(), rss = current_rss_bytes();
  return hwm >= 0 && rss >= 0 && hwm <= rss + (1 << 20);
}

RssWindow::RssWindow() {
#if defined(__GLIBC__)
  // Freed heap pages stay resident and a later allocation reuses them without
  // raising RSS: a kernel's first call at N = 4096 after a pass at 2048 read as
  // 0 bytes. Handing them back first makes the window count what the call needs.
  malloc_trim(0);
#endif
  valid_ = reset_rss_high_water_mark();
  start_ = current_rss_bytes();
  if (start_ < 0) valid_ = false;
}

int64_t RssWindow::peak_bytes() const { return valid_ ? rss_high_water_mark_bytes() : -1; }

int64_t RssWindow::increase_bytes() const {
  if (!valid_) return -1;
  const int64_t p = peak_bytes();
  return p < 0 ? -1 : std::max<int64_t>(0, p - start_);
}

}  // namespace pelab::bench
