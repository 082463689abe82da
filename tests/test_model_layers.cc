// Each layer of model/layers.h in fp64 against finite differences of
// L = Σ w ∘ out (w random, so dout = w), on tiny odd shapes; and the gradient
// contract: parameter gradients and the residual stream accumulate (+=),
// other activation gradients are overwritten (=).
//
// Tolerances |a - ref| <= atol + rtol·|ref|, ref = the 4-point finite
// difference with h = 2^-10 (model_test_util.h): truncation h⁴/30·|f⁽⁵⁾| ≈
// 3e-14·|f⁽⁵⁾|, rounding ≈ 1.5·2^-53·|L|/h ≈ 2e-13·|L|. With O(1) inputs and
// |L| ≲ 10, errors stay below ~1e-10 (PELAB_MODEL_REPORT=1 prints them):
// atol 1e-9, rtol 1e-8 for everything computed in fp64. Learned score-bias
// tables are fp32 inside attention (attention.h), so their gradients are
// summed in fp32: atol 1e-5, rtol 1e-4 (KERPLE with a larger step, as
// tests/test_attention_grad.cc explains).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "encodings/bias.h"
#include "encodings/rope.h"
#include "model/layers.h"
#include "model_test_util.h"

namespace pelab {
namespace {

using namespace model_test;
using Vec = std::vector<double>;

constexpr double kH = 0x1p-10;
constexpr double kAtol = 1e-9, kRtol = 1e-8;
constexpr double kBiasAtol = 1e-5, kBiasRtol = 1e-4;
constexpr double kKerpleH = 0x1p-6;

double dot(const Vec& a, const double* b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

Vec random_vec(size_t n, double lo, double hi, std::mt19937_64& rng) {
  Vec v(n);
  fill_uniform(v.data(), static_cast<int64_t>(n), lo, hi, rng);
  return v;
}

// Finite-difference gradient of f with respect to every element of x.
template <typename T>
Vec fd_grad(std::vector<T>& x, const std::function<double()>& f, double h = kH) {
  Vec g(x.size());
  for (size_t i = 0; i < x.size(); ++i) g[i] = fd4(x[i], h, f);
  return g;
}

Vec minus(const Vec& a, const Vec& b) {
  Vec d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

// ------------------------------------------------------------------ encoder

TEST(ModelLayers, EncoderGradientsForEachAbsoluteEncoding) {
  OneThread one;
  const int B = 2, T = 3, N = B * T, C = 4, V = 5, max_len = 4;
  const std::vector<int32_t> tokens{1, 3, 1, 4, 1, 0};  // repeats: scattered gradients add
  Vec positions(N);
  for (int n = 0; n < N; ++n) positions[n] = n % T;
  for (PeKind pe : {PeKind::NONE, PeKind::SINUSOIDAL, PeKind::LEARNED}) {
    SCOPED_TRACE(to_string(pe));
    std::mt19937_64 rng(11);
    Vec wte = random_vec(V * C, -1, 1, rng), wpe = random_vec(max_len * C, -1, 1, rng);
    const Vec w = random_vec(N * C, -1, 1, rng);
    EncoderParams<double> p;
    p.tokens = tokens.data();
    p.positions = positions.data();
    p.wte = wte.data();
    p.wpe = wpe.data();
    p.pe = pe;
    p.embed_scale = 1.5;
    p.N = N, p.C = C, p.V = V, p.max_len = max_len;
    Vec out(N * C);
    const auto loss = [&] {
      encoder_forward(out.data(), p);
      return dot(w, out.data());
    };
    const Vec dwte0 = random_vec(V * C, -1, 1, rng), dwpe0 = random_vec(max_len * C, -1, 1, rng);
    Vec dwte = dwte0, dwpe = dwpe0;
    loss();
    encoder_backward(dwte.data(), dwpe.data(), w.data(), p);
    EXPECT_TRUE(close_all("dwte", minus(dwte, dwte0), fd_grad(wte, loss), kAtol, kRtol));
    if (pe == PeKind::LEARNED)
      EXPECT_TRUE(close_all("dwpe", minus(dwpe, dwpe0), fd_grad(wpe, loss), kAtol, kRtol));
    else
      EXPECT_EQ(dwpe, dwpe0) << "only the learned table has a gradient";
  }
}

TEST(ModelLayers, EncoderRejectsBadTokensAndPositions) {
  const int C = 2, V = 3;
  Vec wte(V * C, 0.5), wpe(2 * C, 0.1), out(3 * C);
  std::vector<int32_t> tokens{0, 3, 1};
  Vec positions{0, 1, 2};
  EncoderParams<double> p;
  p.tokens = tokens.data(), p.positions = positions.data(), p.wte = wte.data(), p.wpe = wpe.data();
  p.N = 3, p.C = C, p.V = V, p.max_len = 2;
  EXPECT_THROW(encoder_forward(out.data(), p), Error);
  tokens[1] = 2;
  p.pe = PeKind::LEARNED;  // position 2 is past max_len 2
  EXPECT_THROW(encoder_forward(out.data(), p), Error);
}

// ------------------------------------------------------------------ norms

TEST(ModelLayers, LayerNormGradients) {
  OneThread one;
  const int N = 3, C = 7;
  std::mt19937_64 rng(21);
  Vec x = random_vec(N * C, -1.5, 2.5, rng), w = random_vec(C, 0.5, 1.5, rng), b = random_vec(C, -0.5, 0.5, rng);
  const Vec g = random_vec(N * C, -1, 1, rng);
  Vec out(N * C), mean(N), rstd(N);
  const auto loss = [&] {
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
    return dot(g, out.data());
  };
  loss();
  const Vec dx0 = random_vec(N * C, -1, 1, rng), dw0 = random_vec(C, -1, 1, rng), db0 = random_vec(C, -1, 1, rng);
  Vec dx = dx0, dw = dw0, db = db0;
  layernorm_backward(dx.data(), dw.data(), db.data(), g.data(), x.data(), w.data(), mean.data(), rstd.data(), N, C);
  EXPECT_TRUE(close_all("dinp (+=)", minus(dx, dx0), fd_grad(x, loss), kAtol, kRtol));
  EXPECT_TRUE(close_all("dw", minus(dw, dw0), fd_grad(w, loss), kAtol, kRtol));
  EXPECT_TRUE(close_all("db", minus(db, db0), fd_grad(b, loss), kAtol, kRtol));
}

TEST(ModelLayers, RmsNormGradients) {
  OneThread one;
  const int N = 3, C = 7;
  std::mt19937_64 rng(22);
  Vec x = random_vec(N * C, -1.5, 2.5, rng), w = random_vec(C, 0.5, 1.5, rng);
  const Vec g = random_vec(N * C, -1, 1, rng);
  Vec out(N * C), rstd(N);
  const auto loss = [&] {
    rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C);
    return dot(g, out.data());
  };
  loss();
  const Vec dx0 = random_vec(N * C, -1, 1, rng), dw0 = random_vec(C, -1, 1, rng);
  Vec dx = dx0, dw = dw0;
  rmsnorm_backward(dx.data(), dw.data(), g.data(), x.data(), w.data(), rstd.data(), N, C);
  EXPECT_TRUE(close_all("dinp (+=)", minus(dx, dx0), fd_grad(x, loss), kAtol, kRtol));
  EXPECT_TRUE(close_all("dw", minus(dw, dw0), fd_grad(w, loss), kAtol, kRtol));
}

TEST(ModelLayers, NormNoneIsIdentityAndAccumulates) {
  const int N = 2, C = 3;
  const Vec x{1, 2, 3, 4, 5, 6}, g{1, 1, 1, 2, 2, 2};
  Vec out(N * C), dx{10, 10, 10, 10, 10, 10};
  norm_forward<double>(NormKind::NONE, out.data(), nullptr, nullptr, x.data(), nullptr, nullptr, N, C);
  EXPECT_EQ(out, x);
  norm_backward<double>(NormKind::NONE, dx.data(), nullptr, nullptr, g.data(), x.data(), nullptr, nullptr, nullptr, N, C);
  EXPECT_EQ(dx, (Vec{11, 11, 11, 12, 12, 12}));
}

// ------------------------------------------------------------------ matmul, head

TEST(ModelLayers, MatmulGradients) {
  OneThread one;
  const int N = 5, C = 3, OC = 4;
  std::mt19937_64 rng(31);
  Vec x = random_vec(N * C, -1, 1, rng), w = random_vec(C * OC, -1, 1, rng);
  const Vec g = random_vec(N * OC, -1, 1, rng);
  Vec out(N * OC);
  const auto loss = [&] {
    matmul_forward(out.data(), x.data(), w.data(), N, C, OC);
    return dot(g, out.data());
  };
  const Vec dw0 = random_vec(C * OC, -1, 1, rng), dx0 = random_vec(N * C, -1, 1, rng);
  for (bool accumulate : {false, true}) {
    SCOPED_TRACE(accumulate ? "accumulate" : "overwrite");
    Vec dx = dx0, dw = dw0;
    loss();
    matmul_backward(dx.data(), dw.data(), g.data(), x.data(), w.data(), N, C, OC, accumulate);
    EXPECT_TRUE(close_all("dinp", accumulate ? minus(dx, dx0) : dx, fd_grad(x, loss), kAtol, kRtol));
    EXPECT_TRUE(close_all("dw (+=)", minus(dw, dw0), fd_grad(w, loss), kAtol, kRtol));
  }
}

TEST(ModelLayers, TiedHeadGradients) {
  OneThread one;
  const int N = 4, C = 3, V = 6;
  std::mt19937_64 rng(32);
  Vec x = random_vec(N * C, -1, 1, rng), wte = random_vec(V * C, -1, 1, rng);
  const Vec g = random_vec(N * V, -1, 1, rng);
  Vec out(N * V);
  const auto loss = [&] {
    lm_head_forward(out.data(), x.data(), wte.data(), N, C, V);
    return dot(g, out.data());
  };
  loss();
  const Vec dwte0 = random_vec(V * C, -1, 1, rng);
  Vec dx(N * C, std::nan("")), dwte = dwte0;  // dinp is overwritten
  lm_head_backward(dx.data(), dwte.data(), g.data(), x.data(), wte.data(), N, C, V);
  EXPECT_TRUE(close_all("dinp", dx, fd_grad(x, loss), kAtol, kRtol));
  EXPECT_TRUE(close_all("dwte (+=)", minus(dwte, dwte0), fd_grad(wte, loss), kAtol, kRtol));
}

// ------------------------------------------------------------------ pointwise, loss

TEST(ModelLayers, GeluGradientsAndValues) {
  OneThread one;
  const int n = 9000;  // spans two of the elementwise chunks
  std::mt19937_64 rng(41);
  Vec x = random_vec(n, -4, 4, rng);
  const Vec g = random_vec(n, -1, 1, rng);
  Vec out(n);
  gelu_forward(out.data(), x.data(), n);
  for (int i = 0; i < n; i += 97) {
    const double v = x[i];
    EXPECT_NEAR(out[i], 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v))), 1e-15);
  }
  Vec dx(n);
  gelu_backward(dx.data(), x.data(), g.data(), n);
  // The derivative of one element's output only depends on that element.
  Vec fd(n);
  for (int i = 0; i < n; ++i) {
    double y;
    fd[i] = g[i] * fd4(x[i], kH, [&] {
              gelu_forward(&y, &x[i], 1);
              return y;
            });
  }
  EXPECT_TRUE(close_all("dinp", dx, fd, kAtol, kRtol));
  // In place (dinp aliases dout), as the model calls it.
  Vec inplace = g;
  gelu_backward(inplace.data(), x.data(), inplace.data(), n);
  EXPECT_EQ(inplace, dx);
}

TEST(ModelLayers, GeluFloatMatchesDouble) {
  const int n = 5000;
  std::mt19937_64 rng(42);
  Vec x = random_vec(n, -6, 6, rng);
  std::vector<float> xf(x.begin(), x.end()), yf(n);
  Vec y(n);
  gelu_forward(y.data(), x.data(), n);
  gelu_forward(yf.data(), xf.data(), n);
  Vec yfd(yf.begin(), yf.end());
  // fp32 with Eigen's vectorized tanh: a few ulp of |x|.
  EXPECT_TRUE(close_all("gelu fp32", yfd, y, 1e-6, 1e-6));
}

TEST(ModelLayers, SoftmaxCrossEntropyGradientsWithIgnoredTargets) {
  OneThread one;
  const int N = 4, V = 6;
  std::mt19937_64 rng(51);
  Vec logits = random_vec(N * V, -3, 3, rng);
  const std::vector<int32_t> targets{2, -1, 5, 0};
  const double scale = 0.37;
  Vec probs(N * V), losses(N);
  int64_t count = 0;
  const auto loss = [&] {
    probs = logits;
    count = softmax_crossentropy_forward(probs.data(), losses.data(), targets.data(), N, V);
    double s = 0;
    for (double l : losses) s += scale * l;
    return s;
  };
  loss();
  EXPECT_EQ(count, 3);
  EXPECT_EQ(losses[1], 0.0);
  EXPECT_NEAR(losses[0], -std::log(probs[0 * V + 2]), 1e-14);
  for (int n = 0; n < N; ++n) {
    double s = 0;
    for (int v = 0; v < V; ++v) s += probs[n * V + v];
    EXPECT_NEAR(s, 1.0, 1e-15);
  }
  Vec dlogits(N * V, std::nan(""));
  softmax_crossentropy_backward(dlogits.data(), probs.data(), targets.data(), scale, N, V);
  EXPECT_TRUE(close_all("dlogits", dlogits, fd_grad(logits, loss), kAtol, kRtol));
  // Without targets: probabilities only, nothing counted.
  probs = logits;
  EXPECT_EQ(softmax_crossentropy_forward<double>(probs.data(), losses.data(), nullptr, N, V), 0);
  const std::vector<int32_t> bad{0, 6, 0, 0};
  probs = logits;
  EXPECT_THROW(softmax_crossentropy_forward(probs.data(), losses.data(), bad.data(), N, V), Error);
}

// ------------------------------------------------------------------ attention block

struct BlockCase {
  std::string name;
  PeKind pe;
  bool qk_proj;
  RopeLayout layout = RopeLayout::HALF_SPLIT;
  int H = 2;
};

class AttentionBlockGrad : public ::testing::TestWithParam<BlockCase> {};

TEST_P(AttentionBlockGrad, MatchesFiniteDifferences) {
  OneThread one;
  const BlockCase& tc = GetParam();
  const int B = 2, T = 5, C = 8, H = tc.H, hs = C / H, N = B * T;
  std::mt19937_64 rng(61);
  Vec x = random_vec(N * C, -1, 1, rng);
  Vec wq = random_vec(C * C, -0.5, 0.5, rng), wk = random_vec(C * C, -0.5, 0.5, rng);
  Vec wv = random_vec(C * C, -0.5, 0.5, rng), wo = random_vec(C * C, -0.5, 0.5, rng);
  const Vec g = random_vec(N * C, -1, 1, rng);

  PeSpec spec;
  spec.kind = tc.pe;
  spec.t5.num_buckets = 6;  // distances 0..4 span exact and log buckets
  spec.t5.max_distance = 8;
  spec.rope.dim = hs;
  spec.rope.layout = tc.layout;
  spec.xpos.scale_base = 4.0;  // a visible xPos scale over 5 positions
  Vec positions(N);
  for (int n = 0; n < N; ++n) positions[n] = n % T;
  RopeParams rp = spec.rope;
  const Vec inv_freq = rope_inv_freq_table(rp, T);
  const Vec zeta = xpos_zeta_table(hs, spec.xpos.gamma);
  std::vector<float> slopes;
  for (double m : alibi_slopes(H)) slopes.push_back(static_cast<float>(m));
  std::vector<float> table(bias_param_shape(spec, H).numel());
  if (tc.pe == PeKind::T5) fill_uniform(table.data(), table.size(), -1, 1, rng);
  if (tc.pe == PeKind::KERPLE) fill_uniform(table.data(), table.size(), 0.5, 1.5, rng);

  AttentionBlockParams<double> p;
  p.B = B, p.T = T, p.C = C, p.H = H;
  p.wq = tc.qk_proj ? wq.data() : nullptr;
  p.wk = tc.qk_proj ? wk.data() : nullptr;
  p.wv = wv.data();
  p.wo = wo.data();
  p.positions = positions.data();
  if (spec.family() == PeFamily::QK_TRANSFORM) {
    p.inv_freq = inv_freq.data();
    p.rot_dim = hs;
    p.layout = tc.layout;
    if (tc.pe == PeKind::XPOS) {
      p.xpos_zeta = zeta.data();
      p.xpos_centre = T / 2;
      p.xpos_scale_base = spec.xpos.scale_base;
    }
  }
  if (tc.pe == PeKind::ALIBI) p.bias.kind = AttnBias::ALIBI, p.bias.alibi_slopes = slopes.data();
  if (tc.pe == PeKind::T5) {
    p.bias.kind = AttnBias::T5, p.bias.table = table.data();
    p.bias.t5_buckets = spec.t5.num_buckets, p.bias.t5_max_distance = spec.t5.max_distance;
  }
  if (tc.pe == PeKind::KERPLE) p.bias.kind = AttnBias::KERPLE, p.bias.table = table.data();
  p.impl = AttnImpl::NAIVE;

  Vec q(N * C), k(N * C), v(N * C), o(N * C), out(N * C);
  std::vector<float> lse(static_cast<size_t>(B) * H * T);
  const AttentionBlockActs<double> acts{q.data(), k.data(), v.data(), o.data(), lse.data()};
  const auto loss = [&] {
    attention_block_forward(out.data(), acts, x.data(), p);
    return dot(g, out.data());
  };
  loss();
  Vec dq(N * C), dk(N * C), dv(N * C), dO(N * C);
  const Vec d0 = random_vec(C * C, -1, 1, rng);
  Vec dwq = d0, dwk = d0, dwv = d0, dwo = d0, dx(N * C, std::nan(""));
  std::vector<float> dbias(table.size(), 0.25f);
  AttentionBlockGrads<double> gr{tc.qk_proj ? dwq.data() : nullptr, tc.qk_proj ? dwk.data() : nullptr, dwv.data(),
                                 dwo.data(), dbias.empty() ? nullptr : dbias.data()};
  attention_block_backward(dx.data(), gr, g.data(), x.data(), acts, p, {dq.data(), dk.data(), dv.data(), dO.data()});

  EXPECT_TRUE(close_all("dinp", dx, fd_grad(x, loss), kAtol, kRtol));
  EXPECT_TRUE(close_all("dwv", minus(dwv, d0), fd_grad(wv, loss), kAtol, kRtol));
  EXPECT_TRUE(close_all("dwo", minus(dwo, d0), fd_grad(wo, loss), kAtol, kRtol));
  if (tc.qk_proj) {
    EXPECT_TRUE(close_all("dwq", minus(dwq, d0), fd_grad(wq, loss), kAtol, kRtol));
    EXPECT_TRUE(close_all("dwk", minus(dwk, d0), fd_grad(wk, loss), kAtol, kRtol));
  } else {
    EXPECT_EQ(dwq, d0);
  }
  if (!table.empty()) {
    Vec got(table.size());
    for (size_t i = 0; i < table.size(); ++i) got[i] = dbias[i] - 0.25;
    const double h = tc.pe == PeKind::KERPLE ? kKerpleH : kH;
    EXPECT_TRUE(close_all("dbias (+=)", got, fd_grad(table, loss, h), kBiasAtol, kBiasRtol));
  }
}

INSTANTIATE_TEST_SUITE_P(
    ModelLayers, AttentionBlockGrad,
    ::testing::Values(BlockCase{"none", PeKind::NONE, true}, BlockCase{"none_no_qk_proj", PeKind::NONE, false},
                      BlockCase{"rope_half_split", PeKind::ROPE, true},
                      BlockCase{"rope_interleaved", PeKind::ROPE, true, RopeLayout::INTERLEAVED},
                      BlockCase{"xpos", PeKind::XPOS, true}, BlockCase{"xpos_no_qk_proj", PeKind::XPOS, false},
                      BlockCase{"alibi_4_heads", PeKind::ALIBI, true, RopeLayout::HALF_SPLIT, 4},
                      BlockCase{"t5", PeKind::T5, true}, BlockCase{"kerple", PeKind::KERPLE, true},
                      BlockCase{"one_head", PeKind::ROPE, true, RopeLayout::HALF_SPLIT, 1}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace pelab
