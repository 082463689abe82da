// AdamW (model/optimizer.h) against a step computed by hand from the formula,
// decoupled weight decay only on the mask, state save/restore, clipping by
// global norm, and the warmup + cosine schedule; plus the end-to-end check
// that a few steps overfit one tiny batch.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <string>
#include <vector>

#include "model/optimizer.h"
#include "model/transformer.h"

namespace pelab {
namespace {

// Two steps of PyTorch AdamW, written out in double.
TEST(Optimizer, AdamWMatchesHandComputedSteps) {
  AdamWConfig cfg;
  cfg.beta1 = 0.9, cfg.beta2 = 0.99, cfg.eps = 1e-8, cfg.weight_decay = 0.1;
  const std::vector<uint8_t> mask{1, 0, 1};
  AdamW<double> opt(3, mask, cfg);
  std::vector<double> p{1.0, -2.0, 0.5};
  const std::vector<std::vector<double>> grads{{0.1, 0.2, -0.3}, {-0.05, 0.4, 0.0}};
  const double lrs[2] = {0.01, 0.02};

  std::vector<double> ref = p, m(3, 0.0), v(3, 0.0);
  for (int t = 1; t <= 2; ++t) {
    const std::vector<double>& g = grads[t - 1];
    opt.update(p.data(), g.data(), lrs[t - 1]);
    for (int i = 0; i < 3; ++i) {
      if (mask[i]) ref[i] -= lrs[t - 1] * 0.1 * ref[i];
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.99 * v[i] + 0.01 * g[i] * g[i];
      const double mhat = m[i] / (1 - std::pow(0.9, t)), vhat = v[i] / (1 - std::pow(0.99, t));
      ref[i] -= lrs[t - 1] * mhat / (std::sqrt(vhat) + 1e-8);
    }
    EXPECT_EQ(opt.step(), t);
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(p[i], ref[i], 1e-15) << "step " << t << " param " << i;
      EXPECT_NEAR(opt.m()[i], m[i], 1e-16);
      EXPECT_NEAR(opt.v()[i], v[i], 1e-16);
    }
  }
}

TEST(Optimizer, WeightDecayZeroAndMaskedParametersDecayNothing) {
  AdamWConfig cfg;
  cfg.weight_decay = 0.5;
  AdamW<float> opt(2, {1, 0}, cfg);
  std::vector<float> p{2.0f, 2.0f};
  const std::vector<float> g{0.0f, 0.0f};  // zero gradient: only the decay moves p
  opt.update(p.data(), g.data(), 0.1);
  EXPECT_FLOAT_EQ(p[0], 2.0f * (1 - 0.1f * 0.5f));
  EXPECT_EQ(p[1], 2.0f);
  cfg.weight_decay = 0.0;
  AdamW<float> none(2, {1, 1}, cfg);
  p = {2.0f, 3.0f};
  none.update(p.data(), g.data(), 0.1);
  EXPECT_EQ(p, (std::vector<float>{2.0f, 3.0f}));
  cfg.weight_decay = -1;
  EXPECT_THROW(AdamW<float>(2, {1, 1}, cfg), Error);
  cfg.weight_decay = 0;
  EXPECT_THROW(AdamW<float>(3, {1, 1}, cfg), Error);  // mask of the wrong size
}

TEST(Optimizer, StateRestoresExactly) {
  const int n = 1000;
  std::vector<float> pa(n), g(n);
  for (int i = 0; i < n; ++i) pa[i] = std::sin(i * 0.1f), g[i] = std::cos(i * 0.37f);
  std::vector<uint8_t> mask(n);
  for (int i = 0; i < n; ++i) mask[i] = i % 2;
  AdamW<float> a(n, mask, AdamWConfig{});
  for (int s = 0; s < 3; ++s) a.update(pa.data(), g.data(), 1e-3);
  // "Checkpoint": parameters, m, v, step into a fresh optimizer.
  AdamW<float> b(n, mask, AdamWConfig{});
  b.set_state(a.m(), a.v(), a.step());
  std::vector<float> pb = pa;
  a.update(pa.data(), g.data(), 5e-4);
  b.update(pb.data(), g.data(), 5e-4);
  EXPECT_EQ(pa, pb);
  EXPECT_EQ(a.step(), 4);
  EXPECT_EQ(b.step(), 4);
}

TEST(Optimizer, ClipGradNorm) {
  std::vector<float> g{3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(clip_grad_norm(g.data(), 2, 10.0), 5.0);  // below the limit: unchanged
  EXPECT_EQ(g, (std::vector<float>{3.0f, 4.0f}));
  EXPECT_DOUBLE_EQ(clip_grad_norm(g.data(), 2, 0.0), 5.0);   // 0: no clipping
  EXPECT_EQ(g, (std::vector<float>{3.0f, 4.0f}));
  EXPECT_DOUBLE_EQ(clip_grad_norm(g.data(), 2, 1.0), 5.0);   // returns the norm before clipping
  EXPECT_FLOAT_EQ(g[0], 0.6f);
  EXPECT_FLOAT_EQ(g[1], 0.8f);
  EXPECT_NEAR(grad_norm(g.data(), 2), 1.0, 1e-7);
}

TEST(Optimizer, GradNormIsTheSameForAnyThreadCount) {
  const int64_t n = 300001;  // several summation blocks, not a multiple of one
  std::vector<float> g(n);
  for (int64_t i = 0; i < n; ++i) g[i] = std::sin(0.001f * i) * (1 + i % 7);
  const int prev = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = grad_norm(g.data(), n);
  omp_set_num_threads(2);
  const double two = grad_norm(g.data(), n);
  omp_set_num_threads(prev);
  EXPECT_EQ(one, two);
}

TEST(Optimizer, WarmupCosineSchedule) {
  const LrSchedule s{1e-3, 1e-4, 10, 110};
  EXPECT_DOUBLE_EQ(s(0), 1e-4);   // peak·1/warmup
  EXPECT_DOUBLE_EQ(s(4), 5e-4);
  EXPECT_DOUBLE_EQ(s(9), 1e-3);   // end of warmup: peak
  EXPECT_DOUBLE_EQ(s(10), 1e-3);  // cosine starts at peak
  EXPECT_NEAR(s(60), 0.5 * (1e-3 + 1e-4), 1e-15);  // halfway
  EXPECT_NEAR(s(109), 1e-4 + 0.5 * (1 + std::cos(M_PI * 0.99)) * 9e-4, 1e-15);  // one step before the end
  EXPECT_DOUBLE_EQ(s(110), 1e-4);  // end: min
  EXPECT_DOUBLE_EQ(s(500), 1e-4);
  for (int64_t t = 10; t < 110; ++t) EXPECT_GE(s(t), s(t + 1));  // monotone decay
  const LrSchedule no_warmup{1e-3, 0.0, 0, 100};
  EXPECT_DOUBLE_EQ(no_warmup(0), 1e-3);
  EXPECT_THROW(validate(LrSchedule{-1, 0, 0, 10}), Error);
  EXPECT_THROW(validate(LrSchedule{1e-3, 2e-3, 0, 10}), Error);
}

// A few AdamW steps on one batch drive the loss far down (memorisation).
TEST(Optimizer, OverfitsOneTinyBatch) {
  const int prev = omp_get_max_threads();
  omp_set_num_threads(1);  // tiny shapes: one thread is faster on a shared machine
  ModelConfig cfg;
  cfg.d_model = 32;
  cfg.n_layers = 2;
  cfg.n_heads = 4;
  cfg.pe.kind = PeKind::ROPE;
  Model m(cfg);
  const std::string text = "the quick brown fox jumps over the lazy dog; the quick brown fox jumps again. ";
  const int B = 2, T = 32;
  std::vector<int32_t> tokens(B * T), targets(B * T);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      tokens[b * T + t] = static_cast<unsigned char>(text[b * 20 + t]);
      targets[b * T + t] = static_cast<unsigned char>(text[b * 20 + t + 1]);
    }
  AdamWConfig ac;
  ac.weight_decay = 0.0;
  AdamW<float> opt(m.num_params(), m.layout().decay_mask(), ac);
  float first = 0, last = 0;
  for (int step = 0; step < 40; ++step) {
    m.zero_grad();
    last = m.forward(tokens.data(), targets.data(), B, T);
    if (step == 0) first = last;
    m.backward();
    clip_grad_norm(m.grads(), m.num_params(), 1.0);
    opt.update(m.params(), m.grads(), 1e-2);
  }
  omp_set_num_threads(prev);
  EXPECT_NEAR(first, std::log(256.0), 0.05);
  EXPECT_LT(last, 1.0f) << "from " << first;
}

}  // namespace
}  // namespace pelab
