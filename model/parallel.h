// Static work splitting shared by the model's layers and the GEMM backend benchmark.
#pragma once

#include <omp.h>

#include <cstdint>

namespace pelab {

// Calls f(lo, hi) on each thread with a disjoint, contiguous range covering
// [0, n), in thread order. Used two ways:
//  - parameter gradients split by channel: each channel's sum over rows is
//    added in row order, so the result does not depend on the thread count;
//  - matrix products split by output block: each thread runs one serial
//    Eigen product (Eigen sees the enclosing parallel region and does not
//    thread itself). Eigen's own parallel GEMM synchronises threads with
//    busy-waits, which on a shared 2-core machine spent ~30% of a training
//    step spinning (perf, d_model 256); disjoint blocks need no sync at all.
template <typename F>
void parallel_ranges(int64_t n, F&& f) {
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t lo = n * t / nt, hi = n * (t + 1) / nt;
    if (hi > lo) f(lo, hi);
  }
}

}  // namespace pelab
