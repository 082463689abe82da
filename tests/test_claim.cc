// Verdicts (experiments/claim.h): the check language decided as paired tests
// on hand-made results whose truth is known. Arms that differ only by noise
// never PASS; a large effect does; equivalence, gates, Holm, units, NaN arms,
// one-seed intervals from stored windows and trials, and the JSON line.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/rng.h"
#include "experiments/claim.h"

namespace pelab {
namespace {

double gaussian(Rng& rng) {
  const double u = 1 - rng.uniform(), v = rng.uniform();
  return std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * v);
}

PointResult point(const std::string& pe, int seed, int seeds) {
  PointResult r;
  r.point.name = "pe-" + pe + (seeds > 1 ? "_train.seed-" + std::to_string(seed) : "");
  r.point.dir = "runs/" + r.point.name;
  r.point.settings = {{"pe", pe}};
  if (seeds > 1) r.point.settings.push_back({"train.seed", std::to_string(seed)});
  r.trained = true;
  r.train_len = 64;
  r.host = "test host, avx2+fma";
  return r;
}

// Per arm and seed, ppl at T (= 4) and at 4T (the given values); no windows.
std::vector<PointResult> seeded(const std::map<std::string, std::vector<double>>& ppl4T) {
  std::vector<PointResult> out;
  for (const auto& [pe, values] : ppl4T)
    for (size_t s = 0; s < values.size(); ++s) {
      PointResult r = point(pe, static_cast<int>(s) + 1, static_cast<int>(values.size()));
      r.val_loss = std::log(values[s]);
      r.eval["nonoverlap/nonoverlap"] = {{64, 256}, {4.0, values[s]}, "text", {}};
      out.push_back(r);
    }
  return out;
}

// One seed; 4T windows of 256 tokens over a text of 200 windows, each
// window's mean NLL ln(ppl) + N(0, sd) (independent per arm).
PointResult windowed(const std::string& pe, double ppl, double sd, Rng& rng) {
  PointResult r = point(pe, 1, 1);
  EvalCurve c;
  c.lengths = {256};
  c.checksum = "text";
  EvalWindows w;
  double sum = 0;
  for (int k = 0; k < 200; ++k) {
    const double nll = (std::log(ppl) + sd * gaussian(rng)) * 256;
    w.offset.push_back(k * 256), w.tokens.push_back(256), w.nll.push_back(nll);
    sum += nll;
  }
  c.ppl = {std::exp(sum / (200 * 256))};
  c.windows = {w};
  r.eval["nonoverlap/nonoverlap"] = c;
  return r;
}

const char* kGreater = "ppl(pe=a, eval=nonoverlap, L=4T) > ppl(pe=b, eval=nonoverlap, L=4T)";
const char* kLess = "ppl(pe=a, eval=nonoverlap, L=4T) < ppl(pe=b, eval=nonoverlap, L=4T)";

TEST(Verdict, ALargeEffectPassesAndItsReverseFails) {
  const auto r = seeded({{"a", {19.8, 21.0, 18.9}}, {"b", {4.2, 4.1, 4.3}}});
  Verdict v = evaluate_check(kGreater, r);
  EXPECT_EQ(v.verdict, "PASS") << v.detail;
  EXPECT_EQ(v.seeds, 3);
  ASSERT_EQ(v.comparisons.size(), 1u);
  const Comparison& c = v.comparisons[0];
  EXPECT_EQ(c.scale, "ln ppl");
  EXPECT_NEAR(c.lhs_mean, std::cbrt(19.8 * 21.0 * 18.9), 1e-9);  // geometric mean over seeds
  EXPECT_NEAR(c.diff, std::log(c.lhs_mean / c.rhs_mean), 1e-12);
  EXPECT_LT(c.ci.lo, c.diff);
  EXPECT_GT(c.ci.lo, 0);
  EXPECT_NE(v.detail.find("3 seed(s), covers seed-to-seed spread"), std::string::npos) << v.detail;
  v = evaluate_check(kLess, r);
  EXPECT_EQ(v.verdict, "FAIL") << v.detail;
  EXPECT_EQ(v.comparisons[0].outcome, stats::Outcome::CONTRADICTED);
  EXPECT_GT(v.comparisons[0].ci.lo, 0);  // the difference as written, a - b, for `<` too: wholly positive
  // A minimum effect beyond what is there: ln(20/4.2) = 1.56 < 3.
  v = evaluate_check(std::string(kGreater) + " by 3", r);
  EXPECT_EQ(v.verdict, "FAIL") << v.detail;
  EXPECT_EQ(v.comparisons[0].delta, 3);
}

// Arms that differ only by seed noise: 3 seeds of each, ln ppl ~ N(2, 0.1^2).
// Whichever direction is claimed, PASS comes out in at most the test's 2.5%.
TEST(Verdict, ArmsThatDifferOnlyByNoiseDoNotPass) {
  Rng rng(3);
  int pass_greater = 0, pass_less = 0, fail = 0;
  const int E = 400;
  for (int e = 0; e < E; ++e) {
    std::vector<double> a, b;
    for (int s = 0; s < 3; ++s) a.push_back(std::exp(2 + 0.1 * gaussian(rng))), b.push_back(std::exp(2 + 0.1 * gaussian(rng)));
    const auto r = seeded({{"a", a}, {"b", b}});
    const Verdict g = evaluate_check(kGreater, r), l = evaluate_check(kLess, r);
    pass_greater += g.verdict == "PASS";
    pass_less += l.verdict == "PASS";
    fail += g.verdict == "FAIL";
  }
  EXPECT_LE(pass_greater, E * 0.04);
  EXPECT_LE(pass_less, E * 0.04);
  // With a minimum effect of 0.01 and 3 seeds, noise rarely rules the effect out either.
  EXPECT_LE(fail, E * 0.1);
}

// One seed: the interval comes from resampling text blocks (paired: both arms
// read the same text), and says it covers evaluation noise only.
TEST(Verdict, OneSeedResamplesTheStoredWindows) {
  Rng rng(9);
  int pass = 0;
  for (int e = 0; e < 100; ++e) {
    const std::vector<PointResult> r = {windowed("a", 8.0, 0.3, rng), windowed("b", 8.0, 0.3, rng)};
    pass += evaluate_check(kGreater, r).verdict == "PASS";
  }
  EXPECT_LE(pass, 5);
  const std::vector<PointResult> big = {windowed("a", 12.0, 0.3, rng), windowed("b", 8.0, 0.3, rng)};
  const Verdict v = evaluate_check(kGreater, big);
  EXPECT_EQ(v.verdict, "PASS") << v.detail;
  EXPECT_NE(v.detail.find("evaluation noise only"), std::string::npos) << v.detail;
  const double half = (v.comparisons[0].ci.hi - v.comparisons[0].ci.lo) / 2;
  // Two arms' block means, each with sd 0.3 / sqrt(200): their difference's 95% half-width is ~0.059.
  EXPECT_NEAR(half, 1.96 * 0.3 * std::sqrt(2.0 / 200), 0.012);
}

TEST(Verdict, OneSeedOfAnEvaluationWithoutWindowsIsAnErrorNamingTheFix) {
  const auto r = seeded({{"a", {20}}, {"b", {4}}});
  try {
    evaluate_check(kGreater, r);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stored no per-window values"), std::string::npos) << e.what();
    EXPECT_NE(e.user_line().find("pelab eval writes window_nll"), std::string::npos) << e.user_line();
  }
  // A metric that never has windows (the validation loss) is undecided with one seed, not an error.
  const Verdict v = evaluate_check("val_loss(pe=a) > val_loss(pe=b)", r);
  EXPECT_EQ(v.verdict, "INCONCLUSIVE");
  EXPECT_NE(v.detail.find("no interval: one seed"), std::string::npos) << v.detail;
}

TEST(Verdict, EquivalenceForNullClaims) {
  Rng rng(4);
  const std::vector<PointResult> same = {windowed("a", 8.0, 0.1, rng), windowed("b", 8.0, 0.1, rng)};
  const char* eq = "equiv(ppl(pe=a, eval=nonoverlap, L=4T), ppl(pe=b, eval=nonoverlap, L=4T), margin=0.05)";
  Verdict v = evaluate_check(eq, same);
  EXPECT_EQ(v.verdict, "PASS") << v.detail;
  const std::vector<PointResult> apart = {windowed("a", 9.0, 0.1, rng), windowed("b", 8.0, 0.1, rng)};
  v = evaluate_check(eq, apart);  // ln(9/8) = 0.118, far outside 0.05
  EXPECT_EQ(v.verdict, "FAIL") << v.detail;
  EXPECT_THROW(parse_check("equiv(ppl(pe=a, eval=x, L=1T), ppl(pe=b, eval=x, L=1T), margin=-1)"), Error);
  EXPECT_THROW(parse_check("equiv(ppl(pe=a, eval=x, L=1T), ppl(pe=b, eval=x, L=1T), margin=abc)"), Error);
  EXPECT_THROW(parse_check("ppl(pe=a, eval=x, L=1T) > 1 by -0.5"), Error);
  EXPECT_THROW(parse_check("ppl(pe=a, eval=x, L=1T) > 1 by nan"), Error);
}

// Probes: Δ accuracy, resampled over trials with one seed.
TEST(Verdict, GatesMakeAVerdictInconclusive) {
  auto probe_point = [](const std::string& pe, std::vector<int64_t> hits) {
    PointResult r = point(pe, 1, 1);
    ProbeGrid g;
    g.lengths = {64};
    g.depths = {0.5};
    g.trials = static_cast<int64_t>(hits.size());
    g.hits = hits;
    double s = 0;
    for (auto h : hits) s += static_cast<double>(h);
    g.accuracy = {s / static_cast<double>(hits.size())};
    r.probe["passkey"] = g;
    return r;
  };
  std::vector<int64_t> never(200, 0), mostly(200, 0), sometimes(200, 0);
  for (int k = 0; k < 200; ++k) mostly[k] = k % 10 != 0, sometimes[k] = k % 3 == 0;
  const char* check = "require probe(pe=a, eval=passkey, L=1T) >= 0.8 and "
                      "probe(pe=a, eval=passkey, L=1T) > probe(pe=b, eval=passkey, L=1T)";
  Verdict v = evaluate_check(check, {probe_point("a", mostly), probe_point("b", sometimes)});
  EXPECT_EQ(v.verdict, "PASS") << v.detail;  // 0.9 vs 0.33
  EXPECT_EQ(v.comparisons[1].scale, "accuracy");
  v = evaluate_check(check, {probe_point("a", sometimes), probe_point("b", never)});
  EXPECT_EQ(v.verdict, "INCONCLUSIVE") << v.detail;  // 0.33 > 0 holds, but a never learned the task
  EXPECT_FALSE(v.comparisons[0].gate_met);
  EXPECT_NE(v.detail.find("gate NOT met"), std::string::npos) << v.detail;
  // No model learned the task: 0 of N in both arms has no bootstrap spread; Wilson's intervals set the
  // floor. At N = 200 ([0, 0.019] each) a difference of 0.05 is ruled out; at N = 40 ([0, 0.088]) it is not.
  v = evaluate_check("probe(pe=a, eval=passkey, L=1T) > probe(pe=b, eval=passkey, L=1T)",
                     {probe_point("a", never), probe_point("b", never)});
  EXPECT_EQ(v.comparisons[0].outcome, stats::Outcome::CONTRADICTED) << v.detail;
  EXPECT_GT(v.comparisons[0].ci.hi, 0.015) << v.detail;
  std::vector<int64_t> few(40, 0);
  v = evaluate_check("probe(pe=a, eval=passkey, L=1T) > probe(pe=b, eval=passkey, L=1T)",
                     {probe_point("a", few), probe_point("b", few)});
  EXPECT_EQ(v.verdict, "INCONCLUSIVE") << v.detail;
  EXPECT_GT(v.comparisons[0].ci.hi, 0.05) << v.detail;  // 0 of 40: Wilson's upper limit is 0.088
  EXPECT_THROW(evaluate_check("require probe(pe=a, eval=copy, L=1T) >= 0.8 and val_loss(pe=a) > 0",
                              {probe_point("a", mostly)}),
               Error);  // a require on a metric no point has
}

TEST(Verdict, HolmCorrectsAcrossTheComparisonsOfAClaim) {
  // Three comparisons each just significant alone (t ~ 2.6 at 9 df: p ~ 0.014 < 0.025) are not all
  // significant together: Holm needs the smallest below 0.025 / 3.
  std::vector<double> a, b;
  const double d[] = {0.10, 0.02, 0.06, 0.12, 0.03, 0.09, 0.01, 0.08, 0.05, 0.07};
  for (double x : d) a.push_back(std::exp(2 + x + 0.0)), b.push_back(std::exp(2 - 0.0 + 0.0));
  const auto r = seeded({{"a", a}, {"b", b}});
  const Verdict one = evaluate_check(std::string(kGreater) + " by 0.03", r);
  EXPECT_EQ(one.verdict, "PASS") << one.detail;
  const std::string three = std::string(kGreater) + " by 0.03 and " + kGreater + " by 0.03 and " + kGreater + " by 0.03";
  const Verdict v = evaluate_check(three, r);
  EXPECT_EQ(v.verdict, "INCONCLUSIVE") << v.detail;
  EXPECT_NE(v.detail.find("Holm over 3"), std::string::npos) << v.detail;
}

TEST(Verdict, ANaNArmIsAnErrorNamingTheRun) {
  auto r = seeded({{"a", {20, 21}}, {"b", {4, 4.1}}});
  r[1].eval["nonoverlap/nonoverlap"].ppl[1] = std::nan("");
  try {
    evaluate_check(kGreater, r);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pe-a_train.seed-2 (runs/pe-a_train.seed-2) has a NaN perplexity"),
              std::string::npos)
        << e.what();
  }
  r = seeded({{"a", {20, 21}}, {"b", {4, 4.1}}});
  r[0].val_loss = INFINITY;
  EXPECT_THROW(evaluate_check("val_loss(pe=a) > val_loss(pe=b)", r), Error);
}

TEST(Verdict, ComparisonsOfDifferentUnitsAreErrors) {
  const auto r = seeded({{"a", {20, 21}}, {"b", {4, 4.1}}});
  for (const char* bad : {"ppl(pe=a, eval=nonoverlap, L=4T) > val_loss(pe=b)",
                          "val_loss(pe=a) + ppl(pe=a, eval=nonoverlap, L=1T) > 1",
                          "ppl(pe=a, eval=nonoverlap, L=4T) * ppl(pe=b, eval=nonoverlap, L=4T) > 1",
                          "probe(pe=a, eval=passkey) > param_norm(pe=a)"}) {
    try {
      parse_check(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_TRUE(std::string(e.what()).find("units") != std::string::npos ||
                  std::string(e.what()).find("multiplies") != std::string::npos ||
                  std::string(e.what()).find("compares") != std::string::npos)
          << e.what();
    }
  }
  // Ratios of one unit stay on its scale: ln(a/b) against ln 2.
  const Verdict v = evaluate_check(
      "ppl(pe=a, eval=nonoverlap, L=4T) / ppl(pe=b, eval=nonoverlap, L=4T) > 2", r);
  EXPECT_EQ(v.comparisons[0].scale, "ln ppl ratio");
}

TEST(Verdict, ArmsWithDifferentSeedsOrHostsAreNamed) {
  auto r = seeded({{"a", {20, 21, 22}}, {"b", {4, 4.1}}});
  EXPECT_THROW(evaluate_check(kGreater, r), Error);  // seeds {1,2,3} against {1,2}
  r = seeded({{"a", {20, 21}}, {"b", {4, 4.1}}});
  r[0].host = "other host, avx512";
  const Verdict v = evaluate_check(kGreater, r);
  EXPECT_EQ(v.comparisons[0].hosts.size(), 2u);
  EXPECT_NE(v.detail.find("different kinds of host"), std::string::npos) << v.detail;
}

TEST(Verdict, JsonHasTheVerdictAndEachComparison) {
  const auto r = seeded({{"a", {19.8, 21.0, 18.9}}, {"b", {4.2, 4.1, 4.3}}});
  const std::string j = verdict_json("c", "quick", evaluate_check(kGreater, r));
  EXPECT_EQ(j.find("{\"claim\": \"c\", \"budget\": \"quick\", \"seeds\": 3, \"verdict\": \"PASS\", \"comparisons\": [{"),
            0u)
      << j;
  for (const char* key : {"\"lhs\": {\"expr\": \"ppl(pe=a, eval=nonoverlap, L=4T)\", \"mean\": ", "\"diff\": ",
                          "\"ci\": [", "\"outcome\": \"holds\""})
    EXPECT_NE(j.find(key), std::string::npos) << key << "\n" << j;
}

TEST(Verdict, UndecidedComparisonsEstimateTheSeedsTheyNeed) {
  const auto r = seeded({{"a", {10.0, 12.0, 9.0}}, {"b", {9.0, 9.5, 9.2}}});
  const Verdict v = evaluate_check(kGreater, r);
  ASSERT_EQ(v.verdict, "INCONCLUSIVE") << v.detail;
  EXPECT_GT(v.comparisons[0].seeds_needed, 3);
  EXPECT_NE(v.detail.find("estimate: about"), std::string::npos) << v.detail;
}

}  // namespace
}  // namespace pelab
