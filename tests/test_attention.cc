// Attention forward and backward (attention/attention.h): the tiled fp32 flash
// kernels (flash_cpu.cc) against the materialized naive oracle in fp64
// (naive_cpu.cc), whose own backward is finite-difference checked in
// test_attention_grad.cc.
//
// The grid covers head dims {16, 32, 64, 128}; Nq = Nk in {1, 7, 63, 64, 65,
// 257, 1000} (around the 64-query and 128-key tiles); Nq != Nk with the
// queries aligned to the end of the keys; causal and not; no bias, ALiBi with
// 8 and 12 heads, learned T5 and KERPLE tables; batch > 1 with q/k/v as views
// into one (B, N, 3, H, D) qkv buffer or with padded head/row/batch strides.
// Every output and gradient buffer is poisoned with NaN first: an unwritten
// element fails the comparison, and elements outside the views (padding,
// unused slots) must still be NaN afterwards. Unused input slots are NaN too,
// so a read outside a view poisons the result.
//
// Also: causal ALiBi against an explicit -m·(i-j) fp64 reference written here
// (the exported LSE is the true one, not FlashAttention's row-shifted +m·j),
// fully masked query rows, and the error paths.
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
#include "core/error.h"
#include "attention_test_util.h"

namespace pelab {
namespace {

using namespace attn_test;

// Tolerances: attention_test_util.h (shared with the CUDA fp32 kernels' tests).

// ---------------------------------------------------------------- grid cases

enum class LayoutCase { DENSE, PACKED, PADDED };

const char* layout_name(LayoutCase l) {
  switch (l) {
    case LayoutCase::DENSE: return "dense";
    case LayoutCase::PACKED: return "qkvpacked";
    case LayoutCase::PADDED: return "padded";
  }
  return "?";
}

// Masks a case runs under (one test runs both: fewer test processes under ctest).
enum class Masks { FULL, CAUSAL, BOTH };

struct GridCase {
  int D, nq, nk, batch, heads;  // D = 0: every head dim {16, 32, 64, 128} in one test
  Masks masks;
  BiasCase bias;
  LayoutCase layout;
  int64_t k_offset = 0;  // q_offset = k_offset + nk - nq: queries aligned to the end of the keys
  float alibi_distance_scale = 1.0f;
};

std::string case_name(const GridCase& c) {
  std::string s = (c.D ? "d" + std::to_string(c.D) : std::string("dall")) + "_q" + std::to_string(c.nq) + "_k" + std::to_string(c.nk) + "_b" +
                  std::to_string(c.batch) + "_h" + std::to_string(c.heads) + (c.masks == Masks::FULL ? "_full_" : c.masks == Masks::CAUSAL ? "_causal_" : "_both_") +
                  bias_name(c.bias) + "_" + layout_name(c.layout);
  if (c.k_offset != 0) s += "_koff" + std::to_string(c.k_offset);
  if (c.alibi_distance_scale != 1.0f) s += "_dscale" + std::to_string(static_cast<int>(c.alibi_distance_scale * 100));
  return s;
}

void PrintTo(const GridCase& c, std::ostream* os) { *os << case_name(c); }

// Heads per bias: ALiBi's slope set depends on H, so it is part of the case.
std::vector<GridCase> grid_cases() {
  std::vector<GridCase> v;
  const BiasCase N0 = BiasCase::NONE;
  const Masks BOTH = Masks::BOTH, CAUSAL = Masks::CAUSAL, FULL = Masks::FULL;
  const LayoutCase DN = LayoutCase::DENSE, PK = LayoutCase::PACKED, PD = LayoutCase::PADDED;
  // 1. Every head dim × every small size, both masks; no bias, dense, B = 2, H = 2.
  for (int n : {1, 7, 63, 64, 65, 257}) v.push_back({0, n, n, 2, 2, BOTH, N0, DN});
  // 2. N = 1000 (8 key tiles, 16 query tiles with a partial last one): B = 1, H = 2.
  v.push_back({16, 1000, 1000, 1, 2, CAUSAL, N0, DN});
  v.push_back({128, 1000, 1000, 1, 2, BOTH, N0, DN});
  // 3. Nq != Nk, queries aligned to the end of the keys.
  for (auto [nq, nk] : {std::pair{65, 300}, std::pair{1, 129}, std::pair{7, 8}}) v.push_back({0, nq, nk, 2, 2, BOTH, N0, DN});
  v.push_back({64, 200, 1000, 1, 2, BOTH, N0, DN});
  // 4. Biases: every kind, both masks, square and aligned sizes; head dim and
  //    layout rotate through the cases so each bias meets each layout.
  const std::pair<int, int> sizes[] = {{7, 7}, {65, 65}, {257, 257}, {65, 300}, {1, 129}};
  const int dims[] = {16, 32, 64, 128};
  const LayoutCase layouts[] = {DN, PK, PD};
  int rot = 0;
  for (auto [bias, heads] : {std::pair{BiasCase::ALIBI, 8}, std::pair{BiasCase::ALIBI, 12}, std::pair{BiasCase::T5, 4},
                             std::pair{BiasCase::KERPLE_LOG, 3}, std::pair{BiasCase::KERPLE_POWER, 3}})
    for (auto [nq, nk] : sizes) {
      v.push_back({dims[rot % 4], nq, nk, 2, heads, BOTH, bias, layouts[rot % 3]});
      ++rot;
    }
  // 5. Biases at N = 1000 (B = 1, few heads: the T5 far bucket, KERPLE's long
  //    tail, ALiBi over long distances; 12-head ALiBi is covered up to N = 300).
  v.push_back({64, 1000, 1000, 1, 8, CAUSAL, BiasCase::ALIBI, PK});
  v.push_back({64, 1000, 1000, 1, 2, CAUSAL, BiasCase::T5, PD});
  v.push_back({16, 1000, 1000, 1, 2, FULL, BiasCase::T5, DN});
  v.push_back({32, 1000, 1000, 1, 2, CAUSAL, BiasCase::KERPLE_LOG, DN});
  v.push_back({16, 1000, 1000, 1, 2, FULL, BiasCase::KERPLE_POWER, PK});
  // 6. Strided layouts with B = 3: qkv views and padded strides, around the tile sizes.
  for (LayoutCase lay : {PK, PD})
    for (auto [nq, nk] : {std::pair{64, 64}, std::pair{65, 65}, std::pair{129, 129}, std::pair{65, 300}})
      v.push_back({nq == 129 ? 128 : 32, nq, nk, 3, 2, BOTH, N0, lay});
  // 7. Keys not starting at position 0 (a later chunk), and ALiBi with interpolated distances.
  v.push_back({64, 65, 300, 2, 8, CAUSAL, BiasCase::ALIBI, DN, 1000});
  v.push_back({64, 65, 300, 2, 4, FULL, BiasCase::T5, PD, 77});
  v.push_back({32, 130, 130, 2, 3, CAUSAL, BiasCase::KERPLE_LOG, PK, 5});
  GridCase ds{32, 257, 257, 2, 8, CAUSAL, BiasCase::ALIBI, DN};
  ds.alibi_distance_scale = 0.25f;
  v.push_back(ds);
  return v;
}

// Where q, k, v, o live: input storages 0..2 (q, k, v may share one), o its own.
struct Layout {
  View q, k, v, o;
  int qs = 0, ks = 1, vs = 2;
};

Layout make_layout(const GridCase& c) {
  const int B = c.batch, H = c.heads, D = c.D;
  Layout L;
  switch (c.layout) {
    case LayoutCase::DENSE:
      L.q = dense_view(B, c.nq, H, D);
      L.k = dense_view(B, c.nk, H, D);
      L.v = dense_view(B, c.nk, H, D);
      L.o = dense_view(B, c.nq, H, D);
      break;
    case LayoutCase::PACKED:
      // q, k, v as slots of a (B, N, 3, H, D) qkv buffer; with Nq != Nk, q in
      // slot 0 of its own (B, Nq, 3, H, D) buffer (slots 1, 2 unused) and k, v
      // in slots 1, 2 of a (B, Nk, 3, H, D) one (slot 0 unused).
      L.q = packed_view(B, c.nq, H, D, 0, 3);
      L.k = packed_view(B, c.nk, H, D, 1, 3);
      L.v = packed_view(B, c.nk, H, D, 2, 3);
      if (c.nq == c.nk) L.ks = L.vs = L.qs = 0;
      else L.vs = L.ks = 1;
      L.o = padded_view(B, c.nq, H, D, 3, 5, 7);
      break;
    case LayoutCase::PADDED:
      L.q = padded_view(B, c.nq, H, D, 5, 3, 11, 2);
      L.k = padded_view(B, c.nk, H, D, 3, 1, 0);
      L.v = padded_view(B, c.nk, H, D, 1, 7, 2, 1);
      L.o = padded_view(B, c.nq, H, D, 2, 0, 9);
      break;
  }
  return L;
}

// Storage sizes of the three input (and gradient) storages.
std::vector<size_t> storage_sizes(const Layout& L) {
  std::vector<size_t> s(3, 0);
  s[L.qs] = std::max<size_t>(s[L.qs], L.q.extent());
  s[L.ks] = std::max<size_t>(s[L.ks], L.k.extent());
  s[L.vs] = std::max<size_t>(s[L.vs], L.v.extent());
  return s;
}

std::vector<View> views_in(const Layout& L, int storage) {
  std::vector<View> v;
  if (L.qs == storage) v.push_back(L.q);
  if (L.ks == storage) v.push_back(L.k);
  if (L.vs == storage) v.push_back(L.v);
  return v;
}

class AttentionFlashVsNaive : public ::testing::TestWithParam<GridCase> {};

// One case under one mask: flash fp32 vs naive fp64, forward and backward.
void check_flash_vs_naive(const GridCase& c, bool causal) {
  const OmpThreads threads(threads_for(static_cast<int64_t>(c.batch) * c.heads * c.nq * c.nk));
  std::mt19937_64 gen(seed_of_name(case_name(c) + (causal ? "causal" : "full")));
  const int B = c.batch, H = c.heads, D = c.D;
  const int64_t q_offset = c.k_offset + c.nk - c.nq;
  const Layout L = make_layout(c);
  const std::vector<size_t> sizes = storage_sizes(L);

  // Inputs: NaN everywhere, then N(0, 1) through the views.
  std::vector<std::vector<float>> in(3);
  for (int s = 0; s < 3; ++s) in[s].assign(sizes[s], kNaNf);
  fill_normal(in[L.qs], L.q, gen);
  fill_normal(in[L.ks], L.k, gen);
  fill_normal(in[L.vs], L.v, gen);
  BiasSetup bias = make_bias(c.bias, H, causal, gen);
  bias.params.alibi_distance_scale = c.alibi_distance_scale;

  // ---- forward
  std::vector<float> o(L.o.extent(), kNaNf), lse(static_cast<size_t>(B) * H * c.nq, kNaNf);
  AttentionParams<float> p;
  p.q = in[L.qs].data() + L.q.off;
  p.k = in[L.ks].data() + L.k.off;
  p.v = in[L.vs].data() + L.v.off;
  p.o = o.data() + L.o.off;
  p.lse = lse.data();
  p.q_batch_stride = L.q.bs, p.q_row_stride = L.q.rs, p.q_head_stride = L.q.hs;
  p.k_batch_stride = L.k.bs, p.k_row_stride = L.k.rs, p.k_head_stride = L.k.hs;
  p.v_batch_stride = L.v.bs, p.v_row_stride = L.v.rs, p.v_head_stride = L.v.hs;
  p.o_batch_stride = L.o.bs, p.o_row_stride = L.o.rs, p.o_head_stride = L.o.hs;
  p.batch = B, p.heads = H, p.nq = c.nq, p.nk = c.nk, p.head_dim = D;
  p.softmax_scale = 1.0f / std::sqrt(static_cast<float>(D));
  p.causal = causal;
  p.q_offset = q_offset;
  p.k_offset = c.k_offset;
  p.bias = bias.params;
  ASSERT_NO_THROW(attention_forward(p, AttnImpl::FLASH));

  // The oracle: naive fp64 on dense copies of the same fp32 values.
  const std::vector<double> qd = to_dense_double(in[L.qs], L.q), kd = to_dense_double(in[L.ks], L.k),
                            vd = to_dense_double(in[L.vs], L.v);
  std::vector<double> od(qd.size(), kNaN);
  std::vector<float> lse_ref(lse.size(), kNaNf);
  AttentionParams<double> pd = dense_params(qd.data(), kd.data(), vd.data(), od.data(), lse_ref.data(), B, c.nq, c.nk, H,
                                            D, causal, q_offset, c.k_offset, bias.params);
  ASSERT_NO_THROW(attention_forward(pd, AttnImpl::NAIVE));

  EXPECT_TRUE(passed(compare_view("O", o, L.o, od, kOutAtol, kOutRtol)));
  EXPECT_TRUE(passed(compare_flat("LSE", lse.data(), lse_ref.data(), static_cast<int64_t>(lse.size()), kLseAtol, kLseRtol)));
  EXPECT_EQ(stray_writes(o, {L.o}), 0) << "flash forward wrote outside the o view";

  // ---- backward: dO ~ N(0, 1) in o's layout (NaN padding), gradients poisoned.
  std::vector<float> dout(o.size(), kNaNf);
  fill_normal(dout, L.o, gen);
  std::vector<std::vector<float>> grad(3);
  for (int s = 0; s < 3; ++s) grad[s].assign(sizes[s], kNaNf);
  // dbias accumulates (+=): start both from the same nonzero values and compare the increments.
  const int64_t tsize = bias.params.table_size(H);
  std::vector<float> dbias0(tsize);
  {
    std::normal_distribution<double> nd(0.0, 1.0);
    for (auto& x : dbias0) x = static_cast<float>(nd(gen));
  }
  std::vector<float> dbias = dbias0, dbias_ref = dbias0;
  AttentionGrads<float> g;
  g.dout = dout.data() + L.o.off;
  g.dq = grad[L.qs].data() + L.q.off;
  g.dk = grad[L.ks].data() + L.k.off;
  g.dv = grad[L.vs].data() + L.v.off;
  g.dbias = tsize ? dbias.data() : nullptr;
  ASSERT_NO_THROW(attention_backward(p, g, AttnImpl::FLASH));

  const std::vector<double> doutd = to_dense_double(dout, L.o);
  std::vector<double> dqd(qd.size(), kNaN), dkd(kd.size(), kNaN), dvd(vd.size(), kNaN);
  AttentionGrads<double> gd{doutd.data(), dqd.data(), dkd.data(), dvd.data(), tsize ? dbias_ref.data() : nullptr};
  ASSERT_NO_THROW(attention_backward(pd, gd, AttnImpl::NAIVE));

  EXPECT_TRUE(passed(compare_view("dQ", grad[L.qs], L.q, dqd, kGradAtol, kGradRtol)));
  EXPECT_TRUE(passed(compare_view("dK", grad[L.ks], L.k, dkd, kGradAtol, kGradRtol)));
  EXPECT_TRUE(passed(compare_view("dV", grad[L.vs], L.v, dvd, kGradAtol, kGradRtol)));
  for (int s = 0; s < 3; ++s) {
    if (grad[s].empty()) continue;
    EXPECT_EQ(stray_writes(grad[s], views_in(L, s)), 0) << "flash backward wrote outside the views, storage " << s;
  }
  if (tsize) {
    std::vector<double> inc(tsize), inc_ref(tsize);
    double max_ref = 0;
    for (int64_t t = 0; t < tsize; ++t) {
      inc[t] = static_cast<double>(dbias[t]) - dbias0[t];
      inc_ref[t] = static_cast<double>(dbias_ref[t]) - dbias0[t];
      max_ref = std::max(max_ref, std::fabs(inc_ref[t]));
    }
    EXPECT_GT(max_ref, 0.0) << "the learned bias got no gradient at all";
    EXPECT_TRUE(passed(compare_flat("dbias", inc.data(), inc_ref.data(), tsize, kDbiasRtolOfMax * max_ref, kGradRtol)));
  }
}

TEST_P(AttentionFlashVsNaive, ForwardAndBackwardMatchFp64Oracle) {
  const GridCase c = GetParam();
  for (int D : {16, 32, 64, 128}) {
    if (c.D != 0 && D != c.D) continue;
    GridCase one = c;
    one.D = D;
    for (bool causal : {false, true}) {
      if (c.masks != Masks::BOTH && causal != (c.masks == Masks::CAUSAL)) continue;
      SCOPED_TRACE("D = " + std::to_string(D) + (causal ? ", causal" : ", full"));
      check_flash_vs_naive(one, causal);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Grid, AttentionFlashVsNaive, ::testing::ValuesIn(grid_cases()),
                         [](const ::testing::TestParamInfo<GridCase>& info) { return case_name(info.param); });

// -------------------------------------------- the naive fp32 baseline

// The naive implementation in fp32 (the benchmark's baseline) against itself
// in fp64: the same fp32-vs-fp64 error budget as flash (GEMM sums over D, Nk
// and Nq terms in fp32), so the same tolerances.
class AttentionNaiveFp32 : public ::testing::TestWithParam<GridCase> {};

TEST_P(AttentionNaiveFp32, MatchesFp64) {
  const GridCase c = GetParam();
  const bool causal = c.masks == Masks::CAUSAL;
  const OmpThreads threads(threads_for(static_cast<int64_t>(c.batch) * c.heads * c.nq * c.nk));
  std::mt19937_64 gen(seed_of_name("naive32_" + case_name(c)));
  const int B = c.batch, H = c.heads, D = c.D;
  const int64_t q_offset = c.nk - c.nq;
  const View qv = dense_view(B, c.nq, H, D), kv = dense_view(B, c.nk, H, D);
  std::vector<float> q(qv.count()), k(kv.count()), v(kv.count()), dout(qv.count());
  fill_normal(q, qv, gen);
  fill_normal(k, kv, gen);
  fill_normal(v, kv, gen);
  fill_normal(dout, qv, gen);
  BiasSetup bias = make_bias(c.bias, H, causal, gen);
  const int64_t tsize = bias.params.table_size(H);
  std::vector<float> o(q.size(), kNaNf), lse(static_cast<size_t>(B) * H * c.nq, kNaNf), dq(q.size(), kNaNf),
      dk(k.size(), kNaNf), dv(v.size(), kNaNf), dbias(tsize, 0.0f);
  auto p = dense_params(q.data(), k.data(), v.data(), o.data(), lse.data(), B, c.nq, c.nk, H, D, causal, q_offset, 0,
                        bias.params);
  attention_forward(p, AttnImpl::NAIVE);
  attention_backward(p, AttentionGrads<float>{dout.data(), dq.data(), dk.data(), dv.data(), tsize ? dbias.data() : nullptr},
                     AttnImpl::NAIVE);
  const std::vector<double> qd(q.begin(), q.end()), kd(k.begin(), k.end()), vd(v.begin(), v.end()),
      doutd(dout.begin(), dout.end());
  std::vector<double> od(q.size(), kNaN), dqd(q.size(), kNaN), dkd(k.size(), kNaN), dvd(v.size(), kNaN);
  std::vector<float> lse_ref(lse.size(), kNaNf), dbias_ref(tsize, 0.0f);
  auto pd = dense_params(qd.data(), kd.data(), vd.data(), od.data(), lse_ref.data(), B, c.nq, c.nk, H, D, causal,
                         q_offset, 0, bias.params);
  attention_forward(pd, AttnImpl::NAIVE);
  attention_backward(pd, AttentionGrads<double>{doutd.data(), dqd.data(), dkd.data(), dvd.data(), tsize ? dbias_ref.data() : nullptr},
                     AttnImpl::NAIVE);
  EXPECT_TRUE(passed(compare_view("naive32 O", o, qv, od, kOutAtol, kOutRtol)));
  EXPECT_TRUE(passed(compare_flat("naive32 LSE", lse.data(), lse_ref.data(), static_cast<int64_t>(lse.size()), kLseAtol, kLseRtol)));
  EXPECT_TRUE(passed(compare_view("naive32 dQ", dq, qv, dqd, kGradAtol, kGradRtol)));
  EXPECT_TRUE(passed(compare_view("naive32 dK", dk, kv, dkd, kGradAtol, kGradRtol)));
  EXPECT_TRUE(passed(compare_view("naive32 dV", dv, kv, dvd, kGradAtol, kGradRtol)));
  if (tsize) {
    double mx = 0;
    for (float x : dbias_ref) mx = std::max(mx, std::fabs(static_cast<double>(x)));
    EXPECT_TRUE(passed(compare_flat("naive32 dbias", dbias.data(), dbias_ref.data(), tsize, kDbiasRtolOfMax * mx, kGradRtol)));
  }
}

INSTANTIATE_TEST_SUITE_P(Baseline, AttentionNaiveFp32,
                         ::testing::Values(GridCase{64, 64, 64, 2, 2, Masks::FULL, BiasCase::NONE, LayoutCase::DENSE},
                                           GridCase{32, 257, 257, 2, 4, Masks::CAUSAL, BiasCase::T5, LayoutCase::DENSE},
                                           GridCase{128, 65, 300, 2, 8, Masks::FULL, BiasCase::ALIBI, LayoutCase::DENSE},
                                           GridCase{16, 130, 130, 1, 3, Masks::CAUSAL, BiasCase::KERPLE_LOG, LayoutCase::DENSE}),
                         [](const ::testing::TestParamInfo<GridCase>& info) { return case_name(info.param); });

// ------------------------------------------------ ALiBi: the true -m·(i-j) bias

// Written out here, independent of the bias functors: logits
// scale·q·k - ds·m_h·|qpos - kpos| (causal: kpos <= qpos, so -m·(i-j)) and
// LSE = log Σ_j exp(logit_j), in fp64. FlashAttention's causal kernel adds the
// row-shifted +m·j instead, which leaves P unchanged but gives LSE + m·i.
void alibi_reference(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
                     const std::vector<float>& slopes, double ds, int B, int nq, int nk, int H, int D, bool causal,
                     int64_t q_offset, std::vector<double>& o, std::vector<double>& lse) {
  o.assign(static_cast<size_t>(B) * nq * H * D, 0.0);
  lse.assign(static_cast<size_t>(B) * H * nq, 0.0);
  const double scale = 1.0f / std::sqrt(static_cast<float>(D));  // the fp32 softmax_scale of dense()
  std::vector<double> s(nk);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < nq; ++i) {
        const int64_t qpos = q_offset + i;
        double mx = -INFINITY;
        for (int j = 0; j < nk; ++j) {
          if (causal && j > qpos) {
            s[j] = -INFINITY;
            continue;
          }
          double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += q[((static_cast<size_t>(b) * nq + i) * H + h) * D + d] * k[((static_cast<size_t>(b) * nk + j) * H + h) * D + d];
          s[j] = scale * dot - ds * static_cast<double>(slopes[h]) * std::fabs(static_cast<double>(qpos - j));
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < nk; ++j) sum += std::exp(s[j] - mx);
        lse[(static_cast<size_t>(b) * H + h) * nq + i] = mx + std::log(sum);
        for (int j = 0; j < nk; ++j) {
          const double pj = std::exp(s[j] - mx) / sum;
          for (int d = 0; d < D; ++d)
            o[((static_cast<size_t>(b) * nq + i) * H + h) * D + d] += pj * v[((static_cast<size_t>(b) * nk + j) * H + h) * D + d];
        }
      }
}

struct AlibiCase {
  int heads, nq, nk;
  bool causal;
  float distance_scale;
};

void PrintTo(const AlibiCase& c, std::ostream* os) {
  *os << "H " << c.heads << ", Nq " << c.nq << ", Nk " << c.nk << (c.causal ? ", causal" : ", full")
      << ", distance scale " << c.distance_scale;
}

class AttentionAlibiTrueBias : public ::testing::TestWithParam<AlibiCase> {};

// Naive fp64 vs the explicit reference: both sum in fp64, but the oracle's
// bias is the fp32 functor value (fp32 slope times fp32 distance, one
// rounding: |δ| ≤ u·m·|i-j|, u = 2^-24), up to 6e-8·0.7·300 ≈ 1e-5 on far keys
// where P is negligible. O and LSE move by Σ_j P_ij·δ_j·O(|v|) ≈ u·E_P[m|i-j|]
// ≈ 1e-7; the exported LSE is fp32 (u·|LSE| ≲ 4e-7 for |LSE| ≲ 6). Observed
// max: 7e-8 (O), 2.4e-7 (LSE).
constexpr double kExplicitAtol = 5e-7, kExplicitRtol = 5e-7;

TEST_P(AttentionAlibiTrueBias, LseIsTheTrueLogSumExp) {
  const AlibiCase c = GetParam();
  const int B = 2, D = 32, H = c.heads;
  const OmpThreads threads(threads_for(static_cast<int64_t>(B) * H * c.nq * c.nk));
  const int64_t q_offset = c.nk - c.nq;
  std::mt19937_64 gen(4242 + H + c.nq);
  std::vector<float> q(static_cast<size_t>(B) * c.nq * H * D), k(static_cast<size_t>(B) * c.nk * H * D), v(k.size());
  fill_normal(q, dense_view(B, c.nq, H, D), gen);
  fill_normal(k, dense_view(B, c.nk, H, D), gen);
  fill_normal(v, dense_view(B, c.nk, H, D), gen);
  BiasSetup bias = make_bias(BiasCase::ALIBI, H, c.causal, gen);
  bias.params.alibi_distance_scale = c.distance_scale;

  const std::vector<double> qd(q.begin(), q.end()), kd(k.begin(), k.end()), vd(v.begin(), v.end());
  std::vector<double> o_exp, lse_exp;
  alibi_reference(qd, kd, vd, bias.slopes, c.distance_scale, B, c.nq, c.nk, H, D, c.causal, q_offset, o_exp, lse_exp);

  // Naive fp64.
  std::vector<double> od(qd.size(), kNaN);
  std::vector<float> lse_naive(lse_exp.size(), kNaNf);
  auto pd = dense_params(qd.data(), kd.data(), vd.data(), od.data(), lse_naive.data(), B, c.nq, c.nk, H, D, c.causal,
                         q_offset, 0, bias.params);
  attention_forward(pd, AttnImpl::NAIVE);
  EXPECT_TRUE(passed(compare_flat("naive O vs explicit", od.data(), o_exp.data(), static_cast<int64_t>(od.size()),
                                  kExplicitAtol, kExplicitRtol)));
  EXPECT_TRUE(passed(compare_flat("naive LSE vs explicit", lse_naive.data(), lse_exp.data(),
                                  static_cast<int64_t>(lse_exp.size()), kExplicitAtol, kExplicitRtol)));

  // Flash fp32, with the grid's tolerances.
  std::vector<float> o(q.size(), kNaNf), lse(lse_exp.size(), kNaNf);
  auto p = dense_params(q.data(), k.data(), v.data(), o.data(), lse.data(), B, c.nq, c.nk, H, D, c.causal, q_offset, 0,
                        bias.params);
  attention_forward(p, AttnImpl::FLASH);
  EXPECT_TRUE(passed(compare_flat("flash O vs explicit", o.data(), o_exp.data(), static_cast<int64_t>(o.size()),
                                  kOutAtol, kOutRtol)));
  EXPECT_TRUE(passed(compare_flat("flash LSE vs explicit", lse.data(), lse_exp.data(), static_cast<int64_t>(lse.size()),
                                  kLseAtol, kLseRtol)));

  // The check is sharp: the row-shifted LSE (true + ds·m·qpos) is off by far more than the tolerance.
  if (c.causal) {
    const double shift = c.distance_scale * bias.slopes[H - 1] * static_cast<double>(q_offset + c.nq - 1);
    EXPECT_GT(shift, 100 * (kLseAtol + kLseRtol * std::fabs(lse_exp.back())));
  }
}

INSTANTIATE_TEST_SUITE_P(Alibi, AttentionAlibiTrueBias,
                         ::testing::Values(AlibiCase{8, 300, 300, true, 1.0f}, AlibiCase{12, 300, 300, true, 1.0f},
                                           AlibiCase{8, 65, 300, true, 1.0f}, AlibiCase{12, 1, 129, true, 1.0f},
                                           AlibiCase{8, 200, 200, true, 0.25f}, AlibiCase{8, 65, 300, false, 1.0f}),
                         [](const ::testing::TestParamInfo<AlibiCase>& info) {
                           const AlibiCase& c = info.param;
                           return "h" + std::to_string(c.heads) + "_q" + std::to_string(c.nq) + "_k" +
                                  std::to_string(c.nk) + (c.causal ? "_causal" : "_full") +
                                  (c.distance_scale != 1.0f ? "_dscale25" : "");
                         });

// ------------------------------------------------------- fully masked rows

struct MaskedCase {
  int n;             // Nq = Nk
  int64_t q_offset;  // negative: the first -q_offset queries see no key
  BiasCase bias;
};

void PrintTo(const MaskedCase& c, std::ostream* os) {
  *os << "N " << c.n << ", q_offset " << c.q_offset << ", " << bias_name(c.bias);
}

class AttentionMaskedRows : public ::testing::TestWithParam<MaskedCase> {};

// A query at position q_offset + i < 0 sees no key under the causal mask:
// O = 0 and LSE = -inf in both implementations (exactly), its dQ = 0, and the
// visible rows still match the oracle.
TEST_P(AttentionMaskedRows, OutputZeroLseMinusInf) {
  const MaskedCase c = GetParam();
  const int B = 2, H = 2, D = 16, N = c.n;
  const OmpThreads threads(threads_for(static_cast<int64_t>(B) * H * N * N));
  const int masked = static_cast<int>(std::min<int64_t>(-c.q_offset, N));
  std::mt19937_64 gen(777 + N);
  const View dv = dense_view(B, N, H, D);
  std::vector<float> q(dv.count()), k(dv.count()), v(dv.count()), dout(dv.count());
  fill_normal(q, dv, gen);
  fill_normal(k, dv, gen);
  fill_normal(v, dv, gen);
  fill_normal(dout, dv, gen);
  BiasSetup bias = make_bias(c.bias, H, true, gen);
  const int64_t tsize = bias.params.table_size(H);

  std::vector<float> o(dv.count(), kNaNf), lse(static_cast<size_t>(B) * H * N, kNaNf);
  auto p = dense_params(q.data(), k.data(), v.data(), o.data(), lse.data(), B, N, N, H, D, true, c.q_offset, 0, bias.params);
  attention_forward(p, AttnImpl::FLASH);
  std::vector<float> dq(dv.count(), kNaNf), dk(dv.count(), kNaNf), dvv(dv.count(), kNaNf), dbias(tsize, 0.0f);
  attention_backward(p, AttentionGrads<float>{dout.data(), dq.data(), dk.data(), dvv.data(), tsize ? dbias.data() : nullptr},
                     AttnImpl::FLASH);

  const std::vector<double> qd(q.begin(), q.end()), kd(k.begin(), k.end()), vd(v.begin(), v.end()),
      doutd(dout.begin(), dout.end());
  std::vector<double> od(dv.count(), kNaN), dqd(dv.count(), kNaN), dkd(dv.count(), kNaN), dvd(dv.count(), kNaN);
  std::vector<float> lse_ref(lse.size(), kNaNf), dbias_ref(tsize, 0.0f);
  auto pd = dense_params(qd.data(), kd.data(), vd.data(), od.data(), lse_ref.data(), B, N, N, H, D, true, c.q_offset, 0,
                         bias.params);
  attention_forward(pd, AttnImpl::NAIVE);
  attention_backward(pd, AttentionGrads<double>{doutd.data(), dqd.data(), dkd.data(), dvd.data(), tsize ? dbias_ref.data() : nullptr},
                     AttnImpl::NAIVE);

  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < masked; ++i) {
        const size_t li = (static_cast<size_t>(b) * H + h) * N + i;
        EXPECT_EQ(lse[li], -INFINITY) << "flash LSE, b " << b << " h " << h << " row " << i;
        EXPECT_EQ(lse_ref[li], -INFINITY) << "naive LSE, b " << b << " h " << h << " row " << i;
        for (int d = 0; d < D; ++d) {
          const int64_t at = dv.at(b, i, h, d);
          ASSERT_EQ(o[at], 0.0f) << "flash O, b " << b << " h " << h << " row " << i << " d " << d;
          ASSERT_EQ(od[at], 0.0) << "naive O, b " << b << " h " << h << " row " << i << " d " << d;
          ASSERT_EQ(dq[at], 0.0f) << "flash dQ, b " << b << " h " << h << " row " << i << " d " << d;
          ASSERT_EQ(dqd[at], 0.0) << "naive dQ, b " << b << " h " << h << " row " << i << " d " << d;
        }
      }
  // Everything (masked rows included: -inf == -inf, 0 == 0) against the oracle.
  EXPECT_TRUE(passed(compare_view("O", o, dv, od, kOutAtol, kOutRtol)));
  EXPECT_TRUE(passed(compare_flat("LSE", lse.data(), lse_ref.data(), static_cast<int64_t>(lse.size()), kLseAtol, kLseRtol)));
  EXPECT_TRUE(passed(compare_view("dQ", dq, dv, dqd, kGradAtol, kGradRtol)));
  EXPECT_TRUE(passed(compare_view("dK", dk, dv, dkd, kGradAtol, kGradRtol)));
  EXPECT_TRUE(passed(compare_view("dV", dvv, dv, dvd, kGradAtol, kGradRtol)));
  if (tsize) {
    double mx = 0;
    for (float x : dbias_ref) mx = std::max(mx, std::fabs(static_cast<double>(x)));
    EXPECT_TRUE(passed(compare_flat("dbias", dbias.data(), dbias_ref.data(), tsize, kDbiasRtolOfMax * mx, kGradRtol)));
  }
}

INSTANTIATE_TEST_SUITE_P(Masked, AttentionMaskedRows,
                         ::testing::Values(MaskedCase{20, -5, BiasCase::NONE}, MaskedCase{200, -5, BiasCase::NONE},
                                           MaskedCase{200, -70, BiasCase::ALIBI}, MaskedCase{150, -5, BiasCase::T5},
                                           MaskedCase{150, -130, BiasCase::KERPLE_LOG}, MaskedCase{10, -10, BiasCase::NONE}),
                         [](const ::testing::TestParamInfo<MaskedCase>& info) {
                           return "n" + std::to_string(info.param.n) + "_masked" + std::to_string(-info.param.q_offset) +
                                  "_" + bias_name(info.param.bias);
                         });

// --------------------------------------------------------------- error paths

struct SmallProblem {
  static constexpr int B = 1, N = 4, H = 2, D = 8;
  std::vector<float> q, k, v, o, lse, dout, dq, dk, dv;
  std::vector<double> qd, kd, vd, od, doutd, dqd, dkd, dvd;
  SmallProblem() {
    const size_t n = static_cast<size_t>(B) * N * H * D;
    for (auto* x : {&q, &k, &v, &o, &dout, &dq, &dk, &dv}) x->assign(n, 0.5f);
    for (auto* x : {&qd, &kd, &vd, &od, &doutd, &dqd, &dkd, &dvd}) x->assign(n, 0.5);
    lse.assign(static_cast<size_t>(B) * H * N, 0.0f);
  }
  AttentionParams<float> pf() { return AttentionParams<float>::dense(q.data(), k.data(), v.data(), o.data(), lse.data(), B, N, N, H, D, true); }
  AttentionParams<double> pd() { return AttentionParams<double>::dense(qd.data(), kd.data(), vd.data(), od.data(), lse.data(), B, N, N, H, D, true); }
  AttentionGrads<float> gf() { return {dout.data(), dq.data(), dk.data(), dv.data(), nullptr}; }
  AttentionGrads<double> gd() { return {doutd.data(), dqd.data(), dkd.data(), dvd.data(), nullptr}; }
};

AttentionStats stats_of(std::vector<double>& sums, std::vector<int64_t>& count, std::vector<float>& entropy, int64_t maxd) {
  AttentionStats s;
  s.max_distance = maxd;
  s.score_sum = sums.data();
  s.logit_sum = sums.data() + 2 * (maxd + 1);
  s.prob_sum = sums.data() + 4 * (maxd + 1);
  s.count = count.data();
  s.entropy = entropy.data();
  return s;
}

TEST(AttentionErrors, FlashInDoubleThrows) {
  SmallProblem sp;
  EXPECT_NO_THROW(attention_forward(sp.pd(), AttnImpl::NAIVE));
  EXPECT_THROW(attention_forward(sp.pd(), AttnImpl::FLASH), pelab::Error);
  EXPECT_THROW(attention_backward(sp.pd(), sp.gd(), AttnImpl::FLASH), pelab::Error);
  std::vector<double> sums(6 * 4);
  std::vector<int64_t> count(2 * 4);
  std::vector<float> entropy(8);
  EXPECT_THROW(attention_statistics(sp.pd(), stats_of(sums, count, entropy, 3), AttnImpl::FLASH), pelab::Error);
}

TEST(AttentionErrors, CudaDeviceThrows) {
  SmallProblem sp;
  std::vector<double> sums(6 * 4);
  std::vector<int64_t> count(2 * 4);
  std::vector<float> entropy(8);
  for (AttnImpl impl : {AttnImpl::NAIVE, AttnImpl::FLASH}) {
    EXPECT_THROW(attention_forward(sp.pf(), impl, AttnDevice::CUDA), pelab::Error);
    EXPECT_THROW(attention_backward(sp.pf(), sp.gf(), impl, AttnDevice::CUDA), pelab::Error);
    EXPECT_THROW(attention_statistics(sp.pf(), stats_of(sums, count, entropy, 3), impl, AttnDevice::CUDA), pelab::Error);
    EXPECT_THROW(attention_forward(sp.pd(), impl, AttnDevice::CUDA), pelab::Error);
  }
}

TEST(AttentionErrors, MissingPointersThrow) {
  const OmpThreads one_thread(1);
  SmallProblem sp;
  for (AttnImpl impl : {AttnImpl::NAIVE, AttnImpl::FLASH}) {
    SCOPED_TRACE(to_string(impl));
    auto p = sp.pf();
    ASSERT_NO_THROW(attention_forward(p, impl));
    ASSERT_NO_THROW(attention_backward(p, sp.gf(), impl));
    for (int field = 0; field < 5; ++field) {
      auto bad = sp.pf();
      if (field == 0) bad.q = nullptr;
      if (field == 1) bad.k = nullptr;
      if (field == 2) bad.v = nullptr;
      if (field == 3) bad.o = nullptr;
      if (field == 4) bad.lse = nullptr;
      EXPECT_THROW(attention_forward(bad, impl), pelab::Error) << "forward, field " << field;
      EXPECT_THROW(attention_backward(bad, sp.gf(), impl), pelab::Error) << "backward, field " << field;
    }
    for (int field = 0; field < 4; ++field) {
      auto g = sp.gf();
      if (field == 0) g.dout = nullptr;
      if (field == 1) g.dq = nullptr;
      if (field == 2) g.dk = nullptr;
      if (field == 3) g.dv = nullptr;
      EXPECT_THROW(attention_backward(p, g, impl), pelab::Error) << "backward grads, field " << field;
    }
    // Biases without their data; a learned bias without dbias in the backward.
    auto alibi = sp.pf();
    alibi.bias.kind = AttnBias::ALIBI;
    EXPECT_THROW(attention_forward(alibi, impl), pelab::Error);
    std::vector<float> table(2 * 32, 0.1f), dbias(2 * 32, 0.0f);
    for (AttnBias kind : {AttnBias::T5, AttnBias::KERPLE}) {
      auto learned = sp.pf();
      learned.bias.kind = kind;
      EXPECT_THROW(attention_forward(learned, impl), pelab::Error);
      learned.bias.table = table.data();
      ASSERT_NO_THROW(attention_forward(learned, impl));
      EXPECT_THROW(attention_backward(learned, sp.gf(), impl), pelab::Error);
      auto g = sp.gf();
      g.dbias = dbias.data();
      EXPECT_NO_THROW(attention_backward(learned, g, impl));
    }
    // Statistics: every buffer is required.
    std::vector<double> sums(6 * 4);
    std::vector<int64_t> count(2 * 4);
    std::vector<float> entropy(8);
    for (int field = 0; field < 5; ++field) {
      AttentionStats s = stats_of(sums, count, entropy, 3);
      if (field == 0) s.score_sum = nullptr;
      if (field == 1) s.logit_sum = nullptr;
      if (field == 2) s.prob_sum = nullptr;
      if (field == 3) s.count = nullptr;
      if (field == 4) s.entropy = nullptr;
      EXPECT_THROW(attention_statistics(p, s, impl), pelab::Error) << "statistics, field " << field;
    }
    auto nolse = sp.pf();
    nolse.lse = nullptr;
    EXPECT_THROW(attention_statistics(nolse, stats_of(sums, count, entropy, 3), impl), pelab::Error);
  }
}

TEST(AttentionErrors, BadSizesThrow) {
  SmallProblem sp;
  for (int field = 0; field < 5; ++field) {
    auto p = sp.pf();
    if (field == 0) p.batch = 0;
    if (field == 1) p.heads = 0;
    if (field == 2) p.nq = 0;
    if (field == 3) p.nk = -1;
    if (field == 4) p.head_dim = 0;
    EXPECT_THROW(attention_forward(p, AttnImpl::FLASH), pelab::Error) << "field " << field;
    EXPECT_THROW(attention_forward(p, AttnImpl::NAIVE), pelab::Error) << "field " << field;
  }
  auto p = sp.pf();
  p.softmax_scale = 0.0f;
  EXPECT_THROW(attention_forward(p, AttnImpl::FLASH), pelab::Error);
  p = sp.pf();
  p.q_head_stride = SmallProblem::D - 1;  // heads overlapping the contiguous head dim
  EXPECT_THROW(attention_forward(p, AttnImpl::FLASH), pelab::Error);
}

}  // namespace
}  // namespace pelab
