// The machine's fp32 FMA peak, measured in the calling process: a register-only
// loop of independent FMA chains (no loads or stores in the loop) on T OpenMP
// threads. Benchmarks divide by it rather than by a datasheet number, since on
// a shared VM the clock and the share of the cores drift
// (reference/performance.md §2, DESIGN.md "Numbers to reach").
#pragma once

#include <string>

namespace pelab::bench {

struct FmaPeak {
  double gflops = 0;          // best trial: fp32 FLOP/s / 1e9, one FMA = 2 FLOP
  // The same FLOPs over the trial's process CPU time divided by `threads`:
  // the rate while the threads were on a core, insensitive to other processes
  // taking turns on the cores (best trial).
  double cpu_gflops = 0;
  int threads = 0;            // OpenMP threads that ran the loop
  std::string isa;            // "avx512" (zmm), "avx2" (ymm) or "scalar"
  int lanes = 0;              // fp32 lanes per vector
  int chains = 0;             // independent accumulators per thread
  int trials = 0;             // timed trials; gflops is the best of them
  double trial_seconds = 0;   // length of one trial
};

// threads <= 0: omp_get_max_threads(). Each trial runs about `seconds`;
// the best of `trials` is reported (a first, untimed run calibrates the
// iteration count and wakes the thread pool).
FmaPeak measure_fma_peak(int threads = 0, double seconds = 0.2, int trials = 3);

}  // namespace pelab::bench
