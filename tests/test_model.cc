// The whole model (model/transformer.h): its gradient against finite
// differences for random parameters in fp64, for every encoding family and
// for norm none / rmsnorm, qk_proj off, one head and partial rotary; the float
// model (flash attention) against the double one (naive); loss at
// initialisation; per-token NLL, evaluation mode, determinism, accumulation,
// the parameter layout and count, and bad inputs.
//
// Gradient tolerances: the loss is a composition of fp64 layers, each checked
// in test_model_layers.cc; with the 4-point stencil and h = 2^-10 the observed
// error is ~1e-11 on gradients of ~1e-1 (PELAB_MODEL_REPORT=1): atol 1e-9,
// rtol 1e-7. Learned bias tables enter attention in fp32 (attention.h):
// atol 1e-5, rtol 1e-4, KERPLE with h = 2^-6 (see tests/test_attention_grad.cc).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "model_test_util.h"

namespace pelab {
namespace {

using namespace model_test;

constexpr double kH = 0x1p-10;
constexpr double kAtol = 1e-9, kRtol = 1e-7;
constexpr double kBiasAtol = 1e-5, kBiasRtol = 1e-4;
constexpr double kKerpleH = 0x1p-6;
constexpr int64_t kMaxChecked = 61;  // per tensor; see the loop below

ModelConfig tiny_config(PeKind pe) {
  ModelConfig c;
  c.vocab = 16;
  c.d_model = 8;
  c.n_layers = 2;
  c.n_heads = 2;
  c.max_len = 8;
  c.pe.kind = pe;
  c.pe.t5.num_buckets = 6;  // T = 6: distances 0..5 use exact and log buckets
  c.pe.t5.max_distance = 8;
  c.pe.xpos.scale_base = 8.0;  // a visible xPos scale over 6 positions
  return c;
}

// Random parameters in ranges that keep every nonlinearity active: matrices
// and embeddings U(-0.5, 0.5), norm weights U(0.5, 1.5), biases U(-0.5, 0.5),
// T5 tables U(-1, 1), KERPLE (a, b, p) U(0.5, 1.5) (inside the clamp).
template <typename Real>
void randomize(Transformer<Real>& m, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (const auto& t : m.layout().tensors()) {
    Real* p = m.params() + t.offset;
    double lo = -0.5, hi = 0.5;
    if (t.init == ParamInit::ONES || t.init == ParamInit::KERPLE) lo = 0.5, hi = 1.5;
    if (t.name == "attn_bias" && m.config().pe.kind == PeKind::T5) lo = -1, hi = 1;
    fill_uniform(p, t.numel, lo, hi, rng);
  }
}

struct Batch {
  int B, T;
  std::vector<int32_t> tokens, targets;
};

Batch random_batch(int B, int T, int V, uint64_t seed, bool ignore_one = true) {
  std::mt19937_64 rng(seed);
  Batch b{B, T, std::vector<int32_t>(B * T), std::vector<int32_t>(B * T)};
  for (auto& t : b.tokens) t = static_cast<int32_t>(rng() % V);
  for (auto& t : b.targets) t = static_cast<int32_t>(rng() % V);
  if (ignore_one) b.targets[1] = -1;  // an ignored position
  return b;
}

struct GradCase {
  std::string name;
  PeKind pe;
  NormKind norm = NormKind::LAYERNORM;
  bool qk_proj = true;
  int heads = 2;
  RopeLayout layout = RopeLayout::HALF_SPLIT;
  bool partial_yarn = false;  // rotary dims 2 of 4, YaRN scaling (mscale != 1)
};

class ModelGrad : public ::testing::TestWithParam<GradCase> {};

TEST_P(ModelGrad, MatchesFiniteDifferences) {
  OneThread one;
  const GradCase& tc = GetParam();
  ModelConfig cfg = tiny_config(tc.pe);
  cfg.norm = tc.norm;
  cfg.qk_proj = tc.qk_proj;
  cfg.n_heads = tc.heads;
  cfg.pe.rope.layout = tc.layout;
  if (tc.partial_yarn) {
    cfg.pe.rope.dim = 2;
    cfg.pe.rope.scaling = RopeScaling::YARN;
    cfg.pe.rope.factor = 2.0;
    cfg.pe.rope.original_length = 4;
  }
  Transformer<double> m(cfg);
  randomize(m, 7);
  const Batch b = random_batch(2, 6, cfg.vocab, 8);
  const auto loss = [&] { return m.forward(b.tokens.data(), b.targets.data(), b.B, b.T); };
  m.zero_grad();
  const double l0 = loss();
  ASSERT_TRUE(std::isfinite(l0));
  m.backward();
  const std::vector<double> grads(m.grads(), m.grads() + m.num_params());
  for (const auto& t : m.layout().tensors()) {
    if (t.numel == 0) continue;
    const bool bias = t.name == "attn_bias";
    const double h = bias && tc.pe == PeKind::KERPLE ? kKerpleH : kH;
    // Up to kMaxChecked entries per tensor at a fixed stride: 1 for vectors,
    // 3 for (2, 8, 8) and (16, 8), 9 for (2, 8, 32): strides coprime to the
    // row widths, so every column of every layer is sampled. The layers' own
    // tests (test_model_layers.cc) check every element.
    const int64_t stride = (t.numel + kMaxChecked - 1) / kMaxChecked;
    std::vector<double> fd, an;
    for (int64_t i = (stride - 1) / 2; i < t.numel; i += stride) {
      an.push_back(grads[t.offset + i]);
      fd.push_back(fd4(m.params()[t.offset + i], h, loss));
    }
    EXPECT_TRUE(close_all(t.name, an, fd, bias ? kBiasAtol : kAtol, bias ? kBiasRtol : kRtol));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Model, ModelGrad,
    ::testing::Values(GradCase{"none", PeKind::NONE}, GradCase{"sinusoidal", PeKind::SINUSOIDAL},
                      GradCase{"learned", PeKind::LEARNED}, GradCase{"rope_half_split", PeKind::ROPE},
                      GradCase{"rope_interleaved", PeKind::ROPE, NormKind::LAYERNORM, true, 2, RopeLayout::INTERLEAVED},
                      GradCase{"xpos", PeKind::XPOS}, GradCase{"alibi", PeKind::ALIBI}, GradCase{"t5", PeKind::T5},
                      GradCase{"kerple", PeKind::KERPLE},
                      GradCase{"rmsnorm_rope", PeKind::ROPE, NormKind::RMSNORM},
                      GradCase{"norm_none_alibi", PeKind::ALIBI, NormKind::NONE},
                      GradCase{"no_qk_proj_rope", PeKind::ROPE, NormKind::LAYERNORM, false},
                      GradCase{"no_qk_proj_xpos", PeKind::XPOS, NormKind::LAYERNORM, false},
                      GradCase{"one_head_t5", PeKind::T5, NormKind::LAYERNORM, true, 1},
                      GradCase{"partial_rotary_yarn", PeKind::ROPE, NormKind::LAYERNORM, true, 2,
                               RopeLayout::HALF_SPLIT, true}),
    [](const auto& info) { return info.param.name; });

// ------------------------------------------------------------------ float vs double

// The float model (flash attention, Eigen fp32 products) against the double
// model (naive attention) with the same parameters. Loss: |Δ| ≤ 1e-5·|loss|
// (fp32 sums over C = 32 and V = 256 terms: ~1e-7 observed). Gradients:
// ‖g32 - g64‖ ≤ 1e-5·‖g64‖ per tensor (~3e-7..9e-7 observed through 2 layers).
TEST(Model, FloatMatchesDoubleForEachEncoding) {
  OneThread one;  // tiny shapes (threads are exercised by DeterministicAndGradientsAccumulate)
  for (PeKind pe : {PeKind::NONE, PeKind::SINUSOIDAL, PeKind::LEARNED, PeKind::ROPE, PeKind::XPOS, PeKind::ALIBI,
                    PeKind::T5, PeKind::KERPLE}) {
    SCOPED_TRACE(to_string(pe));
    ModelConfig cfg;
    cfg.d_model = 32;
    cfg.n_layers = 2;
    cfg.n_heads = 4;
    cfg.max_len = 160;
    cfg.pe.kind = pe;
    cfg.seed = 5;
    Transformer<float> mf(cfg);
    Transformer<double> md(cfg);
    for (int64_t i = 0; i < md.num_params(); ++i) {
      ASSERT_EQ(mf.params()[i], static_cast<float>(md.params()[i]));  // one draw, rounded
      md.params()[i] = mf.params()[i];
    }
    const Batch b = random_batch(1, 150, 256, 3);  // T past one flash key block (128), not a multiple
    const double lf = mf.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
    const double ld = md.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
    EXPECT_NEAR(lf, ld, 1e-5 * std::fabs(ld));
    mf.backward();
    md.backward();
    for (const auto& t : md.layout().tensors()) {
      if (t.numel == 0) continue;
      double num = 0, den = 0;
      for (int64_t i = t.offset; i < t.offset + t.numel; ++i) {
        num += std::pow(mf.grads()[i] - md.grads()[i], 2);
        den += md.grads()[i] * md.grads()[i];
      }
      if (report_enabled()) std::printf("  [%s %s] rel grad err %.3g\n", to_string(pe).c_str(), t.name.c_str(), std::sqrt(num / den));
      EXPECT_LE(std::sqrt(num), 1e-5 * std::sqrt(den)) << t.name;
    }
  }
}

TEST(Model, FlashAndNaiveAgreeInFloat) {
  OneThread one;
  ModelConfig cfg;
  cfg.d_model = 32;
  cfg.n_layers = 2;
  cfg.n_heads = 2;
  cfg.pe.kind = PeKind::ALIBI;
  Transformer<float> m(cfg);
  const Batch b = random_batch(2, 70, 256, 4);
  const float flash = m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
  m.set_attention_impl(AttnImpl::NAIVE);
  const float naive = m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
  EXPECT_NEAR(flash, naive, 1e-5f * naive);
  Transformer<double> md(cfg);
  EXPECT_THROW(md.set_attention_impl(AttnImpl::FLASH), Error);
}

// ------------------------------------------------------------------ initialisation

// GPT-2 init: tied embeddings of std 0.02 give logits of std ~0.02·√C, so the
// loss starts at ln V plus ~var/2 (≤ 0.05 here).
TEST(Model, LossAtInitIsNearLnVocab) {
  OneThread one;
  for (PeKind pe : {PeKind::NONE, PeKind::SINUSOIDAL, PeKind::LEARNED, PeKind::ROPE, PeKind::XPOS, PeKind::ALIBI,
                    PeKind::T5, PeKind::KERPLE}) {
    ModelConfig cfg;
    cfg.d_model = 64;
    cfg.n_layers = 2;
    cfg.n_heads = 4;
    cfg.pe.kind = pe;
    Transformer<float> m(cfg);
    const Batch b = random_batch(2, 64, 256, 9, false);
    EXPECT_NEAR(m.forward(b.tokens.data(), b.targets.data(), b.B, b.T), std::log(256.0), 0.05) << to_string(pe);
  }
}

TEST(Model, InitialisationFollowsGpt2) {
  ModelConfig cfg;  // 4 layers, 8 heads
  cfg.d_model = 128;
  cfg.pe.kind = PeKind::KERPLE;
  cfg.pe.kerple.a = {0.5};
  const Transformer<float> m(cfg);
  const auto stats = [&](const std::string& name) {
    const ParamTensor& t = m.layout().tensor(name);
    double s = 0, s2 = 0;
    for (int64_t i = t.offset; i < t.offset + t.numel; ++i) s += m.params()[i], s2 += m.params()[i] * m.params()[i];
    return std::pair<double, double>{s / t.numel, std::sqrt(s2 / t.numel - (s / t.numel) * (s / t.numel))};
  };
  EXPECT_NEAR(stats("wte").second, 0.02, 0.001);
  EXPECT_NEAR(stats("wq").second, 0.02, 0.0005);
  EXPECT_NEAR(stats("w1").second, 0.02, 0.0005);
  EXPECT_NEAR(stats("wo").second, 0.02 / std::sqrt(8.0), 0.0003);  // 1/√(2L)
  EXPECT_NEAR(stats("w2").second, 0.02 / std::sqrt(8.0), 0.0003);
  EXPECT_EQ(stats("ln1_w"), (std::pair<double, double>{1.0, 0.0}));
  EXPECT_EQ(stats("lnf_b"), (std::pair<double, double>{0.0, 0.0}));
  const ParamTensor& kb = m.layout().tensor("attn_bias");
  ASSERT_EQ(kb.shape, (std::vector<int64_t>{4, 8, 3}));
  for (int64_t i = 0; i < kb.numel; ++i) EXPECT_EQ(m.params()[kb.offset + i], i % 3 == 0 ? 0.5f : 1.0f);
  // The same seed gives the same parameters; another seed others.
  const Transformer<float> again(cfg);
  EXPECT_TRUE(std::equal(m.params(), m.params() + m.num_params(), again.params()));
  cfg.seed += 1;
  const Transformer<float> other(cfg);
  EXPECT_FALSE(std::equal(m.params(), m.params() + m.num_params(), other.params()));
}

// ------------------------------------------------------------------ layout

TEST(Model, ParameterCountFormulaAndLayout) {
  ModelConfig cfg;  // small.ini: d 256, 4 layers, 8 heads, layernorm, Wq/Wk, no learned PE
  cfg.pe.kind = PeKind::ROPE;
  // V·C + L·(4C² + 2·C·4C + 4C) + 2C = 65536 + 4·787456 + 512
  EXPECT_EQ(parameter_count(cfg), 3215872);
  EXPECT_EQ(ParameterLayout(cfg).total(), 3215872);
  for (PeKind pe : {PeKind::LEARNED, PeKind::T5, PeKind::KERPLE})
    for (NormKind norm : {NormKind::LAYERNORM, NormKind::RMSNORM, NormKind::NONE})
      for (bool qk : {true, false}) {
        ModelConfig c = cfg;
        c.pe.kind = pe;
        c.norm = norm;
        c.qk_proj = qk;
        const ParameterLayout layout(c);
        EXPECT_EQ(parameter_count(c), layout.total());
        int64_t off = 0;
        for (const auto& t : layout.tensors()) {
          EXPECT_EQ(t.offset, off) << t.name;  // contiguous, in order
          off += t.numel;
        }
        EXPECT_EQ(off, layout.total());
      }
  // Weight decay: matrices (wte, wpe, Wq, Wk, Wv, Wo, W1, W2) only.
  cfg.pe.kind = PeKind::T5;
  const ParameterLayout layout(cfg);
  const std::vector<uint8_t> mask = layout.decay_mask();
  for (const auto& t : layout.tensors()) {
    const bool matrix = t.name == "wte" || t.name == "wpe" || t.name[0] == 'w';
    EXPECT_EQ(t.matrix, matrix) << t.name;
    for (int64_t i = t.offset; i < t.offset + t.numel; ++i) ASSERT_EQ(mask[i], matrix ? 1 : 0) << t.name;
  }
  EXPECT_EQ(layout.matrix_count(), std::accumulate(mask.begin(), mask.end(), int64_t{0}));
  EXPECT_THROW(layout.tensor("nope"), Error);
}

// ------------------------------------------------------------------ modes and contract

TEST(Model, EvaluateMatchesForwardAndGivesPerTokenNll) {
  OneThread one;
  ModelConfig cfg = tiny_config(PeKind::ROPE);
  cfg.vocab = 256;
  cfg.d_model = 32;
  Transformer<float> m(cfg);
  const Batch b = random_batch(3, 40, 256, 12);
  const float train_loss = m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
  std::vector<float> nll(b.B * b.T);
  const float eval_loss = m.evaluate(b.tokens.data(), b.targets.data(), b.B, b.T, nll.data());
  EXPECT_EQ(train_loss, eval_loss);  // the same arithmetic, only fewer buffers
  EXPECT_EQ(nll[1], 0.0f);           // the ignored position
  double sum = 0;
  for (float x : nll) sum += x;
  EXPECT_NEAR(sum / (b.B * b.T - 1), eval_loss, 1e-6);
  const float* probs = m.probabilities();
  EXPECT_NEAR(nll[5], -std::log(probs[5 * 256 + b.targets[5]]), 1e-5);
  EXPECT_THROW(m.backward(), Error);  // no backward after evaluate
  EXPECT_TRUE(std::isnan(m.forward(b.tokens.data(), nullptr, b.B, b.T)));
  EXPECT_THROW(m.backward(), Error);  // nor without targets
}

// Given positions (randomized positions, arXiv 2305.16843) reach every
// encoding that reads per-token positions: 0..T-1 given is the default
// exactly; a shift of every position by c leaves RoPE's and xPos's loss
// unchanged (they depend on p_i - p_j only) and changes sinusoidal's; learned PE's gradient
// lands on the given rows of its table; the score biases are refused.
TEST(Model, GivenPositionsReachTheEncodings) {
  OneThread one;
  const Batch b = random_batch(2, 6, 16, 21);
  std::vector<double> identity(12), shifted(12);
  for (int n = 0; n < 12; ++n) identity[n] = n % 6, shifted[n] = n % 6 + 37;
  for (PeKind pe : {PeKind::ROPE, PeKind::XPOS, PeKind::SINUSOIDAL, PeKind::NONE}) {
    ModelConfig cfg = tiny_config(pe);
    Transformer<double> m(cfg);
    randomize(m, 4);
    const double base = m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
    m.set_positions(identity);
    EXPECT_EQ(m.forward(b.tokens.data(), b.targets.data(), b.B, b.T), base) << to_string(pe);
    m.set_positions(shifted);
    const double moved = m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
    // fp64: the rotation angles at positions ~40 carry ~1e-14 relative error.
    if (pe != PeKind::SINUSOIDAL)  // xPos scales q by zeta^(n/s) and k by zeta^(-m/s): relative too
      EXPECT_NEAR(moved, base, kAtol + kRtol * std::fabs(base)) << to_string(pe);
    else
      EXPECT_GT(std::fabs(moved - base), 1e-6) << to_string(pe) << " reads absolute positions";
    std::vector<double> spread(12);  // distances doubled: every encoding but NoPE sees it
    for (int n = 0; n < 12; ++n) spread[n] = 2 * (n % 6);
    m.set_positions(spread);
    const double wider = m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
    if (pe == PeKind::NONE)
      EXPECT_EQ(wider, base);
    else
      EXPECT_GT(std::fabs(wider - base), 1e-6) << to_string(pe) << " ignored the positions";
    m.set_positions({});
    EXPECT_EQ(m.forward(b.tokens.data(), b.targets.data(), b.B, b.T), base);
    m.set_positions(std::vector<double>(5, 0.0));
    EXPECT_THROW(m.forward(b.tokens.data(), b.targets.data(), b.B, b.T), Error) << "B*T positions";
  }
  {
    ModelConfig cfg = tiny_config(PeKind::LEARNED);
    cfg.max_len = 16;
    Transformer<double> m(cfg);
    randomize(m, 4);
    std::vector<double> pos(12);
    for (int n = 0; n < 12; ++n) pos[n] = 2 * (n % 6) + 3;  // rows 3, 5, ..., 13
    m.set_positions(pos);
    m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
    m.zero_grad();
    m.backward();
    const ParamTensor& t = m.layout().tensor("wpe");
    for (int row = 0; row < 16; ++row) {
      double g = 0;
      for (int c = 0; c < cfg.d_model; ++c) g += std::fabs(m.grads()[t.offset + row * cfg.d_model + c]);
      if (row >= 3 && row <= 13 && row % 2 == 1)
        EXPECT_GT(g, 0) << "row " << row;
      else
        EXPECT_EQ(g, 0) << "row " << row;
    }
    EXPECT_THROW(m.set_positions(std::vector<double>(12, 16.0)), Error) << "past the table";
  }
  for (PeKind pe : {PeKind::ALIBI, PeKind::T5, PeKind::KERPLE}) {
    Transformer<double> m(tiny_config(pe));
    EXPECT_THROW(m.set_positions(identity), Error) << to_string(pe);
    m.set_positions({});  // clearing is always allowed
  }
}

TEST(Model, DeterministicAndGradientsAccumulate) {
  ModelConfig cfg;
  cfg.d_model = 32;
  cfg.n_layers = 2;
  cfg.n_heads = 4;
  cfg.pe.kind = PeKind::T5;
  Transformer<float> m(cfg);
  randomize(m, 3);
  const Batch b = random_batch(2, 50, 256, 13);
  m.zero_grad();
  const float l1 = m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
  m.backward();
  const std::vector<float> g1(m.grads(), m.grads() + m.num_params());
  const float l2 = m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
  m.backward(0.5f);
  EXPECT_EQ(l1, l2);
  // Accumulated, not overwritten (+= in another order than 1.5·g: equal up to
  // fp32 rounding of the partial sums, relative to the largest gradient).
  float gmax = 0;
  for (float x : g1) gmax = std::max(gmax, std::fabs(x));
  for (int64_t i = 0; i < m.num_params(); ++i)
    ASSERT_NEAR(m.grads()[i], 1.5f * g1[i], 1e-5f * std::fabs(g1[i]) + 1e-6f * gmax) << i;
  m.zero_grad();
  m.forward(b.tokens.data(), b.targets.data(), b.B, b.T);
  m.backward();
  for (int64_t i = 0; i < m.num_params(); ++i) ASSERT_EQ(m.grads()[i], g1[i]) << i;
}

TEST(Model, AnyLengthAndBatchShapes) {
  OneThread one;
  ModelConfig cfg = tiny_config(PeKind::ALIBI);
  Transformer<float> m(cfg);
  for (auto [B, T] : {std::pair{1, 1}, std::pair{3, 7}, std::pair{1, 300}, std::pair{2, 5}}) {
    const Batch b = random_batch(B, T, cfg.vocab, B * 100 + T, false);
    const float l = m.forward(b.tokens.data(), b.targets.data(), B, T);
    EXPECT_TRUE(std::isfinite(l)) << B << "x" << T;
    m.backward();
  }
}

TEST(Model, AttentionObserverSeesEveryLayer) {
  OneThread one;
  ModelConfig cfg = tiny_config(PeKind::ALIBI);
  Transformer<float> m(cfg);
  std::vector<int> layers;
  m.set_attention_observer([&](int l, const AttentionParams<float>& p) {
    layers.push_back(l);
    EXPECT_EQ(p.nq, 9);
    EXPECT_TRUE(p.causal);
    EXPECT_EQ(p.bias.kind, AttnBias::ALIBI);
  });
  const Batch b = random_batch(1, 9, cfg.vocab, 1);
  m.evaluate(b.tokens.data(), b.targets.data(), 1, 9);
  EXPECT_EQ(layers, (std::vector<int>{0, 1}));
}

TEST(Model, SetPeChangesSettingsButNotKind) {
  ModelConfig cfg = tiny_config(PeKind::ROPE);
  Transformer<float> m(cfg);
  const Batch b = random_batch(1, 8, cfg.vocab, 2);
  const float l0 = m.evaluate(b.tokens.data(), b.targets.data(), 1, 8);
  PeSpec pi = cfg.pe;
  pi.rope.scaling = RopeScaling::LINEAR;
  pi.rope.factor = 4;
  m.set_pe(pi);
  EXPECT_NE(m.evaluate(b.tokens.data(), b.targets.data(), 1, 8), l0);
  PeSpec other = cfg.pe;
  other.kind = PeKind::ALIBI;
  EXPECT_THROW(m.set_pe(other), Error);
}

// ------------------------------------------------------------------ bad input

std::string error_text(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Model, ClearErrorsForBadConfigsAndInputs) {
  ModelConfig cfg;
  cfg.n_heads = 3;  // does not divide 256
  EXPECT_NE(error_text([&] { Transformer<float> m(cfg); }).find("--model.n-heads"), std::string::npos);
  cfg = ModelConfig{};
  cfg.d_model = 0;
  EXPECT_NE(error_text([&] { validate(cfg); }).find("--model.d-model"), std::string::npos);
  cfg = ModelConfig{};
  cfg.d_model = 24;
  cfg.n_heads = 8;  // head dim 3: RoPE needs pairs
  cfg.pe.kind = PeKind::ROPE;
  EXPECT_NE(error_text([&] { validate(cfg); }).find("even"), std::string::npos);
  cfg.pe.kind = PeKind::NONE;
  EXPECT_NO_THROW(validate(cfg));  // odd head dims are fine without rotation
  cfg.n_heads = 1;                 // one head
  EXPECT_NO_THROW(validate(cfg));

  cfg = tiny_config(PeKind::LEARNED);  // max_len 8
  Transformer<float> m(cfg);
  const Batch b = random_batch(1, 9, cfg.vocab, 1);
  EXPECT_NE(error_text([&] { m.forward(b.tokens.data(), b.targets.data(), 1, 9); }).find("--model.max-len"),
            std::string::npos);
  std::vector<int32_t> bad = b.tokens;
  bad[3] = cfg.vocab;
  EXPECT_NE(error_text([&] { m.forward(bad.data(), nullptr, 1, 8); }).find("vocabulary"), std::string::npos);
  EXPECT_THROW(m.forward(b.tokens.data(), nullptr, 0, 8), Error);
  Transformer<float> fresh(cfg);
  EXPECT_THROW(fresh.backward(), Error);
  EXPECT_THROW(parse_norm_kind("batchnorm"), Error);
  EXPECT_FALSE(parse_qk_proj("none"));
}

}  // namespace
}  // namespace pelab
