// Score biases (encodings/bias_math.h, encodings/bias.{h,cc}): ALiBi slopes and
// functor, T5 buckets, KERPLE, the learned-parameter shapes and bias_value.
//
// Golden values come from tests/golden/gen_golden.py: fairseq's recursive
// get_slopes and mesh-tensorflow's _relative_position_bucket (float32 log), both
// recomputed in numpy. Tolerances are |a - ref| <= atol + rtol·|ref| (style.md §8.1).
#include <gtest/gtest.h>

#include <cmath>
#include <iterator>
#include <vector>

#include "test_util.h"
#include "encodings/bias.h"

namespace pelab {
namespace {

using testing::Near;


// fp32 functors (AlibiBias, KerpleBias) against fp64 formulas: a handful of fp32
// roundings (2^-24 ≈ 6e-8 each) of the inputs and products: rtol 1e-6.
constexpr double kFp32Rtol = 1e-6;

// gen_golden.py get_slopes(1)
const double kAlibiSlopes1[] = {
    0.00390625,
};

// gen_golden.py get_slopes(2)
const double kAlibiSlopes2[] = {
    0.0625, 0.00390625,
};

// gen_golden.py get_slopes(3)
const double kAlibiSlopes3[] = {
    0.0625, 0.00390625, 0.25,
};

// gen_golden.py get_slopes(5)
const double kAlibiSlopes5[] = {
    0.25, 0.0625, 0.015625, 0.00390625,
    0.5,
};

// gen_golden.py get_slopes(6)
const double kAlibiSlopes6[] = {
    0.25, 0.0625, 0.015625, 0.00390625,
    0.5, 0.125,
};

// gen_golden.py get_slopes(7)
const double kAlibiSlopes7[] = {
    0.25, 0.0625, 0.015625, 0.00390625,
    0.5, 0.125, 0.03125,
};

// gen_golden.py get_slopes(12)
const double kAlibiSlopes12[] = {
    0.5, 0.25, 0.125, 0.0625,
    0.03125, 0.015625, 0.0078125, 0.00390625,
    0.7071067811865476, 0.35355339059327384, 0.17677669529663692, 0.08838834764831849,
};

// gen_golden.py get_slopes(20)
const double kAlibiSlopes20[] = {
    0.7071067811865476, 0.5000000000000001, 0.35355339059327384, 0.25000000000000006,
    0.17677669529663692, 0.12500000000000006, 0.08838834764831849, 0.06250000000000004,
    0.044194173824159244, 0.03125000000000002, 0.022097086912079626, 0.01562500000000001,
    0.011048543456039816, 0.007812500000000007, 0.005524271728019908, 0.003906250000000004,
    0.8408964152537145, 0.5946035575013604, 0.42044820762685714, 0.2973017787506802,
};

// gen_golden.py get_slopes(24)
const double kAlibiSlopes24[] = {
    0.7071067811865476, 0.5000000000000001, 0.35355339059327384, 0.25000000000000006,
    0.17677669529663692, 0.12500000000000006, 0.08838834764831849, 0.06250000000000004,
    0.044194173824159244, 0.03125000000000002, 0.022097086912079626, 0.01562500000000001,
    0.011048543456039816, 0.007812500000000007, 0.005524271728019908, 0.003906250000000004,
    0.8408964152537145, 0.5946035575013604, 0.42044820762685714, 0.2973017787506802,
    0.21022410381342854, 0.14865088937534005, 0.10511205190671426, 0.07432544468767001,
};

// n = i - j for kT5Causal32_128 (relative_position = -n)
const long kT5CausalN[] = {
    -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36,
    37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56,
    57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76,
    77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96,
    97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116,
    117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136,
    137, 138, 139, 150, 181, 200, 255, 256, 511, 512, 1000, 4096, 100000,
};
// gen_golden.py relative_position_bucket(-n, bidirectional=False, num_buckets=32, max_distance=128)
const int kT5Causal32_128[] = {
    0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    16, 16, 17, 17, 18, 18, 18, 19, 19, 19, 20, 20, 20, 20, 21, 21, 21, 21, 22, 22,
    22, 22, 22, 23, 23, 23, 23, 23, 23, 24, 24, 24, 24, 24, 24, 25, 25, 25, 25, 25,
    25, 25, 26, 26, 26, 26, 26, 26, 26, 26, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27,
    28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29,
    29, 29, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
};

const long kT5BidirN[] = {
    -140, -139, -138, -137, -136, -135, -134, -133, -132, -131, -130, -129, -128, -127, -126, -125, -124, -123, -122, -121,
    -120, -119, -118, -117, -116, -115, -114, -113, -112, -111, -110, -109, -108, -107, -106, -105, -104, -103, -102, -101,
    -100, -99, -98, -97, -96, -95, -94, -93, -92, -91, -90, -89, -88, -87, -86, -85, -84, -83, -82, -81,
    -80, -79, -78, -77, -76, -75, -74, -73, -72, -71, -70, -69, -68, -67, -66, -65, -64, -63, -62, -61,
    -60, -59, -58, -57, -56, -55, -54, -53, -52, -51, -50, -49, -48, -47, -46, -45, -44, -43, -42, -41,
    -40, -39, -38, -37, -36, -35, -34, -33, -32, -31, -30, -29, -28, -27, -26, -25, -24, -23, -22, -21,
    -20, -19, -18, -17, -16, -15, -14, -13, -12, -11, -10, -9, -8, -7, -6, -5, -4, -3, -2, -1,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
    20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39,
    40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
    60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79,
    80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99,
    100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119,
    120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139,
    140, -100000, -1000, -200, 200, 1000, 100000,
};
// gen_golden.py relative_position_bucket(-n, bidirectional=True, num_buckets=32, max_distance=128)
const int kT5Bidir32_128[] = {
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
    30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 29, 29, 29,
    29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 28, 28, 28, 28, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 28, 27, 27, 27, 27, 27, 27, 27, 27, 27, 26, 26,
    26, 26, 26, 26, 26, 25, 25, 25, 25, 24, 24, 24, 24, 23, 22, 21, 20, 19, 18, 17,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10,
    10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 12, 12, 12, 12, 12, 12, 12, 12,
    12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13,
    13, 13, 13, 13, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14,
    14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 31, 31, 31, 15, 15, 15,
};

const long kT5WideN[] = {
    0, 1, 15, 16, 31, 32, 33, 40, 50, 64, 100, 127, 128, 200, 255, 256, 300, 400, 500, 511,
    512, 513, 1000, 10000,
};
// gen_golden.py relative_position_bucket(-n, bidirectional=False, num_buckets=64, max_distance=512)
const int kT5Causal64_512[] = {
    0, 1, 15, 16, 31, 32, 32, 34, 37, 40, 45, 47, 48, 53, 55, 56, 57, 61, 63, 63,
    63, 63, 63, 63,
};

// gen_golden.py relative_position_bucket(-n then +n over kT5WideN, bidirectional=True, num_buckets=64, max_distance=512)
const int kT5Bidir64_512[] = {
    0, 1, 15, 16, 19, 19, 19, 20, 21, 22, 24, 25, 25, 27, 28, 28, 29, 30, 31, 31,
    31, 31, 31, 31, 0, 33, 47, 48, 51, 51, 51, 52, 53, 54, 56, 57, 57, 59, 60, 60,
    61, 62, 63, 63, 63, 63, 63, 63,
};

}  // namespace

// Power-of-2 head counts: m_h = 2^(-8h/n), h = 1..n.
TEST(Bias, AlibiSlopesPowerOfTwo) {
  const auto m8 = alibi_slopes(8);
  ASSERT_EQ(m8.size(), 8u);
  for (int h = 0; h < 8; ++h) EXPECT_EQ(m8[h], std::ldexp(1.0, -(h + 1))) << "h " << h;  // 1/2 .. 1/256, exact
  const auto m16 = alibi_slopes(16);
  ASSERT_EQ(m16.size(), 16u);
  // Start and ratio 1/√2; exp2 against √2 powers: ~1 ulp, rtol 1e-15.
  EXPECT_TRUE(Near(m16[0], 1.0 / std::sqrt(2.0), 0, 1e-15));
  for (int h = 1; h < 16; ++h) EXPECT_TRUE(Near(m16[h] / m16[h - 1], 1.0 / std::sqrt(2.0), 0, 1e-15)) << "h " << h;
  EXPECT_EQ(m16[15], 1.0 / 256);
}

// Other head counts: fairseq get_slopes (recursive: P(c) ++ P(2c)[0::2][:n-c]).
TEST(Bias, AlibiSlopesMatchFairseq) {
  // fairseq accumulates start·ratio**i in fp64 (e.g. 0.5000000000000001 for 1/2):
  // a few ulp from our exp2, so rtol 1e-14.
  auto check = [](int n, const double* ref, size_t len) {
    const auto m = alibi_slopes(n);
    ASSERT_EQ(m.size(), len) << "n " << n;
    for (int h = 0; h < n; ++h) {
      EXPECT_TRUE(Near(m[h], ref[h], 0, 1e-14)) << "n " << n << " h " << h;
      EXPECT_EQ(m[h], alibi_slope(h, n));
    }
  };
  check(1, kAlibiSlopes1, std::size(kAlibiSlopes1));
  check(2, kAlibiSlopes2, std::size(kAlibiSlopes2));
  check(3, kAlibiSlopes3, std::size(kAlibiSlopes3));
  check(5, kAlibiSlopes5, std::size(kAlibiSlopes5));
  check(6, kAlibiSlopes6, std::size(kAlibiSlopes6));
  check(7, kAlibiSlopes7, std::size(kAlibiSlopes7));
  check(12, kAlibiSlopes12, std::size(kAlibiSlopes12));
  check(20, kAlibiSlopes20, std::size(kAlibiSlopes20));
  check(24, kAlibiSlopes24, std::size(kAlibiSlopes24));
}

// ggml's form of the same list (ops.cpp, max_bias 8): head h gets m0^(h+1) for
// h < c, else m1^(2(h-c)+1), m0 = 2^(-8/c), m1 = 2^(-4/c).
TEST(Bias, AlibiSlopesMatchGgmlForm) {
  for (int n : {1, 3, 8, 12, 16, 20, 24, 40}) {
    int c = 1;
    while (2 * c <= n) c *= 2;
    const double m0 = std::pow(2.0, -8.0 / c), m1 = std::pow(2.0, -4.0 / c);
    for (int h = 0; h < n; ++h) {
      const double ref = h < c ? std::pow(m0, h + 1) : std::pow(m1, 2 * (h - c) + 1);
      EXPECT_TRUE(Near(alibi_slope(h, n), ref, 0, 1e-14)) << "n " << n << " h " << h;  // pow of a rounded base: few ulp
    }
  }
}

// AlibiBias returns the true bias -m·(i-j) (not flash-attn's row-shifted +m·j);
// the distance scale multiplies it.
TEST(Bias, AlibiBiasFunctor) {
  const auto slopes = alibi_slopes(12);
  for (double m : slopes)
    for (int i = 0; i < 40; i += 3)
      for (int j = 0; j <= i; j += 2) {
        const AlibiBias b{static_cast<float>(m), 1.0f};
        EXPECT_TRUE(Near(b(i, j), -m * (i - j), 0, kFp32Rtol)) << "m " << m << " i " << i << " j " << j;
        const AlibiBias half{static_cast<float>(m), 0.5f};
        EXPECT_TRUE(Near(half(i, j), -0.5 * m * (i - j), 0, kFp32Rtol));
        EXPECT_EQ(half(i, j), 0.5f * b(i, j));  // scaling by 1/2 is exact in fp32
      }
  const AlibiBias b{0.25f, 1.0f};
  EXPECT_EQ(b(5, 5), 0.0f);
  EXPECT_EQ(b(10, 3), -1.75f);       // exact: power-of-2 slope, small integers
  EXPECT_EQ(b(3, 10), b(10, 3));     // non-causal: -m·|i-j| (flash-attn form)
  EXPECT_EQ(b(7.5, 0.5), -1.75f);    // real (interpolated) positions
}

// T5 buckets against mesh-tensorflow's _relative_position_bucket, n = i - j.
TEST(Bias, T5BucketsMatchMeshTensorflow) {
  static_assert(std::size(kT5CausalN) == std::size(kT5Causal32_128));
  for (size_t t = 0; t < std::size(kT5CausalN); ++t)
    EXPECT_EQ(t5_bucket(kT5CausalN[t], false, 32, 128), kT5Causal32_128[t]) << "causal n " << kT5CausalN[t];
  static_assert(std::size(kT5BidirN) == std::size(kT5Bidir32_128));
  for (size_t t = 0; t < std::size(kT5BidirN); ++t)
    EXPECT_EQ(t5_bucket(kT5BidirN[t], true, 32, 128), kT5Bidir32_128[t]) << "bidirectional n " << kT5BidirN[t];
  static_assert(std::size(kT5WideN) == std::size(kT5Causal64_512));
  static_assert(2 * std::size(kT5WideN) == std::size(kT5Bidir64_512));
  const size_t nw = std::size(kT5WideN);
  for (size_t t = 0; t < nw; ++t) {
    EXPECT_EQ(t5_bucket(kT5WideN[t], false, 64, 512), kT5Causal64_512[t]) << "causal 64/512 n " << kT5WideN[t];
    EXPECT_EQ(t5_bucket(kT5WideN[t], true, 64, 512), kT5Bidir64_512[t]) << "bidirectional 64/512 n " << kT5WideN[t];
    EXPECT_EQ(t5_bucket(-kT5WideN[t], true, 64, 512), kT5Bidir64_512[nw + t]) << "bidirectional 64/512 n " << -kT5WideN[t];
  }
  // Saturation: every distance >= max_distance shares the last bucket.
  for (long n : {128L, 129L, 1000L, 1L << 40}) EXPECT_EQ(t5_bucket(n, false, 32, 128), 31) << n;
}

TEST(Bias, T5BiasFunctorLooksUpTheBucket) {
  std::vector<float> table(32);
  for (int b = 0; b < 32; ++b) table[b] = 0.5f * b - 3.0f;
  const T5Bias causal{table.data(), 32, 128, false};
  const T5Bias bidir{table.data(), 32, 128, true};
  for (int i = 0; i < 300; i += 7)
    for (int j = 0; j < 300; j += 11) {
      EXPECT_EQ(causal(i, j), table[t5_bucket(i - j, false, 32, 128)]) << i << " " << j;
      EXPECT_EQ(bidir(i, j), table[t5_bucket(i - j, true, 32, 128)]) << i << " " << j;
    }
  EXPECT_EQ(causal(200, 3), table[31]);
  EXPECT_EQ(bidir(3, 200), table[31]);
  EXPECT_EQ(bidir(200, 3), table[15]);
}

// KERPLE (arXiv 2205.09921): log -b·ln(1 + a·|r|^p), power -a·|r|^p.
TEST(Bias, KerpleFormulas) {
  for (double r : {0.0, 1.0, 2.0, 7.0, 100.0, 4096.0, -3.0})
    for (double a : {0.5, 1.0, 2.0})
      for (double b : {0.25, 1.0, 3.0})
        for (double p : {0.5, 1.0, 1.5, 2.0}) {
          const double rp = std::pow(std::fabs(r), p);
          // a·|r|^p is 0 or >= 0.5 here, so log(1 + x) and log1p(x) agree to a few ulp: rtol 1e-14.
          EXPECT_TRUE(Near(kerple_bias(KerpleKind::LOG, r, a, b, p), -b * std::log(1.0 + a * rp), 0, 1e-14))
              << "log r " << r << " a " << a << " b " << b << " p " << p;
          EXPECT_TRUE(Near(kerple_bias(KerpleKind::POWER, r, a, b, p), -a * rp, 0, 1e-15))
              << "power r " << r << " a " << a << " p " << p;
          const KerpleBias f{KerpleKind::LOG, static_cast<float>(a), static_cast<float>(b), static_cast<float>(p)};
          EXPECT_TRUE(Near(f(r + 10.0, 10.0), -b * std::log(1.0 + a * rp), 0, kFp32Rtol));
        }
  EXPECT_EQ(kerple_bias(KerpleKind::LOG, 0.0, 1.0, 1.0, 1.0), 0.0);
  EXPECT_EQ(kerple_bias(KerpleKind::LOG, 5.0, 1.0, 1.0, 1.0), kerple_bias(KerpleKind::LOG, -5.0, 1.0, 1.0, 1.0));
}

TEST(Bias, ParamShape) {
  PeSpec t5;
  t5.kind = PeKind::T5;
  t5.t5.num_buckets = 32;
  auto s = bias_param_shape(t5, 8);
  EXPECT_EQ(s.dims, (std::vector<int64_t>{8, 32}));
  EXPECT_EQ(s.numel(), 256);
  PeSpec kerple;
  kerple.kind = PeKind::KERPLE;
  s = bias_param_shape(kerple, 12);
  EXPECT_EQ(s.dims, (std::vector<int64_t>{12, 3}));  // (heads, 3): a, b, p of each head (bias.h)
  EXPECT_EQ(s.numel(), 36);
  for (PeKind k : {PeKind::ALIBI, PeKind::ROPE, PeKind::XPOS, PeKind::NONE, PeKind::SINUSOIDAL, PeKind::LEARNED}) {
    PeSpec spec;
    spec.kind = k;
    s = bias_param_shape(spec, 8);
    EXPECT_TRUE(s.dims.empty()) << to_string(k);
    EXPECT_EQ(s.numel(), 0) << to_string(k);
  }
}

TEST(Bias, BiasValue) {
  const int heads = 4;
  // ALiBi: -m_h·n, the distance scale multiplies.
  PeSpec alibi;
  alibi.kind = PeKind::ALIBI;
  const auto slopes = alibi_slopes(heads);
  for (int h = 0; h < heads; ++h)
    for (long n : {0L, 1L, 5L, 1000L}) {
      EXPECT_TRUE(Near(bias_value(alibi, slopes, nullptr, heads, h, n), -slopes[h] * n, 0, kFp32Rtol)) << h << " " << n;
      alibi.alibi_distance_scale = 0.25;
      EXPECT_TRUE(Near(bias_value(alibi, slopes, nullptr, heads, h, n), -0.25 * slopes[h] * n, 0, kFp32Rtol));
      alibi.alibi_distance_scale = 1.0;
    }
  // T5: row h of the (heads, num_buckets) table at the bucket of n.
  PeSpec t5;
  t5.kind = PeKind::T5;
  t5.t5.num_buckets = 16;
  t5.t5.max_distance = 64;
  std::vector<float> table(heads * 16);
  for (int i = 0; i < heads * 16; ++i) table[i] = static_cast<float>(i);  // value = h·16 + bucket
  for (int h = 0; h < heads; ++h)
    for (long n : {0L, 3L, 9L, 40L, 63L, 64L, 500L})
      EXPECT_EQ(bias_value(t5, {}, table.data(), heads, h, n), h * 16 + t5_bucket(n, false, 16, 64)) << h << " " << n;
  // KERPLE: (heads, 3) block of a, b, p per head; one value broadcasts to every head.
  PeSpec kerple;
  kerple.kind = PeKind::KERPLE;
  kerple.kerple.kind = KerpleKind::LOG;
  kerple.kerple.a = {0.5, 1.0, 2.0, 4.0};
  kerple.kerple.b = {1.5};
  kerple.kerple.p = {1.0, 1.0, 0.5, 2.0};
  const auto params = kerple_params_from_spec(kerple.kerple, heads);
  ASSERT_EQ(params.size(), 3u * heads);
  EXPECT_EQ(params[3 * 2 + 0], 2.0f);  // a of head 2
  EXPECT_EQ(params[3 * 3 + 1], 1.5f);  // b of head 3 (broadcast)
  EXPECT_EQ(params[3 * 2 + 2], 0.5f);  // p of head 2
  for (int h = 0; h < heads; ++h)
    for (long n : {0L, 1L, 10L, 300L}) {
      const double a = kerple.kerple.a[h], b = 1.5, p = kerple.kerple.p[h];
      EXPECT_TRUE(Near(bias_value(kerple, {}, params.data(), heads, h, n), -b * std::log1p(a * std::pow(n, p)), 0,
                       kFp32Rtol))
          << h << " " << n;
    }
  kerple.kerple.kind = KerpleKind::POWER;
  EXPECT_TRUE(Near(bias_value(kerple, {}, params.data(), heads, 2, 16), -2.0 * 4.0, 0, kFp32Rtol));
  // Non-bias encodings contribute nothing.
  PeSpec rope;
  rope.kind = PeKind::ROPE;
  EXPECT_EQ(bias_value(rope, {}, nullptr, heads, 0, 10), 0.0);
}

}  // namespace pelab
