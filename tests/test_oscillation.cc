// Oscillation index (analysis/oscillation.{h,cc}; docs/oscillation.md).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "test_util.h"
#include "analysis/oscillation.h"
#include "encodings/rope_math.h"

namespace pelab {
namespace {

using testing::Near;


}  // namespace

// Monotone: the steps add up to max - min, so tv = 1, and Δs never changes sign.
TEST(Oscillation, MonotoneCurve) {
  std::vector<double> up(101), down(101), stairs(101);
  for (int n = 0; n <= 100; ++n) {
    up[n] = 1.0 + n * n;
    down[n] = std::exp(-n / 10.0);
    stairs[n] = 1.0 + std::floor(n / 10.0);  // flat runs are skipped, not sign changes
  }
  for (const auto* s : {&up, &down, &stairs}) {
    const auto o = oscillation_index(s->data(), 0, 100);
    EXPECT_EQ(o.start, 0);
    EXPECT_EQ(o.end, 100);
    // 100 |Δ| summed and divided by the range, fp64: 1e-13.
    EXPECT_TRUE(Near(o.normalized_tv, 1.0, 1e-13, 0));
    EXPECT_EQ(o.sign_changes, 0);
    EXPECT_EQ(o.first_nonpositive, -1);
  }
}

TEST(Oscillation, ConstantCurve) {
  const std::vector<double> c(50, 3.5);
  const auto o = oscillation_index(c.data(), 0, 49);
  EXPECT_EQ(o.normalized_tv, 0.0);
  EXPECT_EQ(o.sign_changes, 0);
  EXPECT_EQ(o.first_nonpositive, -1);
  const std::vector<double> z(10, 0.0);
  EXPECT_EQ(oscillation_index(z.data(), 0, 9).first_nonpositive, 0);
  // A single point is a constant curve too.
  const auto one = oscillation_index(c.data(), 7, 7);
  EXPECT_EQ(one.normalized_tv, 0.0);
  EXPECT_EQ(one.sign_changes, 0);
}

// s[n] = cos(2π(n + 1/4)/20) on [0, 100]: extrema at n = 9.75 + 10k strictly
// inside the range for k = 0..8 (99.75 has no sample after it), so 9 sign changes.
// s first reaches <= 0 at n = 5 (n + 1/4 = 5 is the zero crossing at 4.75).
TEST(Oscillation, SampledCosine) {
  std::vector<double> s(101);
  for (int n = 0; n <= 100; ++n) s[n] = std::cos(2 * kPi * (n + 0.25) / 20.0);
  const auto o = oscillation_index(s.data(), 0, 100);
  EXPECT_EQ(o.sign_changes, 9);
  EXPECT_EQ(o.first_nonpositive, 5);
  // Ten half-periods of variation ~2 each over a range of ~2: tv ≈ 10.
  EXPECT_GT(o.normalized_tv, 9.0);
  EXPECT_LT(o.normalized_tv, 10.5);
  // The sub-range [20, 60]: extrema at 29.75, 39.75, 49.75 have samples on both
  // sides; 59.75 lies in the last step 59 -> 60, with no step after it.
  const auto sub = oscillation_index(s.data(), 20, 60);
  EXPECT_EQ(sub.start, 20);
  EXPECT_EQ(sub.end, 60);
  EXPECT_EQ(sub.sign_changes, 3);
  EXPECT_EQ(sub.first_nonpositive, 25);
}

TEST(Oscillation, FirstNonpositive) {
  const std::vector<double> s = {3.0, 2.0, 1.0, 0.5, 0.0, -1.0, 2.0};
  EXPECT_EQ(oscillation_index(s.data(), 0, 6).first_nonpositive, 4);  // 0 counts as nonpositive
  EXPECT_EQ(oscillation_index(s.data(), 0, 3).first_nonpositive, -1);
  EXPECT_EQ(oscillation_index(s.data(), 5, 6).first_nonpositive, 5);
  EXPECT_EQ(oscillation_index(s.data(), 6, 6).first_nonpositive, -1);
  // tv over [0, 6]: |Δ| = 1, 1, 0.5, 0.5, 1, 3 = 7, range 2 - (-1) ... max 3, min -1: 7/4.
  EXPECT_TRUE(Near(oscillation_index(s.data(), 0, 6).normalized_tv, 7.0 / 4.0, 1e-15, 0));
  EXPECT_EQ(oscillation_index(s.data(), 0, 6).sign_changes, 1);
}

}  // namespace pelab
