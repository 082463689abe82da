// Helpers shared by the unit tests: the atol + rtol·|ref| comparison of the
// test policy (style.md §8) and seeded random vectors.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace pelab::testing {

inline ::testing::AssertionResult Near(double a, double ref, double atol, double rtol) {
  const double tol = atol + rtol * std::fabs(ref);
  if (std::fabs(a - ref) <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << a << " vs ref " << ref << ": |diff| " << std::fabs(a - ref) << " > tol "
                                       << tol;
}

// n values uniform in [-1, 1) from a fixed seed.
template <typename T>
std::vector<T> random_vec(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(u(gen));
  return v;
}

}  // namespace pelab::testing
