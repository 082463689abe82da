// The CUDA fp32 flash kernels against the CPU's fp64 naive oracle on the same
// fp32 inputs: O, LSE, dQ, dK, dV and the learned bias gradient, over head dims
// {32, 64, 128}, lengths around the tile sizes (16 rows, 32-row tiles), Nq != Nk
// with both alignments, causal or not, every bias. Tolerances and their
// derivation: tests/attention_test_util.h (the CPU flash kernel's, same error
// sources). Skips without a usable device.
#include <cuda_runtime.h>

#include <random>
#include <string>
#include <vector>

#include "attention_test_util.h"
#include "core/error.h"
#include "gpu_test_util.h"

namespace pelab {
namespace {

using namespace attn_test;

// A device copy of a host vector, freed at scope exit.
template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(const std::vector<T>& h) : n(h.size()) {
    if (n == 0) return;
    EXPECT_EQ(cudaMalloc(&p, n * sizeof(T)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  std::vector<T> host() const {
    std::vector<T> h(n);
    if (n) EXPECT_EQ(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
  }
};

struct GpuCase {
  int D, nq, nk;
  bool causal;
  BiasCase bias;
  int64_t q_offset, k_offset;  // q_offset < 0: aligned to the end of the keys (nk - nq)
  bool padded = false;
  int B = 2, H = 3;
  std::string name() const {
    return "D" + std::to_string(D) + "_q" + std::to_string(nq) + "_k" + std::to_string(nk) + (causal ? "_causal" : "_full") +
           "_" + bias_name(bias) + "_qo" + std::to_string(q_offset) + "_ko" + std::to_string(k_offset) +
           (padded ? "_padded" : "") + "_B" + std::to_string(B) + "_H" + std::to_string(H);
  }
};

void run_case(const GpuCase& c) {
  SCOPED_TRACE(c.name());
  const int B = c.B, H = c.H;
  const int D = c.D;
  std::mt19937_64 gen(seed_of_name(c.name()));
  const View qv = c.padded ? padded_view(B, c.nq, H, D, 3, 5, 7) : dense_view(B, c.nq, H, D);
  const View kv = c.padded ? padded_view(B, c.nk, H, D, 1, 2, 3) : dense_view(B, c.nk, H, D);
  std::vector<float> q(qv.extent(), kNaNf), k(kv.extent(), kNaNf), v(kv.extent(), kNaNf), dout(qv.extent(), kNaNf);
  fill_normal(q, qv, gen);
  fill_normal(k, kv, gen);
  fill_normal(v, kv, gen);
  fill_normal(dout, qv, gen);
  BiasSetup bias = make_bias(c.bias, H, c.causal, gen);
  const int64_t q_offset = c.q_offset < 0 ? c.nk - c.nq : c.q_offset;

  // The oracle.
  const std::vector<double> qd = to_dense_double(q, qv), kd = to_dense_double(k, kv), vd = to_dense_double(v, kv),
                            dod = to_dense_double(dout, qv);
  std::vector<double> od(qd.size()), dqd(qd.size()), dkd(kd.size()), dvd(kd.size());
  std::vector<float> lse_ref(static_cast<size_t>(B) * H * c.nq);
  const int64_t tsize = bias.params.table_size(H);
  std::vector<float> dbias_ref(tsize, 0.0f);
  {
    AttentionParams<double> pd = dense_params(qd.data(), kd.data(), vd.data(), od.data(), lse_ref.data(), B, c.nq, c.nk,
                                              H, D, c.causal, q_offset, c.k_offset, bias.params);
    attention_forward(pd, AttnImpl::NAIVE);
    AttentionGrads<double> gd{dod.data(), dqd.data(), dkd.data(), dvd.data(), tsize ? dbias_ref.data() : nullptr};
    attention_backward(pd, gd, AttnImpl::NAIVE);
  }

  // The GPU: outputs poisoned with NaN, dbias starting from zero (it accumulates).
  Dev<float> dq_in(q), dk_in(k), dv_in(v), ddout(dout);
  Dev<float> d_o(std::vector<float>(qv.extent(), kNaNf)), d_lse(std::vector<float>(lse_ref.size(), kNaNf));
  Dev<float> d_dq(std::vector<float>(qv.extent(), kNaNf)), d_dk(std::vector<float>(kv.extent(), kNaNf)),
      d_dv(std::vector<float>(kv.extent(), kNaNf));
  Dev<float> d_slopes(bias.slopes), d_table(bias.table), d_dbias(std::vector<float>(tsize, 0.0f));
  AttentionParams<float> p;
  p.q = dq_in.p + qv.off, p.k = dk_in.p + kv.off, p.v = dv_in.p + kv.off;
  p.o = d_o.p + qv.off, p.lse = d_lse.p;
  p.q_batch_stride = qv.bs, p.q_row_stride = qv.rs, p.q_head_stride = qv.hs;
  p.k_batch_stride = kv.bs, p.k_row_stride = kv.rs, p.k_head_stride = kv.hs;
  p.v_batch_stride = kv.bs, p.v_row_stride = kv.rs, p.v_head_stride = kv.hs;
  p.o_batch_stride = qv.bs, p.o_row_stride = qv.rs, p.o_head_stride = qv.hs;
  p.batch = B, p.heads = H, p.nq = c.nq, p.nk = c.nk, p.head_dim = D;
  p.softmax_scale = 1.0f / std::sqrt(static_cast<float>(D));
  p.causal = c.causal;
  p.q_offset = q_offset, p.k_offset = c.k_offset;
  p.bias = bias.params;
  p.bias.alibi_slopes = d_slopes.p;
  p.bias.table = d_table.p;
  ASSERT_NO_THROW(attention_forward(p, AttnImpl::FLASH, AttnDevice::CUDA));
  AttentionGrads<float> g{ddout.p + qv.off, d_dq.p + qv.off, d_dk.p + kv.off, d_dv.p + kv.off, tsize ? d_dbias.p : nullptr};
  ASSERT_NO_THROW(attention_backward(p, g, AttnImpl::FLASH, AttnDevice::CUDA));

  const std::vector<float> o = d_o.host(), lse = d_lse.host(), dq = d_dq.host(), dk = d_dk.host(), dv = d_dv.host();
  EXPECT_TRUE(passed(compare_view("O", o, qv, od, kOutAtol, kOutRtol)));
  EXPECT_TRUE(passed(compare_flat("LSE", lse.data(), lse_ref.data(), static_cast<int64_t>(lse.size()), kLseAtol, kLseRtol)));
  EXPECT_TRUE(passed(compare_view("dQ", dq, qv, dqd, kGradAtol, kGradRtol)));
  EXPECT_TRUE(passed(compare_view("dK", dk, kv, dkd, kGradAtol, kGradRtol)));
  EXPECT_TRUE(passed(compare_view("dV", dv, kv, dvd, kGradAtol, kGradRtol)));
  EXPECT_EQ(stray_writes(o, {qv}), 0) << "the forward wrote outside o's view";
  EXPECT_EQ(stray_writes(dq, {qv}), 0);
  EXPECT_EQ(stray_writes(dk, {kv}), 0);
  EXPECT_EQ(stray_writes(dv, {kv}), 0);
  if (tsize) {
    const std::vector<float> dbias = d_dbias.host();
    double mx = 0;
    for (float x : dbias_ref) mx = std::max(mx, std::fabs(static_cast<double>(x)));
    EXPECT_TRUE(passed(compare_flat("dbias", dbias.data(), dbias_ref.data(), tsize, kDbiasRtolOfMax * mx, kGradRtol)));
  }
}

class FlashCudaGrid : public ::testing::TestWithParam<std::tuple<int, bool, BiasCase>> {};

TEST_P(FlashCudaGrid, MatchesTheFp64Oracle) {
  PELAB_REQUIRE_GPU();
  const auto [D, causal, bias] = GetParam();
  // Lengths around the 16-row blocks and 32-row tiles; Nq != Nk both ways.
  const std::vector<std::pair<int, int>> sizes = {{1, 1}, {7, 7}, {16, 16}, {33, 33}, {100, 100}, {257, 257}, {40, 130}, {130, 40}};
  for (auto [nq, nk] : sizes) run_case({D, nq, nk, causal, bias, -1, 0});
}

INSTANTIATE_TEST_SUITE_P(, FlashCudaGrid,
                         ::testing::Combine(::testing::Values(32, 64, 128), ::testing::Bool(),
                                            ::testing::Values(BiasCase::NONE, BiasCase::ALIBI, BiasCase::T5,
                                                              BiasCase::KERPLE_LOG, BiasCase::KERPLE_POWER)),
                         [](const auto& info) {
                           return "D" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_causal_" : "_full_") + bias_name(std::get<2>(info.param));
                         });

TEST(FlashCuda, StridedLayoutsAndOffsets) {
  PELAB_REQUIRE_GPU();
  run_case({64, 70, 90, true, BiasCase::ALIBI, -1, 0, /*padded=*/true});
  run_case({128, 50, 50, false, BiasCase::T5, -1, 0, true});
  // Keys start after the first queries: causal rows 0..4 see nothing (O = 0, LSE = -inf, no gradient).
  run_case({32, 40, 40, true, BiasCase::NONE, 0, 5});
  run_case({64, 40, 40, true, BiasCase::KERPLE_LOG, 0, 5});
  // Chunked evaluation: the last 33 queries of 300 positions.
  run_case({64, 33, 300, true, BiasCase::T5, 267, 0});
}

// More (batch, head, query) rows than one launch of the δ = rowsum(dO∘O)
// kernel covers without a grid-stride loop (65,535 blocks x 8 rows = 524,280):
// 64 x 32 x 257 = 526,336 rows. Before the loop, the last rows of δ were
// never written and dQ, dK came out wrong there.
TEST(FlashCuda, BackwardWithMoreRowsThanOneGrid) {
  PELAB_REQUIRE_GPU();
  GpuCase c{32, 257, 257, true, BiasCase::NONE, -1, 0};
  c.B = 64;
  c.H = 32;
  run_case(c);
}

TEST(FlashCuda, BadCallsThrowOneClearError) {
  PELAB_REQUIRE_GPU();
  std::vector<float> h(2 * 8 * 64, 0.5f), lse(2 * 8, 0.0f);
  AttentionParams<float> p = AttentionParams<float>::dense(h.data(), h.data(), h.data(), h.data(), lse.data(), 1, 8, 8, 2, 64, true);
  try {
    attention_forward(p, AttnImpl::FLASH, AttnDevice::CUDA);
    ADD_FAILURE() << "host pointers accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("device memory"), std::string::npos) << e.what();
  }
  Dev<float> d(std::vector<float>(2 * 8 * 48, 0.5f)), dl(lse);
  AttentionParams<float> p48 = AttentionParams<float>::dense(d.p, d.p, d.p, d.p, dl.p, 1, 8, 8, 2, 48, true);
  EXPECT_THROW(attention_forward(p48, AttnImpl::FLASH, AttnDevice::CUDA), Error) << "head dim 48 is not built";
  EXPECT_THROW(attention_forward(p48, AttnImpl::NAIVE, AttnDevice::CUDA), Error) << "naive is CPU only";
}

}  // namespace
}  // namespace pelab
