// Resident-memory measurements for benchmarks (Linux; elsewhere the readers
// return -1 and the reset reports false).
//
// Two numbers a benchmark can report:
//  - the process's peak RSS (getrusage ru_maxrss), monotone over the run;
//  - the peak during one region of interest (RssWindow): VmHWM from
//    /proc/self/status after resetting it with `echo 5 > /proc/self/clear_refs`
//    (Linux >= 4.0). The reset lowers what ru_maxrss reports as well, so
//    peak_rss_bytes() folds in every high-water mark seen before a reset.
#pragma once

#include <cstdint>

namespace pelab::bench {

// Process peak RSS in bytes since start: max(ru_maxrss, VmHWM, every VmHWM
// read just before a reset_rss_high_water_mark()). -1 if unknown.
int64_t peak_rss_bytes();
// VmRSS / VmHWM from /proc/self/status in bytes, -1 if unavailable.
int64_t current_rss_bytes();
int64_t rss_high_water_mark_bytes();

// Resets VmHWM to the current RSS (writes "5" to /proc/self/clear_refs).
// Returns whether it worked: the write succeeded and VmHWM reads back no
// higher than VmRSS plus 1 MiB of slack.
bool reset_rss_high_water_mark();

// The RSS high-water mark over a region: construct before, read after.
class RssWindow {
 public:
  RssWindow();                                   // resets VmHWM, records VmRSS
  bool valid() const { return valid_; }          // the reset worked
  int64_t start_bytes() const { return start_; } // VmRSS at the start
  int64_t peak_bytes() const;                    // VmHWM now; -1 if !valid()
  int64_t increase_bytes() const;                // peak - start; -1 if !valid()

 private:
  bool valid_ = false;
  int64_t start_ = -1;
};

}  // namespace pelab::bench
