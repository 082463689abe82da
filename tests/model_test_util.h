// Shared helpers of the model tests (test_model*.cc): finite differences with
// the 4-point stencil, a tolerance report as |a - ref| <= atol + rtol·|ref|
// (shared/reference/style.md §8.1, §8.3), and one OpenMP thread for the
// thousands of tiny evaluations a gradient check makes.
#pragma once

#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace pelab::model_test {

// PELAB_MODEL_REPORT=1 prints the max errors of every comparison (to calibrate tolerances).
inline bool report_enabled() {
  const char* e = std::getenv("PELAB_MODEL_REPORT");
  return e && e[0] == '1';
}

// Tiny shapes: a parallel-region wake-up per evaluation would dominate.
struct OneThread {
  int prev = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(prev); }
};

// f'(x) ≈ (-f(x+2h) + 8f(x+h) - 8f(x-h) + f(x-2h)) / 12h: truncation
// h⁴/30·|f⁽⁵⁾|, rounding ≈ 1.5·ε·|f|/h. h is a power of two so that x ± h
// is exact for the inputs below (multiples of 2^-12 or smooth doubles).
template <typename T, typename F>
double fd4(T& x, double h, F&& f) {
  const T x0 = x;
  x = static_cast<T>(x0 + 2 * h);
  const double f2 = f();
  x = static_cast<T>(x0 + h);
  const double f1 = f();
  x = static_cast<T>(x0 - h);
  const double fm1 = f();
  x = static_cast<T>(x0 - 2 * h);
  const double fm2 = f();
  x = x0;
  return (-f2 + 8 * f1 - 8 * fm1 + fm2) / (12 * h);
}

struct ErrStats {
  double max_abs = 0, max_excess = -1e300;  // excess: |a - ref| - (atol + rtol·|ref|)
  int64_t worst = -1;
};

// Elementwise |a - ref| <= atol + rtol·|ref|; reports the worst element.
inline ::testing::AssertionResult close_all(const std::string& what, const std::vector<double>& a,
                                            const std::vector<double>& ref, double atol, double rtol) {
  if (a.size() != ref.size()) return ::testing::AssertionFailure() << what << ": size " << a.size() << " vs " << ref.size();
  ErrStats s;
  double max_ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double err = std::fabs(a[i] - ref[i]);
    const double excess = err - (atol + rtol * std::fabs(ref[i]));
    s.max_abs = std::max(s.max_abs, err);
    max_ref = std::max(max_ref, std::fabs(ref[i]));
    if (excess > s.max_excess) {
      s.max_excess = excess;
      s.worst = static_cast<int64_t>(i);
    }
  }
  if (report_enabled())
    std::printf("  [%s] n=%zu max|err|=%.3g max|ref|=%.3g\n", what.c_str(), a.size(), s.max_abs, max_ref);
  if (s.max_excess <= 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": element " << s.worst << " analytic " << a[s.worst] << " vs reference "
                                       << ref[s.worst] << " (|err| " << std::fabs(a[s.worst] - ref[s.worst])
                                       << " > atol " << atol << " + rtol " << rtol << "·|ref|)";
}

// Uniform values in [lo, hi) rounded to multiples of 2^-12 (exact in fp32 for
// |x| < 2^11, and x ± k·2^-10 stays exact).
template <typename T>
void fill_uniform(T* x, int64_t n, double lo, double hi, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(lo, hi);
  for (int64_t i = 0; i < n; ++i) x[i] = static_cast<T>(std::round(u(rng) * 4096.0) / 4096.0);
}

}  // namespace pelab::model_test
