#include "experiments/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace pelab::stats {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The continued fraction of the regularized incomplete beta function, by
// modified Lentz (Press et al., Numerical Recipes, 3rd ed., §6.4).
double beta_fraction(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a - 1 + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + 1 + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < 1e-15) break;
  }
  return h;
}

// I_x(a, b).
double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double ln_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return std::exp(ln_front) * beta_fraction(a, b, x) / a;
  return 1 - std::exp(ln_front) * beta_fraction(b, a, 1 - x) / b;
}

}  // namespace

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double normal_quantile(double p) {
  PELAB_CHECK(p > 0 && p < 1, "normal_quantile: p must be in (0, 1), got " << p, "this is a bug in pelab");
  // Bisection on the CDF to double precision: 200 halvings of [-40, 40].
  double lo = -40, hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (normal_cdf(mid) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

double t_cdf(double t, double df) {
  PELAB_CHECK(df > 0, "t_cdf: df must be positive, got " << df, "this is a bug in pelab");
  if (std::isinf(df) || df > 1e7) return normal_cdf(t);
  if (std::isinf(t)) return t > 0 ? 1 : 0;
  const double tail = 0.5 * incomplete_beta(df / 2, 0.5, df / (df + t * t));  // P(T > |t|)
  return t > 0 ? 1 - tail : tail;
}

double t_quantile(double p, double df) {
  PELAB_CHECK(p > 0 && p < 1, "t_quantile: p must be in (0, 1), got " << p, "this is a bug in pelab");
  double lo = -1e6, hi = 1e6;
  for (int i = 0; i < 300; ++i) {
    const double mid = 0.5 * (lo + hi);
    (t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

double mean(const std::vector<double>& v) {
  return v.empty() ? std::nan("") : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double sample_variance(const std::vector<double>& v) {
  if (v.size() < 2) return 0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size() - 1);
}

Interval wilson(int64_t hits, int64_t n, double level) {
  PELAB_CHECK(n > 0 && hits >= 0 && hits <= n, "wilson: need 0 <= hits <= n and n > 0, got " << hits << " of " << n,
              "this is a bug in pelab");
  const double z = normal_quantile(0.5 + level / 2), nn = static_cast<double>(n);
  const double p = static_cast<double>(hits) / nn, z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

Interval Estimate::interval(double level) const {
  if (!has_interval()) return {std::nan(""), std::nan("")};
  if (se == 0) return {value, value};
  const double q = t_quantile(0.5 + level / 2, df);
  return {value - q * se, value + q * se};
}

double bootstrap_sd(int64_t units, const std::function<double(const std::vector<double>&)>& stat, int replicates,
                    uint64_t seed) {
  PELAB_CHECK(units >= 1 && replicates >= 2, "bootstrap: need units >= 1 and replicates >= 2", "this is a bug in pelab");
  Rng rng = Rng::stream(seed, 0xb0075);
  std::vector<double> w(units), values;
  values.reserve(replicates);
  for (int b = 0; b < replicates; ++b) {
    std::fill(w.begin(), w.end(), 0.0);
    for (int64_t k = 0; k < units; ++k) w[rng.below(static_cast<uint64_t>(units))] += 1;
    values.push_back(stat(w));
  }
  return std::sqrt(sample_variance(values));
}

Estimate seed_mean(const std::vector<double>& per_seed, double text_se, int64_t units) {
  PELAB_CHECK(!per_seed.empty(), "seed_mean: no seeds", "this is a bug in pelab");
  Estimate e;
  e.value = mean(per_seed);
  e.seeds = static_cast<int>(per_seed.size());
  e.text_se = text_se;
  if (per_seed.size() >= 2) {
    e.seed_sd = std::sqrt(sample_variance(per_seed));
    const double t2 = std::isnan(text_se) ? 0.0 : text_se * text_se;
    const double n = static_cast<double>(per_seed.size()), s2 = e.seed_sd * e.seed_sd / n;
    e.se = std::sqrt(s2 + t2);
    // Welch-Satterthwaite: the degrees of freedom of a sum of two variance
    // estimates, n - 1 for the seeds' and units - 1 for the bootstrap's.
    const double denom = s2 * s2 / (n - 1) + (units >= 2 ? t2 * t2 / static_cast<double>(units - 1) : 0.0);
    e.df = denom > 0 ? (s2 + t2) * (s2 + t2) / denom : n - 1;
    e.covers = std::isnan(text_se) || units < 2 ? "seed-to-seed spread"
                                                : "seed-to-seed spread and the evaluation text's own noise";
    return e;
  }
  if (std::isnan(text_se) || units < 2) {
    e.se = std::nan("");
    e.why_no_interval = "one seed, and the metric has no per-window or per-trial values to resample";
    return e;
  }
  e.se = text_se;
  e.df = static_cast<double>(units - 1);
  e.covers = "evaluation noise only (one seed: the spread between trainings is not in it)";
  return e;
}

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::HOLDS: return "holds";
    case Outcome::CONTRADICTED: return "contradicted";
    case Outcome::UNDECIDED: return "undecided";
  }
  return "?";  // unreachable: the switch is exhaustive
}

namespace {

// P(estimate >= observed | truth = c) for the upper tail, with se = 0 exact.
double upper_p(const Estimate& e, double c) {  // H0: truth <= c
  if (e.se == 0) return e.value > c ? 0.0 : 1.0;
  return 1 - t_cdf((e.value - c) / e.se, e.df);
}
double lower_p(const Estimate& e, double c) {  // H0: truth >= c
  if (e.se == 0) return e.value < c ? 0.0 : 1.0;
  return t_cdf((e.value - c) / e.se, e.df);
}

}  // namespace

PValues directional_test(const Estimate& e, double delta) {
  PValues t;
  if (!e.has_interval()) return t;
  t.p_holds = upper_p(e, delta);
  t.p_contradicts = lower_p(e, delta);
  return t;
}

PValues equivalence_test(const Estimate& e, double margin) {
  PValues t;
  t.alpha_holds = 0.05;
  if (!e.has_interval()) return t;
  t.p_holds = std::max(upper_p(e, -margin), lower_p(e, margin));  // TOST: both one-sided nulls rejected
  t.p_contradicts = std::min(upper_p(e, margin), lower_p(e, -margin));  // wholly above, or wholly below
  return t;
}

std::vector<bool> holm(const std::vector<double>& p, const std::vector<double>& alpha) {
  PELAB_CHECK(p.size() == alpha.size(), "holm: " << p.size() << " p-values for " << alpha.size() << " levels",
              "this is a bug in pelab");
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] / alpha[a] < p[b] / alpha[b]; });
  std::vector<bool> rejected(m, false);
  for (size_t i = 0; i < m; ++i) {
    const size_t k = order[i];
    if (p[k] / alpha[k] > 1.0 / static_cast<double>(m - i)) break;
    rejected[k] = true;
  }
  return rejected;
}

std::vector<Outcome> decide(const std::vector<PValues>& tests, const std::vector<bool>& has_interval) {
  std::vector<double> ph, ah, pc, ac;
  for (const auto& t : tests) {
    ph.push_back(t.p_holds), ah.push_back(t.alpha_holds);
    pc.push_back(t.p_contradicts), ac.push_back(t.alpha_contradicts);
  }
  const auto holds = holm(ph, ah), contra = holm(pc, ac);
  std::vector<Outcome> out;
  for (size_t i = 0; i < tests.size(); ++i) {
    if (!has_interval[i]) out.push_back(Outcome::UNDECIDED);
    else if (holds[i]) out.push_back(Outcome::HOLDS);
    else if (contra[i]) out.push_back(Outcome::CONTRADICTED);
    else out.push_back(Outcome::UNDECIDED);
  }
  return out;
}

int seeds_needed(double effect, double delta, double seed_sd) {
  if (!(seed_sd > 0) || !(effect > delta)) return 0;
  const double z = normal_quantile(0.975) + normal_quantile(0.8);
  const double n = std::ceil(std::pow(z * seed_sd / (effect - delta), 2));
  return static_cast<int>(std::max(2.0, std::min(n, 1e6)));
}

}  // namespace pelab::stats
