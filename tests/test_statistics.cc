// The statistics of verdicts (experiments/statistics.h) against known answers:
// quantiles from tables, and coverage of every interval on simulated
// experiments whose truth is known.
#include "experiments/statistics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/rng.h"

namespace pelab::stats {
namespace {

double gaussian(Rng& rng) {  // Box-Muller
  const double u = 1 - rng.uniform(), v = rng.uniform();
  return std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * v);
}

TEST(Statistics, QuantilesMatchTables) {
  // Two-sided 95% critical values of Student's t (any table) and the normal.
  EXPECT_NEAR(t_quantile(0.975, 1), 12.7062, 1e-4);
  EXPECT_NEAR(t_quantile(0.975, 2), 4.30265, 1e-5);
  EXPECT_NEAR(t_quantile(0.975, 4), 2.77645, 1e-5);
  EXPECT_NEAR(t_quantile(0.975, 9), 2.26216, 1e-5);
  EXPECT_NEAR(t_quantile(0.95, 30), 1.69726, 1e-5);
  EXPECT_NEAR(t_quantile(0.975, INFINITY), 1.959964, 1e-6);
  EXPECT_NEAR(normal_quantile(0.8), 0.841621, 1e-6);
  EXPECT_NEAR(t_cdf(0, 3), 0.5, 1e-15);
  EXPECT_NEAR(t_cdf(-2.77645, 4), 0.025, 1e-6);
}

TEST(Statistics, WilsonMatchesItsFormulaAndCovers) {
  // 4 of 500 (claim 4's full budget): Wilson's 95% interval [0.0031, 0.0204].
  const Interval w = wilson(4, 500);
  EXPECT_NEAR(w.lo, 0.00312, 5e-5);
  EXPECT_NEAR(w.hi, 0.02040, 5e-5);
  const Interval zero = wilson(0, 40);
  EXPECT_EQ(zero.lo, 0);
  EXPECT_NEAR(zero.hi, 0.0876, 5e-4);
  // Coverage at p = 0.3, n = 50 over 4000 simulated experiments.
  Rng rng(7);
  int covered = 0;
  for (int e = 0; e < 4000; ++e) {
    int hits = 0;
    for (int i = 0; i < 50; ++i) hits += rng.uniform() < 0.3;
    const Interval c = wilson(hits, 50);
    covered += c.lo <= 0.3 && 0.3 <= c.hi;
  }
  EXPECT_NEAR(covered / 4000.0, 0.95, 0.02);
}

// The interval over seeds: per-seed paired differences d_s = mu + N(0, 1);
// its 95% interval must cover mu in ~95% of 4000 experiments at 3, 5 and 10 seeds.
TEST(Statistics, SeedIntervalCoversNearNinetyFivePercent) {
  for (int n : {3, 5, 10}) {
    Rng rng(100 + n);
    int covered = 0;
    for (int e = 0; e < 4000; ++e) {
      std::vector<double> d;
      for (int s = 0; s < n; ++s) d.push_back(0.3 + gaussian(rng));
      const Interval c = seed_mean(d, 0.0, 0).interval();
      covered += c.lo <= 0.3 && 0.3 <= c.hi;
    }
    EXPECT_NEAR(covered / 4000.0, 0.95, 0.012) << n << " seeds";
  }
}

// One seed: a bootstrap over 200 blocks of a mean, each block's value
// N(mu, 1): the interval covers mu in ~95% of 1000 experiments.
TEST(Statistics, BlockBootstrapCoversNearNinetyFivePercent) {
  Rng rng(11);
  int covered = 0;
  const int K = 200, E = 1000;
  for (int e = 0; e < E; ++e) {
    std::vector<double> x(K);
    for (double& v : x) v = 2.0 + gaussian(rng);
    auto stat = [&](const std::vector<double>& w) {
      double s = 0, n = 0;
      for (int k = 0; k < K; ++k) s += w[k] * x[k], n += w[k];
      return s / n;
    };
    const double sd = bootstrap_sd(K, stat, 400, 1000 + e);
    const Interval c = seed_mean({stat(std::vector<double>(K, 1.0))}, sd, K).interval();
    covered += c.lo <= 2.0 && 2.0 <= c.hi;
  }
  EXPECT_NEAR(covered / double(E), 0.95, 0.025);
}

// Seeds and text together: d_{s,k} = mu + a_s + b_k with seed effects a_s ~
// N(0, 1) and text-block effects b_k ~ N(0, 8^2) over K = 50 blocks; the truth
// is mu (new seeds, new text). A t-interval over seed means alone undercovers
// (it ignores b); with the text's bootstrap variance added it covers.
TEST(Statistics, SeedAndTextNoiseTogetherCover) {
  Rng rng(5);
  const int n = 4, K = 50, E = 1000;
  int with_text = 0, seeds_only = 0;
  for (int e = 0; e < E; ++e) {
    std::vector<double> a(n), b(K);
    for (double& v : a) v = gaussian(rng);
    for (double& v : b) v = 8 * gaussian(rng);
    std::vector<double> per_seed(n);
    for (int s = 0; s < n; ++s) {
      double sum = 0;
      for (int k = 0; k < K; ++k) sum += a[s] + b[k];
      per_seed[s] = sum / K;
    }
    auto stat = [&](const std::vector<double>& w) {  // the seed mean under resampled blocks
      double sum = 0, cnt = 0;
      for (int k = 0; k < K; ++k) sum += w[k] * b[k], cnt += w[k];
      return mean(a) + sum / cnt;
    };
    const double text_se = bootstrap_sd(K, stat, 300, e);
    const Interval c = seed_mean(per_seed, text_se, K).interval();
    const Interval o = seed_mean(per_seed, 0.0, 0).interval();
    with_text += c.lo <= 0 && 0 <= c.hi;
    seeds_only += o.lo <= 0 && 0 <= o.hi;
  }
  EXPECT_NEAR(with_text / double(E), 0.95, 0.025);
  EXPECT_LE(seeds_only / double(E), 0.85) << "seeds only";
}

TEST(Statistics, DirectionalTestAgainstAMinimumEffect) {
  Estimate e;
  e.value = 0.5, e.se = 0.1, e.df = 4;
  EXPECT_LT(directional_test(e, 0.0).p_holds, 0.025);  // 0.5 / 0.1 = 5 > t(.975, 4)
  EXPECT_GT(directional_test(e, 0.3).p_holds, 0.025);  // (0.5 - 0.3) / 0.1 = 2 < 2.776
  EXPECT_GT(directional_test(e, 0.3).p_contradicts, 0.025);
  EXPECT_LT(directional_test(e, 0.9).p_contradicts, 0.025);  // 4 se below the minimum effect
  e.value = -0.5;                                              // reversed
  EXPECT_LT(directional_test(e, 0.0).p_contradicts, 0.025);
  // Exact numbers (se = 0): a tie decides nothing.
  Estimate exact;
  exact.value = 0;
  const PValues tie = directional_test(exact, 0.0);
  EXPECT_EQ(decide({tie}, {true})[0], Outcome::UNDECIDED);
  exact.value = 1e-9;
  EXPECT_EQ(decide({directional_test(exact, 0.0)}, {true})[0], Outcome::HOLDS);
}

TEST(Statistics, EquivalenceHoldsInsideTheMarginAndIsContradictedOutside) {
  Estimate e;
  e.se = 0.01, e.df = 9;
  e.value = 0.005;  // 90% interval [-0.013, 0.023]: inside +-0.05
  EXPECT_EQ(decide({equivalence_test(e, 0.05)}, {true})[0], Outcome::HOLDS);
  e.value = 0.04;  // straddles the margin
  EXPECT_EQ(decide({equivalence_test(e, 0.05)}, {true})[0], Outcome::UNDECIDED);
  e.value = 0.1;  // wholly above
  EXPECT_EQ(decide({equivalence_test(e, 0.05)}, {true})[0], Outcome::CONTRADICTED);
  e.value = -0.1;
  EXPECT_EQ(decide({equivalence_test(e, 0.05)}, {true})[0], Outcome::CONTRADICTED);
}

TEST(Statistics, HolmStepsDown) {
  // m = 3 at alpha 0.05: 0.01 <= 0.05/3, 0.02 <= 0.05/2, 0.04 <= 0.05: all rejected;
  // with 0.03 second, 0.03 > 0.025 stops the rest.
  EXPECT_EQ(holm({0.04, 0.01, 0.02}, {0.05, 0.05, 0.05}), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(holm({0.04, 0.01, 0.03}, {0.05, 0.05, 0.05}), (std::vector<bool>{false, true, false}));
  EXPECT_EQ(holm({0.02}, {0.05}), (std::vector<bool>{true}));
  // A p-value that passes alone need not pass among three.
  EXPECT_EQ(holm({0.02, 0.5, 0.5}, {0.025, 0.025, 0.025}), (std::vector<bool>{false, false, false}));
}

TEST(Statistics, NoIntervalIsUndecidedAndSeedsNeededIsAnEstimate) {
  const Estimate one = seed_mean({0.7}, std::nan(""), 0);
  EXPECT_FALSE(one.has_interval());
  EXPECT_FALSE(one.why_no_interval.empty());
  EXPECT_EQ(decide({directional_test(one, 0)}, {one.has_interval()})[0], Outcome::UNDECIDED);
  // (2.80 * 1 / 0.5)^2 = 31.4 -> 32 seeds.
  EXPECT_EQ(seeds_needed(0.5, 0.0, 1.0), 32);
  EXPECT_EQ(seeds_needed(0.1, 0.2, 1.0), 0);
  EXPECT_EQ(seeds_needed(0.5, 0.0, 0.0), 0);
}

}  // namespace
}  // namespace pelab::stats
