// Absolute encodings (encodings/absolute.{h,cc}, sinusoidal_math.h).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "test_util.h"
#include "core/error.h"
#include "encodings/absolute.h"
#include "encodings/sinusoidal_math.h"

namespace pelab {
namespace {

using testing::Near;
using testing::random_vec;



}  // namespace

TEST(Absolute, SinusoidalPeFormula) {
  // PE(p, 2k) = sin(p/10000^(2k/d)), PE(p, 2k+1) = cos(...) (arXiv 1706.03762 §3.5).
  const int d = 16;
  for (double p : {0.0, 1.0, 5.0, 1000.0})
    for (int k = 0; k < d / 2; ++k) {
      const double w = 1.0 / std::pow(10000.0, 2.0 * k / d);
      // Same functions of an angle computed two ways (pow(b, -x) vs 1/pow(b, x)):
      // the angle differs by an ulp, i.e. <= 1000·2e-16: atol 1e-12.
      EXPECT_TRUE(Near(sinusoidal_pe(p, 2 * k, d), std::sin(p * w), 1e-12, 0));
      EXPECT_TRUE(Near(sinusoidal_pe(p, 2 * k + 1, d), std::cos(p * w), 1e-12, 0));
    }
  EXPECT_EQ(sinusoidal_pe(0.0, 0, d), 0.0);
  EXPECT_EQ(sinusoidal_pe(0.0, 1, d), 1.0);
}

TEST(Absolute, SinusoidalAddForward) {
  const int rows = 5, C = 32;
  const std::vector<double> pos = {0.0, 1.0, 2.5, 100.0, 4095.0};
  const auto x0 = random_vec<double>(rows * C, 1);
  auto x = x0;
  sinusoidal_add_forward(x.data(), pos.data(), rows, C);
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < C; ++i) EXPECT_EQ(x[r * C + i], x0[r * C + i] + sinusoidal_pe(pos[r], i, C)) << r << " " << i;
  const auto f0 = random_vec<float>(rows * C, 2);
  auto f = f0;
  sinusoidal_add_forward(f.data(), pos.data(), rows, C);
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < C; ++i)
      EXPECT_EQ(f[r * C + i], f0[r * C + i] + static_cast<float>(sinusoidal_pe(pos[r], i, C))) << r << " " << i;
}

TEST(Absolute, LearnedForwardAddsTableRows) {
  const int rows = 4, C = 8, max_len = 6;
  const auto wpe = random_vec<double>(max_len * C, 3);
  const std::vector<double> pos = {0.0, 5.0, 2.0, 2.0};
  const auto x0 = random_vec<double>(rows * C, 4);
  auto x = x0;
  learned_pe_add_forward(x.data(), wpe.data(), pos.data(), rows, C, max_len);
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < C; ++i)
      EXPECT_EQ(x[r * C + i], x0[r * C + i] + wpe[static_cast<int>(pos[r]) * C + i]) << r << " " << i;
}

// dL/dwpe for L = Σ w·(x + wpe[pos]) against central finite differences (fp64);
// repeated positions accumulate, and the gradient is added to what dwpe holds.
TEST(Absolute, LearnedBackwardMatchesFiniteDifferences) {
  const int rows = 5, C = 6, max_len = 7;
  const std::vector<double> pos = {3.0, 0.0, 3.0, 6.0, 3.0};  // position 3 three times
  const auto x = random_vec<double>(rows * C, 5);
  const auto w = random_vec<double>(rows * C, 6);
  const auto wpe0 = random_vec<double>(max_len * C, 7);
  auto loss = [&](const std::vector<double>& wpe) {
    auto y = x;
    learned_pe_add_forward(y.data(), wpe.data(), pos.data(), rows, C, max_len);
    double L = 0.0;
    for (size_t i = 0; i < y.size(); ++i) L += w[i] * y[i];
    return L;
  };
  const double kPrior = 0.125;
  std::vector<double> dwpe(max_len * C, kPrior);  // parameter grads +=
  learned_pe_add_backward(dwpe.data(), w.data(), pos.data(), rows, C, max_len);
  // L is linear in wpe: the central difference is exact up to rounding,
  // ~30 terms·u·|w·y| (<= 2) / h ≈ 1e-13 at h = 1e-2.
  const double h = 1e-2;
  for (int i = 0; i < max_len * C; ++i) {
    auto p = wpe0, m = wpe0;
    p[i] += h;
    m[i] -= h;
    const double fd = (loss(p) - loss(m)) / (2 * h);
    EXPECT_TRUE(Near(dwpe[i] - kPrior, fd, 1e-10, 1e-10)) << "entry " << i;
  }
  // Position 3 collects three rows; unused positions stay at the prior value.
  for (int c = 0; c < C; ++c) {
    EXPECT_TRUE(Near(dwpe[3 * C + c], kPrior + w[0 * C + c] + w[2 * C + c] + w[4 * C + c], 1e-15, 0));
    EXPECT_EQ(dwpe[1 * C + c], kPrior);
  }
}

TEST(Absolute, LearnedRejectsPositionsOutsideTheTable) {
  const int C = 4, max_len = 8;
  const std::vector<double> wpe(max_len * C, 1.0);
  std::vector<double> x(C, 0.0), dwpe(max_len * C, 0.0);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double bad : {-1.0, 8.0, 100.0, 2.5, -0.5, 7.0001, nan}) {
    EXPECT_THROW(learned_pe_add_forward(x.data(), wpe.data(), &bad, 1, C, max_len), Error) << bad;
    EXPECT_THROW(learned_pe_add_backward(dwpe.data(), x.data(), &bad, 1, C, max_len), Error) << bad;
  }
  const double last = 7.0;
  EXPECT_NO_THROW(learned_pe_add_forward(x.data(), wpe.data(), &last, 1, C, max_len));
  try {
    const double bad = 8.0;
    learned_pe_add_forward(x.data(), wpe.data(), &bad, 1, C, max_len);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[0, 8)"), std::string::npos) << e.what();
    EXPECT_FALSE(e.hint().empty());
  }
}

}  // namespace pelab
