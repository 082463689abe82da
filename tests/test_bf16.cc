// core/bf16.h: round to nearest even, exact round trips, NaN and infinities;
// bf16 attention on the CPU is refused with a clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "attention/attention.h"
#include "core/bf16.h"
#include "core/error.h"

namespace pelab {
namespace {

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(to_bf16(1.0f).bits, 0x3f80);
  EXPECT_EQ(to_bf16(-2.0f).bits, 0xc000);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to the even mantissa (1).
  EXPECT_EQ(to_float(to_bf16(1.0f + 0x1p-8f)), 1.0f);
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6).
  EXPECT_EQ(to_float(to_bf16(1.0f + 3 * 0x1p-8f)), 1.0f + 0x1p-6f);
  EXPECT_EQ(to_float(to_bf16(1.0f + 0x1p-8f + 0x1p-20f)), 1.0f + 0x1p-7f) << "above the tie rounds up";
  EXPECT_EQ(to_float(to_bf16(3.140625f)), 3.140625f) << "representable values are exact";
  EXPECT_TRUE(std::isnan(to_float(to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(to_float(to_bf16(std::numeric_limits<float>::infinity())), std::numeric_limits<float>::infinity());
  EXPECT_EQ(to_float(to_bf16(-0.0f)), 0.0f);
  EXPECT_TRUE(std::signbit(to_float(to_bf16(-0.0f))));
}

TEST(Bf16, RelativeErrorIsAtMostHalfAnUlp) {
  for (float x = 1e-3f; x < 1e3f; x *= 1.0137f) {
    const float r = to_float(to_bf16(x));
    EXPECT_LE(std::fabs(r - x), 0x1p-8f * std::fabs(x)) << x;  // half of 2^-7 relative at worst
  }
}

TEST(Bf16, AttentionOnTheCpuIsRefused) {
  std::vector<bf16> x(4 * 2 * 16, to_bf16(0.5f));
  std::vector<float> lse(8);
  AttentionParams<bf16> p = AttentionParams<bf16>::dense(x.data(), x.data(), x.data(), x.data(), lse.data(), 1, 4, 4, 2, 16, true);
  EXPECT_THROW(attention_forward(p, AttnImpl::FLASH), Error);
  EXPECT_THROW(attention_forward(p, AttnImpl::NAIVE), Error);
}

}  // namespace
}  // namespace pelab
