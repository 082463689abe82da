// How much memory this machine can still give, and a check that turns "this
// would need more than that" into one clear error before any allocation (an
// allocation past the RAM either fails late or wakes the OOM killer, which
// ends the process with SIGKILL and no message).
#pragma once

#include <cstdint>
#include <string>

namespace pelab {

// MemAvailable from /proc/meminfo in bytes, -1 if unavailable.
int64_t mem_available_bytes();

// Throws pelab::Error when `bytes` exceed 90% of MemAvailable: "<what> needs
// X GB, but only Y GB of memory is available; <hint>". PELAB_MEMORY_LIMIT_GB
// overrides MemAvailable (tests, shared machines).
void check_memory(double bytes, const std::string& what, const std::string& hint);

}  // namespace pelab
