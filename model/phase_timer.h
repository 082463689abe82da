// Where a training step's time goes: wall seconds spent in the model's matrix
// products and in attention, accumulated process-wide while enabled (for
// `pelab bench train`; off otherwise, when a timed region costs one relaxed
// load). The model calls these from its serial code between OpenMP regions,
// so plain accumulators suffice. "The rest" is a step's time minus both.
#pragma once

#include <chrono>

namespace pelab {

enum class Phase : int {
  MATMUL = 0,  // linear layers and the tied head (matmul_*, lm_head_*)
  ATTENTION,   // the attention kernel and the RoPE/xPos apply, forward and backward
  kCount
};

struct PhaseTimes {
  double seconds[static_cast<int>(Phase::kCount)] = {};
  double operator[](Phase p) const { return seconds[static_cast<int>(p)]; }
};

void set_phase_timing(bool on);
bool phase_timing();
PhaseTimes phase_times();    // totals since the last reset
void reset_phase_times();
void add_phase_time(Phase p, double seconds);

// Adds the scope's wall time to `p` when timing is on.
class PhaseScope {
 public:
  explicit PhaseScope(Phase p) : phase_(p), on_(phase_timing()) {
    if (on_) t0_ = std::chrono::steady_clock::now();
  }
  ~PhaseScope() {
    if (on_) add_phase_time(phase_, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count());
  }
  PhaseScope(const PhaseScope&) = delete;
  PhaseScope& operator=(const PhaseScope&) = delete;

 private:
  Phase phase_;
  bool on_;
  std::chrono::steady_clock::time_point t0_;
};

}  // namespace pelab
