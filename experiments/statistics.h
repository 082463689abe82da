// The statistics behind a claim's verdict (docs/claims.md "How a verdict is
// decided"): intervals for one run (a bootstrap over blocks of evaluation
// windows or over probe trials), intervals across seeds (a t-interval over the
// per-seed paired differences, widened by the text's bootstrap variance), the
// tests a comparison makes (one-sided against a minimum effect, equivalence
// within a margin), Holm's correction over a claim's comparisons, and Wilson's
// interval for one proportion. Pure functions of their inputs; the claim
// runner (experiments/claim.cc) decides what the units and the seeds are.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pelab::stats {

double normal_cdf(double x);
double normal_quantile(double p);  // 0 < p < 1
// Student's t with `df` degrees of freedom (df > 0; infinity: the normal).
double t_cdf(double t, double df);
double t_quantile(double p, double df);

double mean(const std::vector<double>& v);
double sample_variance(const std::vector<double>& v);  // n - 1 in the denominator; 0 for n < 2

struct Interval {
  double lo = 0, hi = 0;
};

// Wilson's score interval for `hits` of `n` (n > 0) at `level` (e.g. 0.95).
Interval wilson(int64_t hits, int64_t n, double level = 0.95);

// An estimate with its sampling distribution taken as Student's t:
// (estimate - truth) / se ~ t(df). df = infinity for a normal; se = 0 for a
// number without noise (a benchmark as measured, a constant); se = NaN when
// no interval can be given (`why_no_interval` says why).
struct Estimate {
  double value = 0;
  double se = 0;
  double df = 0;
  int seeds = 1;
  double seed_sd = 0;      // sd of the per-seed values (0 with one seed)
  double text_se = 0;      // the part of se from resampling evaluation units (0 without units)
  std::string covers;      // what the interval covers, in words
  std::string why_no_interval;

  bool has_interval() const { return se == se; }  // not NaN
  Interval interval(double level = 0.95) const;   // two-sided; [value, value] when se = 0
};

// A bootstrap over K resampling units (text blocks, probe trials): `stat`
// maps a weight per unit (how often the resample drew it) to the statistic;
// returns the standard deviation of B replicates. Deterministic given `seed`.
double bootstrap_sd(int64_t units, const std::function<double(const std::vector<double>&)>& stat, int replicates,
                    uint64_t seed);

// The estimate of a mean over seeds of per-seed values `per_seed` (paired
// differences), with `text_se` the bootstrap standard error over evaluation
// units of the seed mean (0 when there are none):
//   n >= 2: se^2 = s^2 / n + text_se^2 (the seed spread, plus the text's own
//           noise, which the seeds share because they read one text), df by
//           Welch-Satterthwaite from n - 1 and units - 1 (n - 1 without units);
//   n == 1: se = text_se, df = units - 1 (evaluation noise only), or no
//           interval when text_se is NaN (no units).
Estimate seed_mean(const std::vector<double>& per_seed, double text_se, int64_t units);

// What a test decides about a claimed effect.
enum class Outcome { HOLDS, CONTRADICTED, UNDECIDED };
const char* to_string(Outcome o);

// One-sided tests of a claimed effect e (the difference in the claimed
// direction) against the minimum effect delta >= 0:
//   p_holds:       H0 e <= delta (rejected: the effect is there, beyond delta);
//   p_contradicts: H0 e >= delta (rejected: it is smaller than delta, absent or reversed).
// Each is compared with alpha = 0.025 (a 95% two-sided interval wholly on one side).
// Equivalence within +-margin (TOST): holds when the 90% interval lies inside
// (p_holds against alpha 0.05); contradicted when the 95% interval lies wholly
// outside (p_contradicts against 0.025).
struct PValues {
  double p_holds = 1, alpha_holds = 0.025;
  double p_contradicts = 1, alpha_contradicts = 0.025;
};
PValues directional_test(const Estimate& e, double delta);
PValues equivalence_test(const Estimate& e, double margin);

// Holm's step-down correction over tests of one family, each at its own alpha:
// sorted by p / alpha, the i-th (from 0) of m is rejected while
// p / alpha <= 1 / (m - i). Returns which are rejected.
std::vector<bool> holm(const std::vector<double>& p, const std::vector<double>& alpha);

// The outcomes of a claim's tests after Holm within each direction (holds,
// contradicts). A test without an interval is undecided.
std::vector<Outcome> decide(const std::vector<PValues>& tests, const std::vector<bool>& has_interval);

// Roughly how many seeds would make a one-sided test of the observed effect
// beyond delta at 2.5% with 80% power: ((z_.975 + z_.8) * sd / (e - delta))^2,
// at least 2; 0 when it cannot be estimated (one seed, or e <= delta).
int seeds_needed(double effect, double delta, double seed_sd);

}  // namespace pelab::stats
