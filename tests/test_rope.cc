// RoPE / xPos q-k transform (encodings/rope.{h,cc}, rope_math.h, xpos_math.h).
//
// Oracles: the relative form qᵀR((n-m)θ)k written out per pair in fp64, the
// permutation between the two head layouts, central finite differences for the
// backward, and torchscale's xPos scale recomputed by tests/golden/gen_golden.py.
// Tolerances are |a - ref| <= atol + rtol·|ref| (shared/reference/style.md §8.1).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "test_util.h"
#include "encodings/rope.h"
#include "encodings/theory.h"

namespace pelab {
namespace {

using testing::Near;
using testing::random_vec;



// Dense (rows, heads, head_dim) parameters, plain RoPE.
template <typename T>
RopeApplyParams<T> dense_params(T* x, int rows, int heads, int head_dim, const double* pos, const double* inv_freq,
                                RopeLayout layout, int rot_dim = 0) {
  RopeApplyParams<T> p;
  p.x = x;
  p.rows = rows;
  p.heads = heads;
  p.head_dim = head_dim;
  p.head_stride = head_dim;
  p.row_stride = static_cast<int64_t>(heads) * head_dim;
  p.positions = pos;
  p.inv_freq = inv_freq;
  p.rot_dim = rot_dim > 0 ? rot_dim : head_dim;
  p.layout = layout;
  return p;
}

std::vector<double> plain_table(double base, int dim) {
  RopeParams rp;
  rp.dim = dim;
  rp.base = base;
  return rope_inv_freq_table(rp, 0);
}

// Element indices of pair k, written out here rather than taken from rope_pair().
void pair_index(RopeLayout layout, int k, int dim, int* i0, int* i1) {
  if (layout == RopeLayout::INTERLEAVED) {
    *i0 = 2 * k;
    *i1 = 2 * k + 1;
  } else {
    *i0 = k;
    *i1 = k + dim / 2;
  }
}

// fp64 oracle of R(mθ)q · R(nθ)k = qᵀ R((n-m)θ) k, per pair:
// cos(φ)(q_u k_u + q_v k_v) + sin(φ)(q_v k_u - q_u k_v), φ = (n - m)θ_k.
double relative_score(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& theta,
                      RopeLayout layout, double delta_n_minus_m) {
  const int d = static_cast<int>(q.size());
  double s = 0.0;
  for (int j = 0; j < d / 2; ++j) {
    int a, b;
    pair_index(layout, j, d, &a, &b);
    const double phi = delta_n_minus_m * theta[j];
    s += std::cos(phi) * (q[a] * k[a] + q[b] * k[b]) + std::sin(phi) * (q[b] * k[a] - q[a] * k[b]);
  }
  return s;
}

const RopeLayout kLayouts[] = {RopeLayout::INTERLEAVED, RopeLayout::HALF_SPLIT};

}  // namespace

// ⟨R_m q, R_n k⟩ depends on the positions only through m - n (RoFormer §3.4.2), fp32.
TEST(Rope, ScoreDependsOnlyOnRelativePositionFp32) {
  const int d = 64;
  // q, k unit vectors: |score| <= 1 and Σ_pairs |q_pair||k_pair| <= 1.
  auto qd = random_vec<double>(d, 1), kd = random_vec<double>(d, 2);
  double nq = 0, nk = 0;
  for (int i = 0; i < d; ++i) nq += qd[i] * qd[i], nk += kd[i] * kd[i];
  for (int i = 0; i < d; ++i) qd[i] = static_cast<float>(qd[i] / std::sqrt(nq)), kd[i] = static_cast<float>(kd[i] / std::sqrt(nk));
  // Tolerance: each rotated fp32 element is off by <= ~3u·(|u|+|v|) (cos and sin
  // rounded to fp32, two products, one sum; u = 2^-24 ≈ 6e-8), so the score is
  // off by <= 2√2·3u·Σ_pairs |q_pair||k_pair| <= 8.5u ≈ 5e-7 for unit q, k.
  // style.md §8.1's fp32 atol 1e-6, rtol 1e-5 covers that bound twice over.
  const double atol = 1e-6, rtol = 1e-5;
  const double bases[] = {100.0, 10000.0, 500000.0};
  const double starts[] = {0, 1, 17, 4096, 100000};
  const double deltas[] = {0, 1, 5, 37, 1000, -3, -250};
  for (RopeLayout layout : kLayouts)
    for (double base : bases) {
      const auto theta = plain_table(base, d);
      for (double n : starts)
        for (double delta : deltas) {
          const double m = n + delta;  // query position; m - n = delta
          if (m < 0) continue;
          std::vector<float> q(qd.begin(), qd.end()), k(kd.begin(), kd.end());
          rope_forward(dense_params(q.data(), 1, 1, d, &m, theta.data(), layout));
          rope_forward(dense_params(k.data(), 1, 1, d, &n, theta.data(), layout));
          double s = 0.0;
          for (int i = 0; i < d; ++i) s += static_cast<double>(q[i]) * k[i];
          EXPECT_TRUE(Near(s, relative_score(qd, kd, theta, layout, -delta), atol, rtol))
              << "layout " << to_string(layout) << " base " << base << " m " << m << " n " << n;
        }
    }
}

// rope(-θ)∘rope(θ) = id (style.md §8.5), fp64, plain RoPE.
TEST(Rope, BackwardOfForwardIsIdentityFp64) {
  const int rows = 5, heads = 3, d = 32;
  const std::vector<double> pos = {0.0, 1.0, 7.5, 2048.0, 123456.0};
  for (RopeLayout layout : kLayouts)
    for (double base : {10000.0, 500000.0}) {
      const auto theta = plain_table(base, d);
      const auto x0 = random_vec<double>(rows * heads * d, 3);
      auto x = x0;
      auto p = dense_params(x.data(), rows, heads, d, pos.data(), theta.data(), layout);
      rope_forward(p);
      rope_backward(p);
      // Two rotations of entries |x| <= 1: a few ulp each (cos² + sin² = 1 up to
      // rounding), ~1e-15; 1e-14 leaves margin.
      for (size_t i = 0; i < x.size(); ++i) EXPECT_TRUE(Near(x[i], x0[i], 1e-14, 0)) << "i " << i;
    }
}

// Interleaved pair k = (2k, 2k+1), half-split pair k = (k, k + d/2): permuting head
// dims maps one layout onto the other, and the results must match exactly (the
// same floating-point operations on the same values).
TEST(Rope, LayoutsAgreeAfterPermutation) {
  const int rows = 3, heads = 2, d = 16;
  const std::vector<double> pos = {0.0, 3.0, 1000.0};
  const auto theta = plain_table(10000.0, d);
  const auto inter0 = random_vec<float>(rows * heads * d, 4);
  auto to_half = [&](const std::vector<float>& in) {
    std::vector<float> out(in.size());
    for (int rh = 0; rh < rows * heads; ++rh)
      for (int k = 0; k < d / 2; ++k) {
        out[rh * d + k] = in[rh * d + 2 * k];
        out[rh * d + k + d / 2] = in[rh * d + 2 * k + 1];
      }
    return out;
  };
  auto inter = inter0;
  auto half = to_half(inter0);
  rope_forward(dense_params(inter.data(), rows, heads, d, pos.data(), theta.data(), RopeLayout::INTERLEAVED));
  rope_forward(dense_params(half.data(), rows, heads, d, pos.data(), theta.data(), RopeLayout::HALF_SPLIT));
  const auto inter_permuted = to_half(inter);
  for (size_t i = 0; i < half.size(); ++i) EXPECT_EQ(inter_permuted[i], half[i]) << "i " << i;
}

// d = 128, base 1e4: all-ones q = k gives Σ_k 2cos(0)/√d = d/√d at distance 0.
TEST(Rope, AllOnesScoreAtZeroIsDOverSqrtD) {
  const auto theta = plain_table(10000.0, 128);
  // 64 exact additions of 2.0, one division by a correctly rounded √128: ~1 ulp.
  EXPECT_TRUE(Near(rope_allones_score(theta, 128, 1.0, 0.0), 128.0 / std::sqrt(128.0), 0, 1e-15));
  // The attention scale multiplies cos and sin, so the score by its square.
  EXPECT_TRUE(Near(rope_allones_score(theta, 128, 1.2, 0.0), 1.44 * 128.0 / std::sqrt(128.0), 0, 1e-15));
}

// Position 0 is the identity (style.md §8.5): cos 0 = 1 and sin 0 = 0 exactly.
TEST(Rope, PositionZeroIsIdentity) {
  const int rows = 2, heads = 2, d = 16;
  const std::vector<double> pos = {0.0, 0.0};
  const auto theta = plain_table(10000.0, d);
  for (RopeLayout layout : kLayouts) {
    const auto x0 = random_vec<float>(rows * heads * d, 5);
    auto x = x0;
    rope_forward(dense_params(x.data(), rows, heads, d, pos.data(), theta.data(), layout));
    EXPECT_EQ(x, x0) << to_string(layout);
    const auto y0 = random_vec<double>(rows * heads * d, 6);
    auto y = y0;
    rope_forward(dense_params(y.data(), rows, heads, d, pos.data(), theta.data(), layout));
    EXPECT_EQ(y, y0) << to_string(layout);
  }
  // xPos with centre 0 at position 0: ζ^0 = 1, so also the identity.
  const auto zeta = xpos_zeta_table(d, 0.4);
  const auto x0 = random_vec<double>(rows * heads * d, 7);
  auto x = x0;
  auto p = dense_params(x.data(), rows, heads, d, pos.data(), theta.data(), RopeLayout::HALF_SPLIT);
  p.xpos_zeta = zeta.data();
  p.xpos_centre = 0.0;
  rope_forward(p);
  EXPECT_EQ(x, x0);
}

// Partial rotary (HF partial_rotary_factor): dims [rot_dim, head_dim) pass through
// untouched, dims [0, rot_dim) rotate like a head of rot_dim dims.
TEST(Rope, PartialRotaryLeavesTailUntouched) {
  const int rows = 3, heads = 2, d = 48, rot = 32;
  const std::vector<double> pos = {0.0, 5.0, 777.0};
  const auto theta = plain_table(10000.0, rot);  // θ_k = b^(-2k/rot_dim)
  for (RopeLayout layout : kLayouts) {
    const auto x0 = random_vec<double>(rows * heads * d, 8);
    auto x = x0;
    rope_forward(dense_params(x.data(), rows, heads, d, pos.data(), theta.data(), layout, rot));
    // The same heads cut down to their rotated part, rotated as full heads.
    std::vector<double> head(rows * heads * rot);
    for (int rh = 0; rh < rows * heads; ++rh)
      for (int i = 0; i < rot; ++i) head[rh * rot + i] = x0[rh * d + i];
    rope_forward(dense_params(head.data(), rows, heads, rot, pos.data(), theta.data(), layout));
    for (int rh = 0; rh < rows * heads; ++rh) {
      for (int i = 0; i < rot; ++i) EXPECT_EQ(x[rh * d + i], head[rh * rot + i]) << "rh " << rh << " i " << i;
      for (int i = rot; i < d; ++i) EXPECT_EQ(x[rh * d + i], x0[rh * d + i]) << "tail rh " << rh << " i " << i;
    }
  }
}

// row_stride and head_stride larger than dense: the padding is never touched and
// the content matches the dense result exactly.
TEST(Rope, StridedInputsAreHonoured) {
  const int rows = 4, heads = 3, d = 16;
  const int64_t head_stride = 20, row_stride = 75;  // > heads·head_stride = 60
  const std::vector<double> pos = {0.0, 2.0, 31.0, 4000.0};
  const auto theta = plain_table(10000.0, d);
  const double kPad = 7.25;
  for (RopeLayout layout : kLayouts) {
    const auto dense0 = random_vec<double>(rows * heads * d, 9);
    std::vector<double> strided(rows * row_stride, kPad);
    for (int r = 0; r < rows; ++r)
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < d; ++i) strided[r * row_stride + h * head_stride + i] = dense0[(r * heads + h) * d + i];
    auto dense = dense0;
    rope_forward(dense_params(dense.data(), rows, heads, d, pos.data(), theta.data(), layout));
    auto p = dense_params(strided.data(), rows, heads, d, pos.data(), theta.data(), layout);
    p.head_stride = head_stride;
    p.row_stride = row_stride;
    rope_forward(p);
    std::vector<bool> content(strided.size(), false);
    for (int r = 0; r < rows; ++r)
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < d; ++i) {
          const int64_t at = r * row_stride + h * head_stride + i;
          content[at] = true;
          EXPECT_EQ(strided[at], dense[(r * heads + h) * d + i]) << "r " << r << " h " << h << " i " << i;
        }
    for (size_t i = 0; i < strided.size(); ++i) {
      if (content[i]) continue;
      EXPECT_EQ(strided[i], kPad) << "padding at " << i;
    }
  }
}

// rope_backward against central finite differences of L(x) = Σ w·rope_forward(x), fp64.
// For xPos the forward is S·R(θ) with S = ζ^(±(p-c)/B) ≠ 1, so the gradient is
// (S·R)ᵀ = S·R(-θ), not the inverse S⁻¹·R(-θ): the finite differences decide.
TEST(Rope, BackwardMatchesFiniteDifferences) {
  struct Case {
    const char* name;
    RopeLayout layout;
    double mscale;
    bool xpos;
    int xpos_sign;
    int rot_dim;
  };
  const Case cases[] = {
      {"plain half-split", RopeLayout::HALF_SPLIT, 1.0, false, 1, 0},
      {"plain interleaved partial", RopeLayout::INTERLEAVED, 1.0, false, 1, 8},
      {"yarn mscale 1.3", RopeLayout::INTERLEAVED, 1.3, false, 1, 0},
      {"xpos q (+1)", RopeLayout::HALF_SPLIT, 1.0, true, +1, 0},
      {"xpos k (-1)", RopeLayout::INTERLEAVED, 1.0, true, -1, 0},
      {"xpos k (-1) + mscale", RopeLayout::HALF_SPLIT, 1.2, true, -1, 0},
  };
  const int rows = 4, heads = 2, d = 12;
  const std::vector<double> pos = {0.0, 3.0, 7.0, 12.0};
  for (const Case& c : cases) {
    const int rot = c.rot_dim > 0 ? c.rot_dim : d;
    const auto theta = plain_table(10000.0, rot);
    const auto zeta = xpos_zeta_table(rot, 0.4);
    auto make = [&](double* buf) {
      auto p = dense_params(buf, rows, heads, d, pos.data(), theta.data(), c.layout, rot);
      p.mscale = c.mscale;
      if (c.xpos) {
        p.xpos_zeta = zeta.data();
        p.xpos_centre = 5.0;
        p.xpos_scale_base = 4.0;  // small B, so S is far from 1 (up to ~9) and S ≠ S⁻¹ shows
        p.xpos_sign = c.xpos_sign;
      }
      return p;
    };
    const auto x0 = random_vec<double>(rows * heads * d, 10);
    const auto w = random_vec<double>(rows * heads * d, 11);
    auto loss = [&](std::vector<double> x) {
      rope_forward(make(x.data()));
      double L = 0.0;
      for (size_t i = 0; i < x.size(); ++i) L += w[i] * x[i];
      return L;
    };
    auto grad = w;  // dL/dy = w
    rope_backward(make(grad.data()));
    // L is linear in x, so the central difference has no truncation error; what is
    // left is rounding, ~(#terms = 96)·u·max|w·y| (<= ~10) / h ≈ 1e-11 at h = 1e-2.
    const double h = 1e-2;
    for (size_t i = 0; i < x0.size(); ++i) {
      auto xp = x0, xm = x0;
      xp[i] += h;
      xm[i] -= h;
      const double fd = (loss(xp) - loss(xm)) / (2 * h);
      EXPECT_TRUE(Near(grad[i], fd, 1e-9, 1e-9)) << c.name << " i " << i;
    }
    if (c.xpos) {
      // With S ≠ 1 the backward is not the inverse of the forward.
      auto x = x0;
      rope_forward(make(x.data()));
      rope_backward(make(x.data()));
      double max_dev = 0.0;
      for (size_t i = 0; i < x.size(); ++i) max_dev = std::max(max_dev, std::fabs(x[i] - x0[i]));
      EXPECT_GT(max_dev, 0.1) << c.name;
    }
  }
}

// ζ_k against torchscale: scale = (arange(0, d, 2) + 0.4·d) / (1.4·d).
TEST(Rope, XposZetaMatchesTorchscale) {
  // gen_golden.py xpos_scale(head_dim=64)
  const double kXposScale_d64[] = {
      0.28571428571428575, 0.3080357142857143, 0.3303571428571429, 0.35267857142857145,
      0.37500000000000006, 0.3973214285714286, 0.4196428571428572, 0.44196428571428575,
      0.46428571428571436, 0.4866071428571429, 0.5089285714285715, 0.53125,
      0.5535714285714286, 0.5758928571428572, 0.5982142857142858, 0.6205357142857143,
      0.6428571428571429, 0.6651785714285715, 0.6875000000000001, 0.7098214285714286,
      0.7321428571428571, 0.7544642857142857, 0.7767857142857143, 0.7991071428571428,
      0.8214285714285714, 0.84375, 0.8660714285714286, 0.8883928571428571,
      0.9107142857142857, 0.9330357142857143, 0.9553571428571429, 0.9776785714285714,
  };
  const auto zeta = xpos_zeta_table(64, 0.4);
  ASSERT_EQ(zeta.size(), 32u);
  // Same fp64 formula, differently associated: a few ulp, 1e-14 relative.
  for (int k = 0; k < 32; ++k) EXPECT_TRUE(Near(zeta[k], kXposScale_d64[k], 0, 1e-14)) << "k " << k;
}

// The per-position xPos factor applied by rope_forward equals torchscale's
// scale ** ((pos - len//2) / scale_base): with (u, v) = (1, 0) in every pair the
// output is S·(cos pθ, sin pθ), so S = |output pair|.
TEST(Rope, XposForwardScaleMatchesTorchscale) {
  // gen_golden.py xpos_scale_at(head_dim=16, length=9, scale_base=4), (9, 8) row-major
  const double kXposScaleAt_d16_len9_B4[] = {
      3.4999999999999996, 2.666666666666666, 2.1538461538461533, 1.8064516129032258,
      1.5555555555555554, 1.3658536585365855, 1.2173913043478262, 1.0980392156862746,
      2.558886559981586, 2.086779440097716, 1.7779150624234683, 1.5581876213544732,
      1.3928814181379172, 1.2634356518072987, 1.1589712065405764, 1.0726632165536227,
      1.8708286933869704, 1.6329931618554518, 1.4675987714106855, 1.344043010064494,
      1.247219128924647, 1.168697419581555, 1.103354568734741, 1.0478736639911677,
      1.3677823998673804, 1.2778862084925449, 1.211444910596716, 1.1593286893993842,
      1.116789652944836, 1.0810630969474238, 1.0504068586670314, 1.0236570050515785,
      1.0, 1.0, 1.0, 1.0,
      1.0, 1.0, 1.0, 1.0,
      0.7311104457090247, 0.7825422900366437, 0.8254605646966104, 0.862568147535512,
      0.8954237688029468, 0.9250153879303437, 0.9520120625154734, 0.9768897150756208,
      0.5345224838248488, 0.6123724356957946, 0.6813851438692469, 0.7440238091428449,
      0.8017837257372732, 0.8556534679079242, 0.9063269671749657, 0.9543135154205277,
      0.39079497139068015, 0.4792073281847044, 0.5624565656341898, 0.6417712387746591,
      0.7179362054645375, 0.7914926245507924, 0.8628342053336329, 0.9322590581719733,
      0.28571428571428575, 0.37500000000000006, 0.46428571428571436, 0.5535714285714286,
      0.6428571428571429, 0.7321428571428571, 0.8214285714285714, 0.9107142857142857,
  };
  const int len = 9, d = 16;
  std::vector<double> pos(len);
  for (int i = 0; i < len; ++i) pos[i] = i;
  const auto theta = plain_table(10000.0, d);
  const auto zeta = xpos_zeta_table(d, 0.4);
  std::vector<double> x(len * d, 0.0);
  for (int r = 0; r < len; ++r)
    for (int k = 0; k < d / 2; ++k) x[r * d + k] = 1.0;  // half-split pair k = (k, k + d/2) = (1, 0)
  auto p = dense_params(x.data(), len, 1, d, pos.data(), theta.data(), RopeLayout::HALF_SPLIT);
  p.xpos_zeta = zeta.data();
  p.xpos_centre = len / 2;  // torchscale: len // 2
  p.xpos_scale_base = 4.0;
  p.xpos_sign = +1;
  rope_forward(p);
  // pow and hypot in fp64 against numpy's **: a few ulp, 1e-14 relative.
  for (int r = 0; r < len; ++r)
    for (int k = 0; k < d / 2; ++k)
      EXPECT_TRUE(Near(std::hypot(x[r * d + k], x[r * d + k + d / 2]), kXposScaleAt_d16_len9_B4[r * 8 + k], 0, 1e-14))
          << "pos " << r << " k " << k;
}

// xPos: q multiplied by ζ^((i-c)/B), k divided by ζ^((j-c)/B): the centre cancels
// and q_i·k_j = Σ_pairs ζ_k^((i-j)/B)·(RoPE pair score at i - j), fp64.
TEST(Rope, XposScoreDependsOnlyOnRelativePosition) {
  const int d = 16;
  const double B = 8.0;
  const auto theta = plain_table(10000.0, d);
  const auto zeta = xpos_zeta_table(d, 0.4);
  const auto qd = random_vec<double>(d, 12), kd = random_vec<double>(d, 13);
  for (RopeLayout layout : kLayouts)
    for (double centre : {0.0, 10.0, 37.0})
      for (double j : {0.0, 4.0, 20.0})
        for (double delta : {0.0, 1.0, 6.0, -5.0}) {
          const double i = j + delta;
          if (i < 0) continue;
          auto q = qd, k = kd;
          auto pq = dense_params(q.data(), 1, 1, d, &i, theta.data(), layout);
          pq.xpos_zeta = zeta.data(), pq.xpos_centre = centre, pq.xpos_scale_base = B, pq.xpos_sign = +1;
          auto pk = dense_params(k.data(), 1, 1, d, &j, theta.data(), layout);
          pk.xpos_zeta = zeta.data(), pk.xpos_centre = centre, pk.xpos_scale_base = B, pk.xpos_sign = -1;
          rope_forward(pq);
          rope_forward(pk);
          double s = 0.0;
          for (int e = 0; e < d; ++e) s += q[e] * k[e];
          double ref = 0.0;
          for (int kk = 0; kk < d / 2; ++kk) {
            int a, b;
            pair_index(layout, kk, d, &a, &b);
            const double phi = (j - i) * theta[kk];
            ref += std::pow(zeta[kk], (i - j) / B) *
                   (std::cos(phi) * (qd[a] * kd[a] + qd[b] * kd[b]) + std::sin(phi) * (qd[b] * kd[a] - qd[a] * kd[b]));
          }
          // fp64, 16 terms of size <= ~10 (ζ^(±6/8)), each off by a few ulp: 1e-13.
          EXPECT_TRUE(Near(s, ref, 1e-13, 1e-13)) << to_string(layout) << " c " << centre << " i " << i << " j " << j;
        }
}

}  // namespace pelab
