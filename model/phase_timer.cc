#include "model/phase_timer.h"

#include <atomic>

namespace pelab {

namespace {
std::atomic<bool> g_on{false};
PhaseTimes g_times;
}  // namespace

void set_phase_timing(bool on) { g_on.store(on, std::memory_order_relaxed); }
bool phase_timing() { return g_on.load(std::memory_order_relaxed); }
PhaseTimes phase_times() { return g_times; }
void reset_phase_times() { g_times = PhaseTimes{}; }
void add_phase_time(Phase p, double seconds) { g_times.seconds[static_cast<int>(p)] += seconds; }

}  // namespace pelab
