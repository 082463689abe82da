// Flash attention on the CPU (fp32): tiled over query and key blocks with an
// online softmax (FlashAttention-2, arXiv 2307.08691, Algorithms 1 and 2).
// Nothing of size Nq·Nk is ever allocated: per thread, a (kBQ, kBK) score tile,
// a (kBQ, D) accumulator and, in the backward, a private dQ and (kBK, D) dK/dV
// tiles; globally, K (and V for the backward) repacked transposed, O(N·D).
//
// Causal blocks above the diagonal are skipped, not masked: in a row the
// visible keys are a prefix (keys are in position order), so each row carries
// a visible-key limit and only the diagonal tiles ever see a partial row.
// Biases are evaluated inside the tile loop: ALiBi analytically, learned
// biases (T5, KERPLE) through a per-head table by distance built with the same
// functors the naive oracle calls (bias_math.h), laid out so that one row of a
// tile reads it contiguously.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "attention/attention_impl.h"
#include "attention/cpu_kernels.h"
#include "core/error.h"

namespace pelab {

namespace {

// Tile sizes, chosen by `pelab bench attention` on 2 Zen 5 cores (docs/performance.md):
// a (64, 128) score tile is 32 KB and, with the (64, D) accumulator and the
// packed (D, 128) K block, stays within L2 (1 MB) at D = 128; kBQ = 64 rows
// reuse each packed K block for 11 register tiles of 6 rows.
constexpr int kBQ = 64;
constexpr int kBK = 128;

int num_blocks(int n, int b) { return (n + b - 1) / b; }

// rows (n, D) with row stride rs -> dst (n, D) contiguous.
inline void copy_rows(const float* src, int64_t rs, int n, int D, float* dst) {
  for (int r = 0; r < n; ++r) std::memcpy(dst + static_cast<int64_t>(r) * D, src + r * rs, sizeof(float) * D);
}

// Packed operands are O(N·D) per call. They live in per-thread buffers that
// are kept between calls: a fresh allocation each call costs page faults and
// zeroing that measured ~20% of a forward at N = 4096 (perf, 1 thread).
// Slots: 0 packed Kᵀ, 1 packed V rows.
float* workspace(int slot, size_t n) {
  static thread_local std::vector<float> buffers[2];
  if (buffers[slot].size() < n) buffers[slot].resize(n);
  return buffers[slot].data();
}

// K (n rows of D, row stride ks) -> out[kb][d][t] = K[kb·kBK + t][d], zero-padded to whole blocks.
// S = Q·Kᵀ then reads contiguous rows of packed K as the GEMM's B operand.
void pack_transposed(const float* K, int64_t ks, int n, int D, float* out) {
  const int nkb = num_blocks(n, kBK);
  for (int kb = 0; kb < nkb; ++kb) {
    const int j0 = kb * kBK, bk = std::min(kBK, n - j0);
    float* blk = out + static_cast<int64_t>(kb) * D * kBK;
    for (int d = 0; d < D; ++d) {
      float* dst = blk + static_cast<int64_t>(d) * kBK;
      for (int t = 0; t < bk; ++t) dst[t] = K[(j0 + t) * ks + d];
      std::fill(dst + bk, dst + kBK, 0.0f);
    }
  }
}

// Learned bias of one head by distance, reversed so a tile row reads it
// forward: rev[k] is the bias at distance dmax - k. Distances span
// [dmin, dmax] = [q_offset - k_offset - (Nk-1), q_offset - k_offset + Nq - 1].
struct BiasTable {
  int64_t dmax = 0;
  std::vector<float> rev;  // (heads, dmax - dmin + 1)
  int64_t width = 0;
  // Bias of keys kpos0 + t (t = 0..) for query qpos, as a pointer to t = 0.
  const float* row(int h, int64_t qpos, int64_t kpos0) const {
    return rev.data() + h * width + (dmax - (qpos - kpos0));
  }
};

template <typename T>
BiasTable build_bias_table(const AttentionParams<T>& p) {
  BiasTable bt;
  if (!p.bias.learned()) return bt;
  const int64_t dmin = p.q_offset - p.k_offset - (p.nk - 1);
  bt.dmax = p.q_offset - p.k_offset + p.nq - 1;
  bt.width = bt.dmax - dmin + 1;
  bt.rev.resize(static_cast<size_t>(p.heads) * bt.width);
  for (int h = 0; h < p.heads; ++h)
    for (int64_t k = 0; k < bt.width; ++k) bt.rev[h * bt.width + k] = p.bias(h, static_cast<double>(bt.dmax - k), 0.0);
  return bt;
}

// Visible keys of a row: a prefix of the tile (causal) or the whole valid tile.
inline int visible_keys(bool causal, int64_t qpos, int64_t kpos0, int bk) {
  if (!causal) return bk;
  const int64_t lim = qpos - kpos0 + 1;
  return static_cast<int>(std::clamp<int64_t>(lim, 0, bk));
}

// Turns raw q·k of one row (n visible keys) into logits; returns their max.
inline float row_logits(const AttentionParams<float>& p, const BiasTable& bt, int h, float* s, int n, int64_t qpos,
                        int64_t kpos0) {
  if (n == 0) return -INFINITY;
  switch (p.bias.kind) {
    case AttnBias::ALIBI:
      return cpu::logits_alibi(s, n, p.softmax_scale, p.bias.alibi_slopes[h] * p.bias.alibi_distance_scale,
                               static_cast<float>(qpos - kpos0));
    case AttnBias::T5:
    case AttnBias::KERPLE:
      return cpu::logits(s, n, p.softmax_scale, bt.row(h, qpos, kpos0));
    default:
      return cpu::logits(s, n, p.softmax_scale, nullptr);
  }
}

struct Head {
  const float *q, *k, *v;
  float* o;
  float* lse;
};

Head head_of(const AttentionParams<float>& p, int b, int h) {
  return {p.q + b * p.q_batch_stride + h * p.q_head_stride, p.k + b * p.k_batch_stride + h * p.k_head_stride,
          p.v + b * p.v_batch_stride + h * p.v_head_stride, p.o ? p.o + b * p.o_batch_stride + h * p.o_head_stride : nullptr,
          p.lse + (static_cast<int64_t>(b) * p.heads + h) * p.nq};
}

// First key block a query block can see (all of them without a causal mask),
// and one past the last.
void key_block_range(const AttentionParams<float>& p, int64_t qpos_last, int nkb, int* first, int* end) {
  *first = 0;
  *end = nkb;
  if (p.causal) {
    const int64_t last_visible = qpos_last - p.k_offset;  // key index
    *end = last_visible < 0 ? 0 : std::min<int64_t>(nkb, last_visible / kBK + 1);
  }
}

const float* pack_all_transposed(const AttentionParams<float>& p, const float* base, int64_t bs, int64_t hs, int64_t rs,
                                 int slot) {
  const int D = p.head_dim, nkb = num_blocks(p.nk, kBK);
  const int64_t per_head = static_cast<int64_t>(nkb) * D * kBK;
  float* packed = workspace(slot, static_cast<size_t>(p.batch) * p.heads * per_head);
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads; ++h)
      pack_transposed(base + b * bs + h * hs, rs, p.nk, D, packed + (static_cast<int64_t>(b) * p.heads + h) * per_head);
  return packed;
}

// V (or K) of every head as contiguous zero-padded blocks (kBK, D): rows of a
// block sit D floats apart instead of H·D, which at H·D = 1024 is 4 KB, the
// L1 aliasing stride (every row would land in the same cache sets).
const float* pack_all_rows(const AttentionParams<float>& p, const float* base, int64_t bs, int64_t hs, int64_t rs, int slot) {
  const int D = p.head_dim, nkb = num_blocks(p.nk, kBK);
  const int64_t per_head = static_cast<int64_t>(nkb) * kBK * D;
  float* packed = workspace(slot, static_cast<size_t>(p.batch) * p.heads * per_head);
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads; ++h) {
      float* out = packed + (static_cast<int64_t>(b) * p.heads + h) * per_head;
      copy_rows(base + b * bs + h * hs, rs, p.nk, D, out);
      std::fill(out + static_cast<int64_t>(p.nk) * D, out + per_head, 0.0f);
    }
  return packed;
}

}  // namespace

void flash_forward_cpu(const AttentionParams<float>& p) {
  const int D = p.head_dim, nqb = num_blocks(p.nq, kBQ), nkb = num_blocks(p.nk, kBK);
  const int64_t per_head = static_cast<int64_t>(nkb) * D * kBK;
  const float* kt = pack_all_transposed(p, p.k, p.k_batch_stride, p.k_head_stride, p.k_row_stride, 0);
  const float* vb = pack_all_rows(p, p.v, p.v_batch_stride, p.v_head_stride, p.v_row_stride, 1);
  const BiasTable bt = build_bias_table(p);
  const int64_t items = static_cast<int64_t>(p.batch) * p.heads * nqb;

#pragma omp parallel
  {
    std::vector<float> S(static_cast<size_t>(kBQ) * kBK), acc(static_cast<size_t>(kBQ) * D), qblk(static_cast<size_t>(kBQ) * D);
    float m[kBQ], l[kBQ];
    // Causal work grows with the query block: hand out the last blocks first.
#pragma omp for schedule(dynamic, 1)
    for (int64_t item = 0; item < items; ++item) {
      const int qb = nqb - 1 - static_cast<int>(item % nqb);
      const int h = static_cast<int>((item / nqb) % p.heads), b = static_cast<int>(item / nqb / p.heads);
      const Head hd = head_of(p, b, h);
      const float* kt_head = kt + (static_cast<int64_t>(b) * p.heads + h) * per_head;
      const float* vb_head = vb + (static_cast<int64_t>(b) * p.heads + h) * per_head;
      const int i0 = qb * kBQ, bq = std::min(kBQ, p.nq - i0);
      const int64_t qpos0 = p.q_offset + i0;
      copy_rows(hd.q + i0 * p.q_row_stride, p.q_row_stride, bq, D, qblk.data());
      std::fill(acc.begin(), acc.begin() + static_cast<size_t>(bq) * D, 0.0f);
      std::fill(m, m + bq, -INFINITY);
      std::fill(l, l + bq, 0.0f);
      int kb_first, kb_end;
      key_block_range(p, qpos0 + bq - 1, nkb, &kb_first, &kb_end);
      for (int kb = kb_first; kb < kb_end; ++kb) {
        const int j0 = kb * kBK, bk = std::min(kBK, p.nk - j0);
        const int64_t kpos0 = p.k_offset + j0;
        // S = Q_blk · K_blkᵀ   (bq, bk)
        cpu::gemm_tile(bq, bk, D, qblk.data(), D, 1, kt_head + static_cast<int64_t>(kb) * D * kBK, kBK, S.data(), kBK,
                       /*accumulate=*/false);
        for (int r = 0; r < bq; ++r) {
          float* s = S.data() + r * kBK;
          const int64_t qpos = qpos0 + r;
          const int n = visible_keys(p.causal, qpos, kpos0, bk);
          const float tile_max = row_logits(p, bt, h, s, n, qpos, kpos0);
          const float m_new = std::max(m[r], tile_max);
          if (m_new == -INFINITY) {  // nothing visible yet: contributes nothing
            std::fill(s, s + bk, 0.0f);
            continue;
          }
          // Online softmax: rescale what was accumulated under the old max.
          const float alpha = std::exp(m[r] - m_new);  // 0 when m[r] = -inf
          const float sum = cpu::exp_sub_sum(s, n, m_new);
          std::fill(s + n, s + bk, 0.0f);
          l[r] = l[r] * alpha + sum;
          m[r] = m_new;
          if (alpha != 1.0f) {
            float* a = acc.data() + r * D;
            for (int d = 0; d < D; ++d) a[d] *= alpha;
          }
        }
        // acc += P · V_blk   (bq, D)
        cpu::gemm_tile(bq, D, bk, S.data(), kBK, 1, vb_head + static_cast<int64_t>(kb) * kBK * D, D, acc.data(), D,
                       /*accumulate=*/true);
      }
      for (int r = 0; r < bq; ++r) {
        float* o = hd.o + (i0 + r) * p.o_row_stride;
        const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
        for (int d = 0; d < D; ++d) o[d] = acc[r * D + d] * inv;
        hd.lse[i0 + r] = l[r] > 0 ? m[r] + std::log(l[r]) : -INFINITY;
      }
    }
  }
}

void flash_backward_cpu(const AttentionParams<float>& p, const AttentionGrads<float>& g) {
  const int D = p.head_dim, nqb = num_blocks(p.nq, kBQ), nkb = num_blocks(p.nk, kBK);
  const int64_t per_head = static_cast<int64_t>(nkb) * D * kBK;
  const float* kt = pack_all_transposed(p, p.k, p.k_batch_stride, p.k_head_stride, p.k_row_stride, 0);
  const float* vt = pack_all_transposed(p, p.v, p.v_batch_stride, p.v_head_stride, p.v_row_stride, 1);
  const BiasTable bt = build_bias_table(p);

  // Dr_i = rowsum(dO_i ∘ O_i): the softmax backward's row term (FA2 Alg. 2 line 4).
  std::vector<float> Drow(static_cast<size_t>(p.batch) * p.heads * p.nq);
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads; ++h)
      for (int i = 0; i < p.nq; ++i) {
        const float* o = p.o + b * p.o_batch_stride + h * p.o_head_stride + i * p.o_row_stride;
        const float* dout = g.dout + b * p.o_batch_stride + h * p.o_head_stride + i * p.o_row_stride;
        float s = 0;
        for (int d = 0; d < D; ++d) s += o[d] * dout[d];
        Drow[(static_cast<int64_t>(b) * p.heads + h) * p.nq + i] = s;
      }

  const int nthreads = omp_get_max_threads();
  // dQ gathers from every key block: each thread accumulates its own copy
  // (O(threads·N·D)), summed at the end, so no atomics. Items go to threads
  // round-robin (static, 1), not dynamically: which contributions meet in
  // which copy must not depend on timing, or repeated runs would differ in
  // the last bits and training would not be reproducible.
  const int64_t dq_size = static_cast<int64_t>(p.batch) * p.heads * p.nq * D;
  std::vector<std::vector<float>> dq_part(nthreads);
  // Learned biases: d(loss)/d(bias at distance n) per head, chained into dbias at the end.
  std::vector<std::vector<double>> dbias_by_dist(nthreads);
  const int64_t items = static_cast<int64_t>(p.batch) * p.heads * nkb;

#pragma omp parallel num_threads(nthreads)
  {
    const int tid = omp_get_thread_num();
    std::vector<float>& dq_acc = dq_part[tid];
    dq_acc.assign(dq_size, 0.0f);
    if (p.bias.learned()) dbias_by_dist[tid].assign(static_cast<size_t>(p.heads) * bt.width, 0.0);
    std::vector<float> P(static_cast<size_t>(kBQ) * kBK), dS(static_cast<size_t>(kBQ) * kBK);
    std::vector<float> dk_acc(static_cast<size_t>(kBK) * D), dv_acc(static_cast<size_t>(kBK) * D);
    // Contiguous copies of the operands read as GEMM rows (see pack_all_rows for why).
    std::vector<float> kblk(static_cast<size_t>(kBK) * D), qblk(static_cast<size_t>(kBQ) * D), doblk(static_cast<size_t>(kBQ) * D);
    int lim[kBQ];
    // Causal: early key blocks meet the most queries; round-robin spreads them.
#pragma omp for schedule(static, 1)
    for (int64_t item = 0; item < items; ++item) {
      const int kb = static_cast<int>(item % nkb);
      const int h = static_cast<int>((item / nkb) % p.heads), b = static_cast<int>(item / nkb / p.heads);
      const Head hd = head_of(p, b, h);
      const int64_t bh = static_cast<int64_t>(b) * p.heads + h;
      const float* kt_blk = kt + bh * per_head + static_cast<int64_t>(kb) * D * kBK;
      const float* vt_blk = vt + bh * per_head + static_cast<int64_t>(kb) * D * kBK;
      const float* dout = g.dout + b * p.o_batch_stride + h * p.o_head_stride;
      const float* drow = Drow.data() + bh * p.nq;
      float* dq_head = dq_acc.data() + bh * p.nq * D;
      const int j0 = kb * kBK, bk = std::min(kBK, p.nk - j0);
      const int64_t kpos0 = p.k_offset + j0;
      std::fill(dk_acc.begin(), dk_acc.end(), 0.0f);
      std::fill(dv_acc.begin(), dv_acc.end(), 0.0f);
      copy_rows(hd.k + j0 * p.k_row_stride, p.k_row_stride, bk, D, kblk.data());
      // Causal: the first query that sees key kpos0 is at position kpos0.
      const int i_first = p.causal ? static_cast<int>(std::clamp<int64_t>(kpos0 - p.q_offset, 0, p.nq)) : 0;
      for (int qb = i_first / kBQ; qb < nqb; ++qb) {
        const int i0 = qb * kBQ, bq = std::min(kBQ, p.nq - i0);
        const int64_t qpos0 = p.q_offset + i0;
        copy_rows(hd.q + i0 * p.q_row_stride, p.q_row_stride, bq, D, qblk.data());
        copy_rows(dout + i0 * p.o_row_stride, p.o_row_stride, bq, D, doblk.data());
        // recompute S = Q_blk · K_blkᵀ, then P = exp(logits - lse)
        cpu::gemm_tile(bq, bk, D, qblk.data(), D, 1, kt_blk, kBK, P.data(), kBK, false);
        for (int r = 0; r < bq; ++r) {
          float* s = P.data() + r * kBK;
          const int64_t qpos = qpos0 + r;
          lim[r] = visible_keys(p.causal, qpos, kpos0, bk);
          const float lse = hd.lse[i0 + r];
          if (lse == -INFINITY) lim[r] = 0;
          row_logits(p, bt, h, s, lim[r], qpos, kpos0);
          cpu::exp_sub_sum(s, lim[r], lse);
          std::fill(s + lim[r], s + bk, 0.0f);
        }
        // forward: O = P·V, so dV_blk += Pᵀ·dO_blk   (bk, D)
        cpu::gemm_tile(bk, D, bq, P.data(), 1, kBK, doblk.data(), D, dv_acc.data(), D, true);
        // dP = dO_blk · V_blkᵀ   (bq, bk)
        cpu::gemm_tile(bq, bk, D, doblk.data(), D, 1, vt_blk, kBK, dS.data(), kBK, false);
        // forward: P = softmax(S), so dS = P ∘ (dP - Dr)
        for (int r = 0; r < bq; ++r) {
          float* ds = dS.data() + r * kBK;
          const float* pr = P.data() + r * kBK;
          const float dr = drow[i0 + r];
          for (int t = 0; t < bk; ++t) ds[t] = pr[t] * (ds[t] - dr);
          if (p.bias.learned() && lim[r] > 0) {
            // The bias adds to S, so its gradient is dS, gathered by distance.
            double* gd = dbias_by_dist[tid].data() + h * bt.width + (bt.dmax - (qpos0 + r - kpos0));
            for (int t = 0; t < lim[r]; ++t) gd[t] += ds[t];
          }
        }
        // forward: S = scale·Q·Kᵀ, so dK_blk += dSᵀ·Q_blk and dQ_blk += dS·K_blk (scale applied at the end)
        cpu::gemm_tile(bk, D, bq, dS.data(), 1, kBK, qblk.data(), D, dk_acc.data(), D, true);
        cpu::gemm_tile(bq, D, bk, dS.data(), kBK, 1, kblk.data(), D, dq_head + i0 * D, D, true);
      }
      float* dk = g.dk + b * p.k_batch_stride + h * p.k_head_stride;
      float* dv = g.dv + b * p.v_batch_stride + h * p.v_head_stride;
      for (int t = 0; t < bk; ++t)
        for (int d = 0; d < D; ++d) {
          dk[(j0 + t) * p.k_row_stride + d] = p.softmax_scale * dk_acc[t * D + d];
          dv[(j0 + t) * p.v_row_stride + d] = dv_acc[t * D + d];
        }
    }
  }

  // dQ = scale · Σ_threads dQ_part, written into the caller's strided layout.
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.heads; ++h) {
      const int64_t bh = static_cast<int64_t>(b) * p.heads + h;
      float* dq = g.dq + b * p.q_batch_stride + h * p.q_head_stride;
      for (int i = 0; i < p.nq; ++i)
        for (int d = 0; d < D; ++d) {
          float s = 0;
          for (int t = 0; t < nthreads; ++t) s += dq_part[t][(bh * p.nq + i) * D + d];
          dq[i * p.q_row_stride + d] = p.softmax_scale * s;
        }
    }
  if (p.bias.learned()) {
    for (int h = 0; h < p.heads; ++h)
      for (int64_t k = 0; k < bt.width; ++k) {
        double gsum = 0;
        for (int t = 0; t < nthreads; ++t) gsum += dbias_by_dist[t][h * bt.width + k];
        if (gsum != 0.0) attn_bias_param_grad(p.bias, h, static_cast<double>(bt.dmax - k), gsum, g.dbias);
      }
  }
}

void flash_statistics_cpu(const AttentionParams<float>& p, const AttentionStats& st) {
  const int D = p.head_dim, nqb = num_blocks(p.nq, kBQ), nkb = num_blocks(p.nk, kBK);
  const int64_t per_head = static_cast<int64_t>(nkb) * D * kBK;
  const float* kt = pack_all_transposed(p, p.k, p.k_batch_stride, p.k_head_stride, p.k_row_stride, 0);
  const BiasTable bt = build_bias_table(p);
  const int64_t width = st.max_distance + 1;
  const int nthreads = omp_get_max_threads();
  // Per-thread sums by distance (O(threads·H·max_distance)), reduced at the end.
  std::vector<std::vector<double>> part(nthreads);
  std::vector<std::vector<int64_t>> counts(nthreads);
  const int64_t items = static_cast<int64_t>(p.batch) * p.heads * nqb;

#pragma omp parallel num_threads(nthreads)
  {
    const int tid = omp_get_thread_num();
    part[tid].assign(static_cast<size_t>(3) * p.heads * width, 0.0);
    counts[tid].assign(static_cast<size_t>(p.heads) * width, 0);
    std::vector<float> S(static_cast<size_t>(kBQ) * kBK), raw(kBK);
    double plogit[kBQ];
// static: per-thread sums must group the same items on every run (reproducible).
#pragma omp for schedule(static, 1)
    for (int64_t item = 0; item < items; ++item) {
      const int qb = nqb - 1 - static_cast<int>(item % nqb);
      const int h = static_cast<int>((item / nqb) % p.heads), b = static_cast<int>(item / nqb / p.heads);
      const Head hd = head_of(p, b, h);
      const float* kt_head = kt + (static_cast<int64_t>(b) * p.heads + h) * per_head;
      double* score = part[tid].data() + static_cast<int64_t>(h) * width;
      double* logit = score + static_cast<int64_t>(p.heads) * width;
      double* prob = logit + static_cast<int64_t>(p.heads) * width;
      int64_t* cnt = counts[tid].data() + static_cast<int64_t>(h) * width;
      const int i0 = qb * kBQ, bq = std::min(kBQ, p.nq - i0);
      const int64_t qpos0 = p.q_offset + i0;
      std::fill(plogit, plogit + bq, 0.0);
      int kb_first, kb_end;
      key_block_range(p, qpos0 + bq - 1, nkb, &kb_first, &kb_end);
      for (int kb = kb_first; kb < kb_end; ++kb) {
        const int j0 = kb * kBK, bk = std::min(kBK, p.nk - j0);
        const int64_t kpos0 = p.k_offset + j0;
        cpu::gemm_tile(bq, bk, D, hd.q + i0 * p.q_row_stride, p.q_row_stride, 1, kt_head + static_cast<int64_t>(kb) * D * kBK,
                       kBK, S.data(), kBK, false);
        for (int r = 0; r < bq; ++r) {
          float* s = S.data() + r * kBK;
          const int64_t qpos = qpos0 + r;
          const float lse = hd.lse[i0 + r];
          const int n = lse == -INFINITY ? 0 : visible_keys(p.causal, qpos, kpos0, bk);
          for (int t = 0; t < n; ++t) raw[t] = p.softmax_scale * s[t];
          row_logits(p, bt, h, s, n, qpos, kpos0);
          double pl = 0;
          for (int t = 0; t < n; ++t) {
            const float x = s[t];
            // Entropy as Σ P·(lse - logit): every term >= 0. lse - Σ P·logit would
            // cancel two numbers of size |logit| and lose fp32 digits in peaked rows.
            const float z = x - lse;
            const float pr = z < -87.3f ? 0.0f : std::exp(z);
            pl -= static_cast<double>(pr) * z;
            const int64_t dist = qpos - kpos0 - t;
            if (dist < 0 || dist > st.max_distance) continue;
            score[dist] += raw[t];
            logit[dist] += x;
            prob[dist] += pr;
            cnt[dist] += 1;
          }
          plogit[r] += pl;
        }
      }
      // H_i = -Σ P ln P = Σ P (lse - logit), accumulated above
      float* ent = st.entropy + (static_cast<int64_t>(b) * p.heads + h) * p.nq + i0;
      for (int r = 0; r < bq; ++r) ent[r] = static_cast<float>(plogit[r]);
    }
  }
  for (int t = 0; t < nthreads; ++t)
    for (int h = 0; h < p.heads; ++h)
      for (int64_t n = 0; n < width; ++n) {
        const int64_t at = h * width + n;
        st.score_sum[at] += part[t][at];
        st.logit_sum[at] += part[t][p.heads * width + at];
        st.prob_sum[at] += part[t][2 * p.heads * width + at];
        st.count[at] += counts[t][at];
      }
}

}  // namespace pelab
