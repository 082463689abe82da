// The statistics pelab analyze writes equal a materialized fp64 attention of
// the same q and k at a short length (ALiBi, so the bias path is covered),
// and the resolution follows its definition.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "experiments/analyze.h"
#include "model/transformer.h"
#include "test_util.h"

namespace pelab {
namespace {

TEST(Analyze, StatisticsEqualMaterializedAttention) {
  ModelConfig cfg;
  cfg.d_model = 32;
  cfg.n_layers = 2;
  cfg.n_heads = 4;
  cfg.pe.kind = PeKind::ALIBI;
  Model model(cfg);
  const int64_t L = 24;
  EvalText text;
  for (int64_t i = 0; i < L + 1; ++i) text.tokens.push_back(static_cast<uint8_t>((i * 37 + 11) % 256));
  text.source = "test";
  AnalyzeOptions opt;
  opt.length = L;
  opt.windows = 1;
  opt.pairs = 0;
  opt.quiet = true;
  const AnalyzeReport rep = analyze_text(model, text, opt);

  // The same forward, q and k captured, attention materialized in double.
  struct Captured {
    std::vector<float> q, k;
    AttentionParams<float> p;
  };
  std::vector<Captured> cap(cfg.n_layers);
  model.set_attention_observer([&](int l, const AttentionParams<float>& p) {
    cap[l].p = p;
    cap[l].q.assign(p.q, p.q + L * cfg.d_model);
    cap[l].k.assign(p.k, p.k + L * cfg.d_model);
  });
  std::vector<int32_t> in(text.tokens.begin(), text.tokens.begin() + L), tg(text.tokens.begin() + 1, text.tokens.end());
  model.evaluate(in.data(), tg.data(), 1, static_cast<int>(L));
  const int H = cfg.n_heads, D = cfg.head_dim();
  for (int l = 0; l < cfg.n_layers; ++l) {
    const Captured& c = cap[l];
    const LayerAttention& got = rep.layers[l];
    for (int h = 0; h < H; ++h) {
      std::vector<double> mass(L, 0.0), score(L, 0.0);
      std::vector<int64_t> count(L, 0);
      for (int64_t i = 0; i < L; ++i) {
        std::vector<double> logit(i + 1), s(i + 1);
        double mx = -1e300;
        for (int64_t j = 0; j <= i; ++j) {
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += double(c.q[i * cfg.d_model + h * D + d]) * c.k[j * cfg.d_model + h * D + d];
          s[j] = dot * c.p.softmax_scale;
          logit[j] = s[j] + c.p.bias(h, static_cast<double>(i), static_cast<double>(j));
          mx = std::max(mx, logit[j]);
        }
        double z = 0;
        for (int64_t j = 0; j <= i; ++j) z += std::exp(logit[j] - mx);
        double entropy = 0;
        for (int64_t j = 0; j <= i; ++j) {
          const double P = std::exp(logit[j] - mx) / z;
          mass[i - j] += P;
          score[i - j] += s[j];
          ++count[i - j];
          if (P > 0) entropy -= P * std::log(P);
        }
        // atol + rtol·|ref|: fp32 flash against fp64, unit-scale logits at L = 24.
        EXPECT_NEAR(got.entropy_sum[h * L + i], entropy, 1e-5 + 1e-4 * entropy) << "layer " << l << " head " << h;
      }
      for (int64_t n = 0; n < L; ++n) {
        ASSERT_EQ(got.count[h * L + n], count[n]);
        EXPECT_NEAR(got.prob_sum[h * L + n], mass[n], 1e-5 + 1e-4 * mass[n]) << "layer " << l << " head " << h << " n " << n;
        EXPECT_NEAR(got.score_sum[h * L + n], score[n], 1e-5 + 1e-4 * std::fabs(score[n]))
            << "layer " << l << " head " << h << " n " << n;
      }
    }
  }
}

TEST(Analyze, ResolutionFollowsItsDefinition) {
  // A flat curve: every term e^s (e^s - e^s) = 0.
  const std::vector<double> flat(10, 1.5);
  EXPECT_NEAR(attention_resolution(flat.data(), 10), 0.0, 1e-15);
  // Two points s = (a, b): R = e^a(e^a - e^b) / (e^a + e^b)², the last term uses s[N] = s[N-1].
  const std::vector<double> two = {2.0, 0.5};
  const double ea = std::exp(2.0), eb = std::exp(0.5);
  EXPECT_NEAR(attention_resolution(two.data(), 2), ea * (ea - eb) / ((ea + eb) * (ea + eb)), 1e-12);
  // Shifting the curve changes nothing (the exponent is normalized).
  const std::vector<double> shifted = {702.0, 700.5};
  EXPECT_NEAR(attention_resolution(shifted.data(), 2), attention_resolution(two.data(), 2), 1e-12);
}

}  // namespace
}  // namespace pelab
