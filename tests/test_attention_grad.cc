// The naive attention backward in fp64 (attention/naive_cpu.cc) against finite
// differences of L = Σ w ∘ O (w random, so dO = w): dQ, dK, dV, and the
// learned-bias gradients dbias of T5 and KERPLE tables, on small shapes. This
// makes the naive fp64 backward a verified oracle; test_attention.cc then holds
// the flash backward to it. Also: KERPLE's ∂bias/∂(a, b, p) against
// differences of kerple_bias, and the oracle with strided layouts against the
// dense one.
//
// Tolerances are |a - ref| <= atol + rtol·|ref| with ref the finite difference
// (shared/reference/style.md §8.1, §8.3); PELAB_ATTN_REPORT=1 prints max errors.
// Each case takes ~10-50 ms (style.md §8.3: under 1 s).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention_test_util.h"
#include "encodings/bias_math.h"

namespace pelab {
namespace {

using namespace attn_test;

// ------------------------------------------------------------ step and tolerances
//
// 4-point stencil f'(x) ≈ (-f(x+2h) + 8f(x+h) - 8f(x-h) + f(x-2h)) / 12h:
// truncation h⁴/30·|f⁽⁵⁾|, rounding ≈ (18/12)·ε64·|L|/h. For q, k, v and the
// T5 table (L is smooth; with O(1) inputs f⁽⁵⁾ = O(1..10)) h = 2^-10 gives
// ~1e-13 + 1e-13·|L|: well below the tolerance below. (Central differences with
// h = 1e-6 would leave ~1e-10·|L| rounding.) h is a power of two and the fp32
// T5 entries are multiples of 2^-10, so every perturbed entry is exact in fp32.
constexpr double kStep = 0x1p-10;
// dQ, dK, dV are fp64 throughout; the stencil's rounding (≈ 1.5·ε64·|L|/h ≈
// 3e-13·|L|, |L| ≲ 10) dominates: observed max 6e-12. atol 5e-11, rtol 1e-11.
constexpr double kGradAtol = 5e-11, kGradRtol = 1e-11;
// dbias is an fp32 table, and the oracle rounds each pair's contribution and
// sums the O(Nq·Nk) of them per (b, h) in fp32 (naive_cpu.cc `part`): error
// ≲ n·u·Σ|terms|, u = 2^-24 ≈ 6e-8, with cancellation (Σ_j dS_ij = 0). Observed
// max 1.6e-7 on entries of 0.4..4. atol 1e-6, rtol 1e-6.
constexpr double kDbiasAtol = 1e-6, kDbiasRtol = 1e-6;
// KERPLE: the bias value is computed in fp64 but stored as fp32 (KerpleBias
// returns float), so L(a, b, p) is a staircase with steps of ~u·|bias|·|∂L/∂bias|
// per pair. The stencil divides that noise by h: with n pairs of |bias| ≲ 3,
// |∂L/∂bias| ≲ 0.3, noise ≲ (18/12)·n·u·0.9/h. A larger step h = 2^-6 keeps it
// at ≲ 5e-6·n^(1/2..1) (random..aligned signs), ~1e-5 for n ≈ 60 pairs,
// while the truncation h⁴/30·f⁽⁵⁾ stays
// ~1e-9·f⁽⁵⁾ (p-derivatives carry ln(r)^5 ≲ 30 for r ≤ 8). Observed max 8.5e-6.
constexpr double kKerpleStep = 0x1p-6;
constexpr double kKerpleAtol = 3e-5, kKerpleRtol = 1e-4;

struct FdCase {
  std::string name;
  int B, H, nq, nk, D;
  bool causal;
  BiasCase bias;
  int64_t q_offset, k_offset;
};

void PrintTo(const FdCase& c, std::ostream* os) { *os << c.name; }

template <typename T, typename F>
double fd4(T& x, double h, F&& loss) {
  const T x0 = x;
  const auto set = [&](double dx) {
    x = static_cast<T>(static_cast<double>(x0) + dx);
    EXPECT_EQ(static_cast<double>(x), static_cast<double>(x0) + dx) << "finite-difference step not exact";
  };
  set(2 * h);
  const double lp2 = loss();
  set(h);
  const double lp1 = loss();
  set(-h);
  const double lm1 = loss();
  set(-2 * h);
  const double lm2 = loss();
  x = x0;
  return (-lp2 + 8 * lp1 - 8 * lm1 + lm2) / (12 * h);
}

class AttentionGradFD : public ::testing::TestWithParam<FdCase> {};

TEST_P(AttentionGradFD, NaiveFp64BackwardMatchesFiniteDifferences) {
  // The loss is evaluated ~1000 times on a tiny shape: one OpenMP thread.
  const OmpThreads one_thread(1);
  const FdCase c = GetParam();
  std::mt19937_64 gen(seed_of_name(c.name));
  const View qv = dense_view(c.B, c.nq, c.H, c.D), kv = dense_view(c.B, c.nk, c.H, c.D);
  std::vector<double> q(qv.count()), k(kv.count()), v(kv.count()), w(qv.count());
  std::normal_distribution<double> nd(0.0, 1.0);
  for (auto* x : {&q, &k, &v, &w})
    for (double& e : *x) e = nd(gen);
  // T5 with 8 buckets up to distance 12: exact buckets for small n, log-spaced
  // and saturated ones for the larger distances of these shapes.
  BiasSetup bias = make_bias(c.bias, c.H, c.causal, gen, /*quantize=*/true, /*t5_buckets=*/8, /*t5_max_distance=*/12);
  const int64_t tsize = bias.params.table_size(c.H);

  std::vector<double> o(qv.count());
  std::vector<float> lse(static_cast<size_t>(c.B) * c.H * c.nq);
  AttentionParams<double> p = dense_params(q.data(), k.data(), v.data(), o.data(), lse.data(), c.B, c.nq, c.nk, c.H, c.D,
                                           c.causal, c.q_offset, c.k_offset, bias.params);
  const auto loss = [&] {
    std::fill(o.begin(), o.end(), kNaN);
    attention_forward(p, AttnImpl::NAIVE);
    double L = 0;
    for (size_t i = 0; i < o.size(); ++i) L += w[i] * o[i];
    return L;
  };
  loss();

  // Analytic: activation gradients poisoned (overwritten), dbias from zero.
  std::vector<double> dq(q.size(), kNaN), dk(k.size(), kNaN), dv(v.size(), kNaN);
  std::vector<float> dbias(tsize, 0.0f);
  attention_backward(p, AttentionGrads<double>{w.data(), dq.data(), dk.data(), dv.data(), tsize ? dbias.data() : nullptr},
                     AttnImpl::NAIVE);

  std::vector<double> fq(q.size()), fk(k.size()), fv(v.size()), fb(tsize);
  for (size_t i = 0; i < q.size(); ++i) fq[i] = fd4(q[i], kStep, loss);
  for (size_t i = 0; i < k.size(); ++i) fk[i] = fd4(k[i], kStep, loss);
  for (size_t i = 0; i < v.size(); ++i) fv[i] = fd4(v[i], kStep, loss);
  EXPECT_TRUE(passed(compare_flat("dQ vs FD", dq.data(), fq.data(), static_cast<int64_t>(q.size()), kGradAtol, kGradRtol)));
  EXPECT_TRUE(passed(compare_flat("dK vs FD", dk.data(), fk.data(), static_cast<int64_t>(k.size()), kGradAtol, kGradRtol)));
  EXPECT_TRUE(passed(compare_flat("dV vs FD", dv.data(), fv.data(), static_cast<int64_t>(v.size()), kGradAtol, kGradRtol)));

  if (tsize) {
    const bool kerple = bias.params.kind == AttnBias::KERPLE;
    for (int64_t t = 0; t < tsize; ++t) fb[t] = fd4(bias.table[t], kerple ? kKerpleStep : kStep, loss);
    double max_fd = 0;
    for (double x : fb) max_fd = std::max(max_fd, std::fabs(x));
    EXPECT_GT(max_fd, 1e-3) << "the learned bias has no effect on L: the check would be vacuous";
    if (kerple)
      EXPECT_TRUE(passed(compare_flat("dbias (KERPLE) vs FD", dbias.data(), fb.data(), tsize, kKerpleAtol, kKerpleRtol)));
    else
      EXPECT_TRUE(passed(compare_flat("dbias (T5) vs FD", dbias.data(), fb.data(), tsize, kDbiasAtol, kDbiasRtol)));

    // dbias accumulates: a second backward adds the same gradient again.
    // Each entry gains one more fp32 rounding per (b, h) part: u·|entry|·B·H.
    std::vector<float> once = dbias;
    attention_backward(p, AttentionGrads<double>{w.data(), dq.data(), dk.data(), dv.data(), dbias.data()}, AttnImpl::NAIVE);
    std::vector<double> twice(tsize);
    double max_once = 0;
    for (int64_t t = 0; t < tsize; ++t) {
      twice[t] = 2.0 * once[t];
      max_once = std::max(max_once, std::fabs(static_cast<double>(once[t])));
    }
    EXPECT_TRUE(passed(compare_flat("dbias accumulates", dbias.data(), twice.data(), tsize,
                                    1e-7 * c.B * c.H * max_once, 1e-6)));
  }
}

std::vector<FdCase> fd_cases() {
  std::vector<FdCase> v;
  // Nq < Nk with the queries aligned to the end of the keys (q_offset = Nk - Nq),
  // and square non-causal problems; B = 2 so per-batch accumulation is covered.
  for (auto [bias, heads] : {std::pair{BiasCase::NONE, 2}, std::pair{BiasCase::ALIBI, 2}, std::pair{BiasCase::T5, 2},
                             std::pair{BiasCase::KERPLE_LOG, 2}, std::pair{BiasCase::KERPLE_POWER, 2}}) {
    v.push_back({std::string(bias_name(bias)) + "_causal_q5_k7", 2, heads, 5, 7, 4, true, bias, 2, 0});
    v.push_back({std::string(bias_name(bias)) + "_full_q6_k6", 2, heads, 6, 6, 4, false, bias, 0, 0});
  }
  // Queries before the keys (positions -2, -1 see nothing under the mask): zero gradients there.
  v.push_back({"nobias_causal_masked_rows", 2, 2, 6, 6, 3, true, BiasCase::NONE, -2, 0});
  v.push_back({"t5_causal_masked_rows", 1, 3, 6, 6, 3, true, BiasCase::T5, -2, 0});
  // Keys not starting at 0, longer distances reaching T5's saturated bucket.
  v.push_back({"t5_full_koff_long", 1, 2, 4, 24, 3, false, BiasCase::T5, 30, 10});
  v.push_back({"kerplelog_causal_koff", 1, 2, 4, 10, 3, true, BiasCase::KERPLE_LOG, 12, 6});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Naive, AttentionGradFD, ::testing::ValuesIn(fd_cases()),
                         [](const ::testing::TestParamInfo<FdCase>& info) { return info.param.name; });

// ------------------------------------------------------------ KERPLE chain rule

// kerple_bias_grad against central differences of kerple_bias (all fp64):
// h = 1e-5 relative, truncation h²/6·f''' ~ 1e-10 relative, rounding
// ε64/h ~ 1e-11 relative. Observed max 1e-9 relative. atol 1e-10, rtol 1e-8.
TEST(AttentionKerpleGrad, BiasGradMatchesFiniteDifferences) {
  ErrReport r;
  r.what = "kerple_bias_grad vs FD";
  r.atol = 1e-10;
  r.rtol = 1e-8;
  for (KerpleKind kind : {KerpleKind::LOG, KerpleKind::POWER})
    for (double dist : {0.0, 1.0, 2.0, 7.0, 100.0, -3.0, 0.5})
      for (double a : {0.5, 1.3})
        for (double b : {0.7, 2.0})
          for (double pw : {0.5, 1.0, 1.7}) {
            double g[3];
            kerple_bias_grad(kind, dist, a, b, pw, &g[0], &g[1], &g[2]);
            double x[3] = {a, b, pw};
            for (int t = 0; t < 3; ++t) {
              const double h = 1e-5 * x[t];
              double xp[3] = {a, b, pw}, xm[3] = {a, b, pw};
              xp[t] += h;
              xm[t] -= h;
              const double fd = (kerple_bias(kind, dist, xp[0], xp[1], xp[2]) - kerple_bias(kind, dist, xm[0], xm[1], xm[2])) / (2 * h);
              r.add(g[t], fd, [&] {
                return std::string(kind == KerpleKind::LOG ? "log" : "power") + " r " + std::to_string(dist) + " a " +
                       std::to_string(a) + " b " + std::to_string(b) + " p " + std::to_string(pw) + " param " +
                       std::to_string(t);
              });
            }
          }
  EXPECT_TRUE(passed(r));
}

// ------------------------------------------- the oracle with strided layouts

// The flash tests feed the oracle dense copies; here the oracle itself runs
// on padded strides and must equal its dense run up to GEMM blocking order
// (fp64: ~1e-15 relative): atol 1e-13, rtol 1e-12.
TEST(AttentionNaiveOracle, StridedEqualsDense) {
  const int B = 2, H = 3, nq = 9, nk = 13, D = 5;
  std::mt19937_64 gen(99);
  BiasSetup bias = make_bias(BiasCase::T5, H, true, gen);
  const View qd = dense_view(B, nq, H, D), kd = dense_view(B, nk, H, D);
  const View qs = padded_view(B, nq, H, D, 3, 2, 5, 1), ks = padded_view(B, nk, H, D, 1, 4, 0, 2),
             vs = padded_view(B, nk, H, D, 2, 0, 3), os = padded_view(B, nq, H, D, 4, 1, 2, 3);
  std::normal_distribution<double> nd(0.0, 1.0);
  std::vector<double> q(qd.count()), k(kd.count()), v(kd.count()), w(qd.count());
  for (auto* x : {&q, &k, &v, &w})
    for (double& e : *x) e = nd(gen);
  auto scatter = [](const std::vector<double>& dense, const View& view) {
    std::vector<double> out(view.extent(), kNaN);
    for (int b = 0; b < view.batch; ++b)
      for (int n = 0; n < view.rows; ++n)
        for (int h = 0; h < view.heads; ++h)
          for (int d = 0; d < view.dim; ++d) out[view.at(b, n, h, d)] = dense[view.dense_at(b, n, h, d)];
    return out;
  };
  auto gather = [](const std::vector<double>& buf, const View& view) {
    std::vector<double> out(view.count());
    for (int b = 0; b < view.batch; ++b)
      for (int n = 0; n < view.rows; ++n)
        for (int h = 0; h < view.heads; ++h)
          for (int d = 0; d < view.dim; ++d) out[view.dense_at(b, n, h, d)] = buf[view.at(b, n, h, d)];
    return out;
  };
  const int64_t tsize = bias.params.table_size(H);

  // Dense run.
  std::vector<double> o(qd.count(), kNaN), dq(q.size(), kNaN), dk(k.size(), kNaN), dv(v.size(), kNaN);
  std::vector<float> lse(static_cast<size_t>(B) * H * nq, kNaNf), dbias(tsize, 0.0f);
  auto p = dense_params(q.data(), k.data(), v.data(), o.data(), lse.data(), B, nq, nk, H, D, true, nk - nq, 0, bias.params);
  attention_forward(p, AttnImpl::NAIVE);
  attention_backward(p, AttentionGrads<double>{w.data(), dq.data(), dk.data(), dv.data(), dbias.data()}, AttnImpl::NAIVE);

  // Strided run.
  const std::vector<double> q2 = scatter(q, qs), k2 = scatter(k, ks), v2 = scatter(v, vs), w2 = scatter(w, os);
  std::vector<double> o2(os.extent(), kNaN), dq2(qs.extent(), kNaN), dk2(ks.extent(), kNaN), dv2(vs.extent(), kNaN);
  std::vector<float> lse2(lse.size(), kNaNf), dbias2(tsize, 0.0f);
  AttentionParams<double> ps = p;
  ps.q = q2.data() + qs.off, ps.k = k2.data() + ks.off, ps.v = v2.data() + vs.off, ps.o = o2.data() + os.off;
  ps.lse = lse2.data();
  ps.q_batch_stride = qs.bs, ps.q_row_stride = qs.rs, ps.q_head_stride = qs.hs;
  ps.k_batch_stride = ks.bs, ps.k_row_stride = ks.rs, ps.k_head_stride = ks.hs;
  ps.v_batch_stride = vs.bs, ps.v_row_stride = vs.rs, ps.v_head_stride = vs.hs;
  ps.o_batch_stride = os.bs, ps.o_row_stride = os.rs, ps.o_head_stride = os.hs;
  attention_forward(ps, AttnImpl::NAIVE);
  attention_backward(ps, AttentionGrads<double>{w2.data() + os.off, dq2.data() + qs.off, dk2.data() + ks.off, dv2.data() + vs.off, dbias2.data()},
                     AttnImpl::NAIVE);

  const double at = 1e-13, rt = 1e-12;
  const std::vector<double> og = gather(o2, os), dqg = gather(dq2, qs), dkg = gather(dk2, ks), dvg = gather(dv2, vs);
  EXPECT_TRUE(passed(compare_flat("strided O", og.data(), o.data(), static_cast<int64_t>(o.size()), at, rt)));
  EXPECT_TRUE(passed(compare_flat("strided LSE", lse2.data(), lse.data(), static_cast<int64_t>(lse.size()), 0.0, 1e-7)));
  EXPECT_TRUE(passed(compare_flat("strided dQ", dqg.data(), dq.data(), static_cast<int64_t>(dq.size()), at, rt)));
  EXPECT_TRUE(passed(compare_flat("strided dK", dkg.data(), dk.data(), static_cast<int64_t>(dk.size()), at, rt)));
  EXPECT_TRUE(passed(compare_flat("strided dV", dvg.data(), dv.data(), static_cast<int64_t>(dv.size()), at, rt)));
  EXPECT_TRUE(passed(compare_flat("strided dbias", dbias2.data(), dbias.data(), tsize, 1e-7, 1e-6)));
  // Nothing written outside the views.
  auto untouched = [](const std::vector<double>& buf, const View& view) {
    std::vector<char> covered(buf.size(), 0);
    for (int b = 0; b < view.batch; ++b)
      for (int n = 0; n < view.rows; ++n)
        for (int h = 0; h < view.heads; ++h)
          for (int d = 0; d < view.dim; ++d) covered[view.at(b, n, h, d)] = 1;
    int64_t bad = 0;
    for (size_t i = 0; i < buf.size(); ++i) bad += !covered[i] && !std::isnan(buf[i]);
    return bad;
  };
  EXPECT_EQ(untouched(o2, os), 0);
  EXPECT_EQ(untouched(dq2, qs), 0);
  EXPECT_EQ(untouched(dk2, ks), 0);
  EXPECT_EQ(untouched(dv2, vs), 0);
}

}  // namespace
}  // namespace pelab
