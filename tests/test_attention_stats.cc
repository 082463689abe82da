// Attention statistics by distance (attention_statistics): the chunked O(N)
// flash pass in fp32 (flash_cpu.cc) against the same statistics of the
// materialized naive attention in fp64 (naive_cpu.cc): score_sum, logit_sum,
// prob_sum and count per (head, distance), entropy per query. Then properties
// that need no oracle: Σ_n prob over all distances is 1 for every query row
// (causal, max_distance covering every distance), 0 ≤ entropy ≤ ln(visible
// keys) with equality at uniform attention, sums accumulate over calls.
//
// Tolerances are |a - ref| <= atol + rtol·|ref| (shared/reference/style.md §8.1);
// PELAB_ATTN_REPORT=1 prints the max errors of every comparison.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention_test_util.h"

namespace pelab {
namespace {

using namespace attn_test;

// ---------------------------------------------------------------- tolerances
//
// fp32 flash vs the fp64 oracle, inputs N(0, 1), u = 2^-24 ≈ 6e-8. Each
// statistic sums count[n] per-pair terms (over batch and queries) in fp64, so
// the absolute error of a bin is bounded by count[n] × the per-pair error:
//  * score scale·q·k: one fp32 dot product of D terms, ≲ u·scale·Σ_d|q_d k_d|
//    ≈ u·√D ≈ 1e-6 worst case per pair (D ≤ 128).
//  * logit = score + bias: as the score, plus u·|bias| (ALiBi -m·n reaches 500
//    at n = 1000; the bias is the same in every pair of a bin, so this part is
//    relative to the bin's sum: rtol).
//  * prob = exp(logit - lse): the relative error of a pair is that of
//    (logit - lse), ≲ 1e-6 (the fp32 forward's LSE error included): rtol.
//  * entropy H_i = -Σ_j P_ij ln P_ij = Σ_j P_ij (lse_i - logit_ij): ~u·H from
//    the sum, plus the error of the fp32 LSE it is computed from, which
//    shifts every ln P_ij alike (dH/d(lse) = O(1)). That LSE error is
//    its rounding u·|lse| plus the max logit's own dot-product rounding
//    (≈ u·|logit|), so ∝ |lse|, only visible for large logits (|lse| ≈ 100 in
//    peaked rows, as trained heads have). An fp32 evaluation of
//    Σ P (lse - logit) from the flash LSE was measured at 2.6u·|lse| (u =
//    2^-24) for |lse| ≈ 100: kLseRound = 32u per query gives ~10×.
//    (Forming lse - Σ P·logit from absolute logits instead cancels two
//    O(|logit|) numbers and amplifies the LSE error by |logit|: ~u·|lse|².)
// Calibrated once: observed max |diff|/tol score_sum 0.13, logit_sum 0.15,
// prob_sum 0.11, entropy 0.07 (PELAB_ATTN_REPORT=1).
constexpr double kPerPairAtol = 1e-6;                // score_sum, logit_sum: atol = this × count[n]
constexpr double kSumRtol = 1e-5;                    // score_sum, logit_sum
constexpr double kProbPerPairAtol = 1e-8, kProbRtol = 5e-6;  // prob_sum: atol = per pair × count[n]
constexpr double kEntropyAtol = 5e-6, kEntropyRtol = 5e-6;
constexpr double kLseRound = 32 * 0x1p-24;           // entropy: + this × |lse_i|

struct StatsCase {
  int D, nq, nk, batch, heads;
  bool causal;
  BiasCase bias;
  int64_t max_distance;  // < 0: nk (every distance tracked)
  int64_t q_offset_shift = 0;  // q_offset = nk - nq + shift (negative: leading queries fully masked)
  bool both_masks = false;     // the grid test: run non-causal and causal (`causal` ignored)
};

std::string stats_name(const StatsCase& c) {
  std::string s = "d" + std::to_string(c.D) + "_q" + std::to_string(c.nq) + "_k" + std::to_string(c.nk) + "_h" +
                  std::to_string(c.heads) + (c.both_masks ? "_both_" : c.causal ? "_causal_" : "_full_") + bias_name(c.bias);
  s += c.max_distance < 0 ? "_alldist" : "_maxdist" + std::to_string(c.max_distance);
  if (c.q_offset_shift < 0) s += "_masked" + std::to_string(-c.q_offset_shift);
  return s;
}

void PrintTo(const StatsCase& c, std::ostream* os) { *os << stats_name(c); }

// Statistics buffers for H heads, distances [0, max_distance], B·H·Nq entropies.
struct StatsBuffers {
  int64_t width;
  std::vector<double> score, logit, prob;
  std::vector<int64_t> count;
  std::vector<float> entropy;
  StatsBuffers(int H, int64_t max_distance, int64_t queries)
      : width(max_distance + 1), score(H * width, 0.0), logit(H * width, 0.0), prob(H * width, 0.0),
        count(H * width, 0), entropy(queries, kNaNf) {}
  AttentionStats stats() {
    AttentionStats s;
    s.max_distance = width - 1;
    s.score_sum = score.data();
    s.logit_sum = logit.data();
    s.prob_sum = prob.data();
    s.count = count.data();
    s.entropy = entropy.data();
    return s;
  }
};

// Per-bin comparison with atol = per_pair · count[n] + rtol·|ref|.
ErrReport compare_bins(const std::string& what, const std::vector<double>& a, const std::vector<double>& ref,
                       const std::vector<int64_t>& count, int64_t width, double per_pair, double rtol) {
  ErrReport r;
  r.what = what;
  r.atol = 0;
  r.rtol = rtol;
  for (size_t i = 0; i < a.size(); ++i)
    r.add(a[i], ref[i],
          [&] {
            return "(h " + std::to_string(i / width) + ", n " + std::to_string(i % width) + ", count " +
                   std::to_string(count[i]) + ")";
          },
          per_pair * static_cast<double>(std::max<int64_t>(count[i], 1)));
  return r;
}

// Entropy of each query, with the per-query term kLseRound·|lse|.
ErrReport compare_entropy(const std::string& what, const std::vector<float>& a, const std::vector<float>& ref,
                          const std::vector<float>& lse) {
  ErrReport r;
  r.what = what;
  r.atol = kEntropyAtol;
  r.rtol = kEntropyRtol;
  for (size_t i = 0; i < a.size(); ++i)
    r.add(a[i], ref[i], [&] { return "query " + std::to_string(i) + " (lse " + std::to_string(lse[i]) + ")"; },
          std::isfinite(lse[i]) ? kLseRound * std::fabs(lse[i]) : 0.0);
  return r;
}

struct Inputs {
  std::vector<float> q, k, v, o, lse;
  std::vector<double> qd, kd, vd, od;
  std::vector<float> lse_d;
  BiasSetup bias;
};

Inputs make_inputs(const StatsCase& c, std::mt19937_64& gen, double q_sigma = 1.0) {
  Inputs in;
  const View qv = dense_view(c.batch, c.nq, c.heads, c.D), kv = dense_view(c.batch, c.nk, c.heads, c.D);
  in.q.assign(qv.count(), 0.0f);
  in.k.assign(kv.count(), 0.0f);
  in.v.assign(kv.count(), 0.0f);
  fill_normal(in.q, qv, gen, q_sigma);
  fill_normal(in.k, kv, gen);
  fill_normal(in.v, kv, gen);
  in.qd.assign(in.q.begin(), in.q.end());
  in.kd.assign(in.k.begin(), in.k.end());
  in.vd.assign(in.v.begin(), in.v.end());
  in.o.assign(qv.count(), kNaNf);
  in.od.assign(qv.count(), kNaN);
  in.lse.assign(static_cast<size_t>(c.batch) * c.heads * c.nq, kNaNf);
  in.lse_d = in.lse;
  in.bias = make_bias(c.bias, c.heads, c.causal, gen);
  return in;
}

class AttentionStatsFlashVsNaive : public ::testing::TestWithParam<StatsCase> {};

// One case under one mask: flash fp32 statistics vs the naive fp64 ones.
void check_stats(const StatsCase& c) {
  const OmpThreads threads(threads_for(static_cast<int64_t>(c.batch) * c.heads * c.nq * c.nk));
  std::mt19937_64 gen(seed_of_name(stats_name(c)));
  Inputs in = make_inputs(c, gen);
  const int64_t q_offset = c.nk - c.nq + c.q_offset_shift;
  const int64_t maxd = c.max_distance < 0 ? c.nk : c.max_distance;
  auto p = dense_params(in.q.data(), in.k.data(), in.v.data(), in.o.data(), in.lse.data(), c.batch, c.nq, c.nk, c.heads,
                        c.D, c.causal, q_offset, 0, in.bias.params);
  auto pd = dense_params(in.qd.data(), in.kd.data(), in.vd.data(), in.od.data(), in.lse_d.data(), c.batch, c.nq, c.nk,
                         c.heads, c.D, c.causal, q_offset, 0, in.bias.params);
  attention_forward(p, AttnImpl::FLASH);
  attention_forward(pd, AttnImpl::NAIVE);

  const int64_t queries = static_cast<int64_t>(c.batch) * c.heads * c.nq;
  StatsBuffers flash(c.heads, maxd, queries), naive(c.heads, maxd, queries);
  ASSERT_NO_THROW(attention_statistics(p, flash.stats(), AttnImpl::FLASH));
  ASSERT_NO_THROW(attention_statistics(pd, naive.stats(), AttnImpl::NAIVE));

  EXPECT_EQ(flash.count, naive.count) << "pair counts per (head, distance) differ";
  // The count is known in closed form: pairs (b, i, j) visible at distance n.
  std::vector<int64_t> expect(naive.count.size(), 0);
  for (int i = 0; i < c.nq; ++i)
    for (int j = 0; j < c.nk; ++j) {
      const int64_t n = q_offset + i - j;
      if (n < 0 || n > maxd) continue;
      for (int h = 0; h < c.heads; ++h) expect[h * (maxd + 1) + n] += c.batch;
    }
  EXPECT_EQ(naive.count, expect) << "the oracle's counts are not the number of pairs per distance";

  EXPECT_TRUE(passed(compare_bins("score_sum", flash.score, naive.score, naive.count, maxd + 1, kPerPairAtol, kSumRtol)));
  EXPECT_TRUE(passed(compare_bins("logit_sum", flash.logit, naive.logit, naive.count, maxd + 1, kPerPairAtol, kSumRtol)));
  EXPECT_TRUE(passed(compare_bins("prob_sum", flash.prob, naive.prob, naive.count, maxd + 1, kProbPerPairAtol, kProbRtol)));
  EXPECT_TRUE(passed(compare_entropy("entropy", flash.entropy, naive.entropy, in.lse_d)));
}

TEST_P(AttentionStatsFlashVsNaive, MatchesMaterializedFp64) {
  const StatsCase c = GetParam();
  if (!c.both_masks) return check_stats(c);
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "full");
    StatsCase one = c;
    one.causal = causal;
    one.both_masks = false;
    check_stats(one);
  }
}

std::vector<StatsCase> stats_cases() {
  std::vector<StatsCase> v;
  const std::pair<int, int> sizes[] = {{64, 64}, {257, 257}, {65, 300}, {1, 129}};
  const int dims[] = {32, 64, 64, 16};
  for (auto [bias, heads] : {std::pair{BiasCase::NONE, 2}, std::pair{BiasCase::ALIBI, 8}, std::pair{BiasCase::T5, 4}})
    for (int s = 0; s < 4; ++s) {
      // Every distance, or only the first 16 (the rest must be ignored, not clamped).
      const int64_t maxd = s % 2 == 0 ? -1 : 16;
      v.push_back({dims[s], sizes[s].first, sizes[s].second, 2, heads, false, bias, maxd, 0, /*both_masks=*/true});
    }
  v.push_back({32, 130, 130, 2, 3, true, BiasCase::KERPLE_LOG, -1});
  v.push_back({32, 700, 1000, 1, 8, true, BiasCase::ALIBI, -1});  // distances up to 1000
  v.push_back({16, 150, 150, 2, 2, true, BiasCase::T5, -1, -70});   // 70 fully masked queries
  return v;
}

INSTANTIATE_TEST_SUITE_P(Grid, AttentionStatsFlashVsNaive, ::testing::ValuesIn(stats_cases()),
                         [](const ::testing::TestParamInfo<StatsCase>& info) { return stats_name(info.param); });

// --------------------------------------------------------------- properties

// One query row at a time: Σ_n prob_sum[h][n] = Σ_j P_ij = 1 for every row and
// head when every visible key's distance is tracked (causal, max_distance ≥
// the largest distance), and Σ_n count = number of visible keys. Flash (fp32
// probabilities exp(logit - lse) summed in fp64): off by ≈ the LSE error,
// ≲ 1e-6 (observed 4.6e-7; tolerance 5e-6); the fp64 oracle: ≤ N·ε64 ≈ 2e-14
// for N ≤ 200 keys (observed 2e-15).
class AttentionStatsRowProperties : public ::testing::TestWithParam<StatsCase> {};

TEST_P(AttentionStatsRowProperties, ProbabilitiesSumToOnePerRow) {
  const StatsCase c = GetParam();
  ASSERT_EQ(c.batch, 1);
  ASSERT_TRUE(c.causal);
  // One statistics call per row (tiny problems): one OpenMP thread.
  const OmpThreads one_thread(1);
  std::mt19937_64 gen(seed_of_name("rows_" + stats_name(c)));
  Inputs in = make_inputs(c, gen);
  const int64_t q_offset = c.nk - c.nq;
  const int H = c.heads, D = c.D;
  auto p = dense_params(in.q.data(), in.k.data(), in.v.data(), in.o.data(), in.lse.data(), 1, c.nq, c.nk, H, D, true,
                        q_offset, 0, in.bias.params);
  auto pd = dense_params(in.qd.data(), in.kd.data(), in.vd.data(), in.od.data(), in.lse_d.data(), 1, c.nq, c.nk, H, D,
                         true, q_offset, 0, in.bias.params);
  attention_forward(p, AttnImpl::FLASH);
  attention_forward(pd, AttnImpl::NAIVE);
  const int64_t maxd = c.nk;  // ≥ every distance q_offset + i - j

  StatsBuffers full(H, maxd, static_cast<int64_t>(H) * c.nq);
  attention_statistics(p, full.stats(), AttnImpl::FLASH);

  ErrReport flash_sum, naive_sum, row_entropy;
  row_entropy.what = "flash entropy, one row vs all rows";
  row_entropy.atol = kEntropyAtol;
  row_entropy.rtol = kEntropyRtol;
  flash_sum.what = "flash Σ_n prob (per row)";
  flash_sum.atol = 5e-6;
  naive_sum.what = "naive fp64 Σ_n prob (per row)";
  naive_sum.atol = 2e-14;
  for (int i = 0; i < c.nq; ++i) {
    // The row as its own problem: Nq = 1 at position q_offset + i, its LSE as a (1, H, 1) tensor.
    std::vector<float> row_lse(H), row_lse_d(H);
    for (int h = 0; h < H; ++h) {
      row_lse[h] = in.lse[static_cast<size_t>(h) * c.nq + i];
      row_lse_d[h] = in.lse_d[static_cast<size_t>(h) * c.nq + i];
    }
    auto pr = p;
    pr.q = in.q.data() + static_cast<int64_t>(i) * p.q_row_stride;
    pr.o = in.o.data() + static_cast<int64_t>(i) * p.o_row_stride;
    pr.lse = row_lse.data();
    pr.nq = 1;
    pr.q_offset = q_offset + i;
    auto prd = pd;
    prd.q = in.qd.data() + static_cast<int64_t>(i) * pd.q_row_stride;
    prd.o = in.od.data() + static_cast<int64_t>(i) * pd.o_row_stride;
    prd.lse = row_lse_d.data();
    prd.nq = 1;
    prd.q_offset = q_offset + i;
    StatsBuffers fs(H, maxd, H), ns(H, maxd, H);
    attention_statistics(pr, fs.stats(), AttnImpl::FLASH);
    attention_statistics(prd, ns.stats(), AttnImpl::NAIVE);
    const int64_t visible = q_offset + i + 1;
    for (int h = 0; h < H; ++h) {
      double fsum = 0, nsum = 0;
      int64_t fcount = 0;
      for (int64_t n = 0; n <= maxd; ++n) {
        fsum += fs.prob[h * (maxd + 1) + n];
        nsum += ns.prob[h * (maxd + 1) + n];
        fcount += fs.count[h * (maxd + 1) + n];
      }
      auto where = [&] { return "row " + std::to_string(i) + " head " + std::to_string(h); };
      flash_sum.add(fsum, 1.0, where);
      naive_sum.add(nsum, 1.0, where);
      EXPECT_EQ(fcount, visible) << "row " << i << " head " << h;
      // The row's entropy on its own equals the one from the pass over all rows.
      row_entropy.add(fs.entropy[h], full.entropy[static_cast<size_t>(h) * c.nq + i], where);
    }
  }
  EXPECT_TRUE(passed(flash_sum));
  EXPECT_TRUE(passed(naive_sum));
  EXPECT_TRUE(passed(row_entropy));
}

INSTANTIATE_TEST_SUITE_P(Rows, AttentionStatsRowProperties,
                         ::testing::Values(StatsCase{32, 100, 100, 1, 2, true, BiasCase::NONE, -1},
                                           StatsCase{32, 70, 200, 1, 8, true, BiasCase::ALIBI, -1},
                                           StatsCase{16, 150, 150, 1, 4, true, BiasCase::T5, -1}),
                         [](const ::testing::TestParamInfo<StatsCase>& info) { return stats_name(info.param); });

// 0 ≤ H_i ≤ ln(visible keys) for every query, in both implementations, with
// the bounds reached: q = 0 makes every logit equal (no bias), so attention
// is uniform and H_i = ln(visible); q ~ N(0, 30²) makes rows nearly one-hot,
// H_i ≈ 0, with logits (and LSE) of magnitude ~100 as in trained models'
// peaked heads. Tolerance on the bounds: the entropy tolerance above,
// kEntropyAtol + kEntropyRtol·ln(visible) + kLseRound·|lse_i| above ln(visible),
// kEntropyAtol below 0.
struct EntropyCase {
  bool causal;
  double q_sigma;  // 0: uniform attention
  BiasCase bias;
};

void PrintTo(const EntropyCase& e, std::ostream* os) {
  *os << (e.causal ? "causal, " : "full, ") << bias_name(e.bias) << ", q ~ N(0, " << e.q_sigma << "^2)";
}

class AttentionStatsEntropyBounds : public ::testing::TestWithParam<EntropyCase> {};

TEST_P(AttentionStatsEntropyBounds, BetweenZeroAndLogVisible) {
  const EntropyCase e = GetParam();
  const StatsCase c{32, 90, 200, 2, e.bias == BiasCase::ALIBI ? 8 : 2, e.causal, e.bias, -1};
  const OmpThreads threads(threads_for(static_cast<int64_t>(c.batch) * c.heads * c.nq * c.nk));
  std::mt19937_64 gen(seed_of_name("entropy_" + stats_name(c) + std::to_string(e.q_sigma)));
  Inputs in = make_inputs(c, gen, e.q_sigma);
  const int64_t q_offset = c.nk - c.nq;
  auto p = dense_params(in.q.data(), in.k.data(), in.v.data(), in.o.data(), in.lse.data(), c.batch, c.nq, c.nk, c.heads,
                        c.D, c.causal, q_offset, 0, in.bias.params);
  auto pd = dense_params(in.qd.data(), in.kd.data(), in.vd.data(), in.od.data(), in.lse_d.data(), c.batch, c.nq, c.nk,
                         c.heads, c.D, c.causal, q_offset, 0, in.bias.params);
  attention_forward(p, AttnImpl::FLASH);
  attention_forward(pd, AttnImpl::NAIVE);
  const int64_t queries = static_cast<int64_t>(c.batch) * c.heads * c.nq;
  StatsBuffers flash(c.heads, c.nk, queries), naive(c.heads, c.nk, queries);
  attention_statistics(p, flash.stats(), AttnImpl::FLASH);
  attention_statistics(pd, naive.stats(), AttnImpl::NAIVE);

  // Violations of 0 ≤ H ≤ ln(visible), counted with the worst one (not one failure per query).
  struct Violations {
    int64_t n = 0;
    double worst = 0;
    std::string where;
    void add(double excess, double tol, const std::string& at) {
      if (excess <= tol) return;
      ++n;
      if (excess / tol > worst) worst = excess / tol, where = at + ": off by " + std::to_string(excess);
    }
  } below, above;
  double min_ent = INFINITY, max_gap = -INFINITY;  // gap: H - ln(visible)
  ErrReport uniform;
  uniform.what = "entropy vs ln(visible) at uniform attention";
  uniform.atol = kEntropyAtol;
  uniform.rtol = kEntropyRtol;
  for (int b = 0; b < c.batch; ++b)
    for (int h = 0; h < c.heads; ++h)
      for (int i = 0; i < c.nq; ++i) {
        const int64_t visible = c.causal ? q_offset + i + 1 : c.nk;
        const double lnv = std::log(static_cast<double>(visible));
        const size_t at = (static_cast<size_t>(b) * c.heads + h) * c.nq + i;
        const double tol = kEntropyAtol + kEntropyRtol * lnv + kLseRound * std::fabs(in.lse_d[at]);
        // H = Σ_j P_ij (lse - logit_ij) is a sum of terms ≥ 0 whenever lse ≥ max logit
        // (true of the fp32 forward's m + log(l), l ≥ 1): only the summation
        // can take it below 0, by far less than kEntropyAtol.
        const double tol_below = kEntropyAtol;
        for (const StatsBuffers* s : {&flash, &naive}) {
          const double ent = s->entropy[at];
          const std::string where = std::string(s == &flash ? "flash" : "naive") + " b " + std::to_string(b) + " h " +
                                    std::to_string(h) + " row " + std::to_string(i) + " (H " + std::to_string(ent) +
                                    ", lse " + std::to_string(in.lse_d[at]) + ")";
          below.add(-ent, tol_below, where);
          above.add(ent - lnv, tol, where);
          EXPECT_TRUE(std::isfinite(ent)) << where;
          min_ent = std::min(min_ent, ent);
          max_gap = std::max(max_gap, ent - lnv);
          if (e.q_sigma == 0 && e.bias == BiasCase::NONE) uniform.add(ent, lnv, [&] { return where; });
        }
      }
  if (report_enabled()) std::printf("[report] entropy min %.3g, max H - ln(visible) %.3g\n", min_ent, max_gap);
  EXPECT_EQ(below.n, 0) << "entropies below 0 by more than the tolerance; worst " << below.worst << "× tol at " << below.where;
  EXPECT_EQ(above.n, 0) << "entropies above ln(visible) by more than the tolerance; worst " << above.worst << "× tol at " << above.where;
  if (e.q_sigma == 0 && e.bias == BiasCase::NONE) {
    EXPECT_TRUE(passed(uniform));
  }
  if (e.q_sigma > 10) {
    EXPECT_LT(min_ent, 1e-3) << "peaked attention should have near-zero entropy somewhere";
  }
  // And against the fp64 oracle, in these regimes too.
  EXPECT_TRUE(passed(compare_entropy("entropy (bounds cases)", flash.entropy, naive.entropy, in.lse_d)));
}

INSTANTIATE_TEST_SUITE_P(Bounds, AttentionStatsEntropyBounds,
                         ::testing::Values(EntropyCase{true, 0.0, BiasCase::NONE}, EntropyCase{false, 0.0, BiasCase::NONE},
                                           EntropyCase{true, 5.0, BiasCase::NONE}, EntropyCase{true, 30.0, BiasCase::NONE},
                                           EntropyCase{false, 30.0, BiasCase::NONE},
                                           EntropyCase{true, 1.0, BiasCase::ALIBI}, EntropyCase{true, 1.0, BiasCase::T5}),
                         [](const ::testing::TestParamInfo<EntropyCase>& info) {
                           const EntropyCase& e = info.param;
                           return std::string(e.causal ? "causal_" : "full_") + bias_name(e.bias) + "_qsigma" +
                                  std::to_string(static_cast<int>(e.q_sigma));
                         });

// Sums and counts accumulate over calls (a caller averages over sequences);
// entropy is overwritten.
TEST(AttentionStatsAccumulate, SecondCallAddsSameAmounts) {
  const StatsCase c{32, 65, 300, 2, 4, true, BiasCase::T5, -1};
  std::mt19937_64 gen(31337);
  Inputs in = make_inputs(c, gen);
  auto p = dense_params(in.q.data(), in.k.data(), in.v.data(), in.o.data(), in.lse.data(), c.batch, c.nq, c.nk, c.heads,
                        c.D, true, c.nk - c.nq, 0, in.bias.params);
  attention_forward(p, AttnImpl::FLASH);
  const int64_t queries = static_cast<int64_t>(c.batch) * c.heads * c.nq;
  StatsBuffers s(c.heads, c.nk, queries);
  attention_statistics(p, s.stats(), AttnImpl::FLASH);
  const StatsBuffers once = s;
  std::fill(s.entropy.begin(), s.entropy.end(), kNaNf);
  attention_statistics(p, s.stats(), AttnImpl::FLASH);
  for (size_t i = 0; i < s.count.size(); ++i) {
    ASSERT_EQ(s.count[i], 2 * once.count[i]) << i;
    // The same terms added again in fp64, possibly grouped differently (the
    // per-thread partial sums depend on the schedule): ε64 × count × |terms|,
    // terms O(10): 1e-13 per pair.
    const double tol = 1e-13 * static_cast<double>(once.count[i]) + 1e-14 * std::fabs(once.score[i]);
    ASSERT_NEAR(s.score[i], 2 * once.score[i], tol) << i;
    ASSERT_NEAR(s.logit[i], 2 * once.logit[i], tol + 1e-14 * std::fabs(once.logit[i])) << i;
    ASSERT_NEAR(s.prob[i], 2 * once.prob[i], tol) << i;
  }
  for (int64_t i = 0; i < queries; ++i) ASSERT_EQ(s.entropy[i], once.entropy[i]) << i;
}

}  // namespace
}  // namespace pelab
