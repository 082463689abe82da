// fp32 flash attention on CUDA cores (no tensor cores): the GPU path that is
// checked against the CPU oracle at 1e-5, and the reference for the bf16
// tensor-core kernels. O(N) memory: nothing of size Nq·Nk exists.
//
// One skeleton for the three kernels: a block of kWarps warps owns kRows rows
// per warp of the "own" tensor (queries for forward and dQ, keys for dK/dV);
// it sweeps tiles of 32 rows of the "other" tensor staged in shared memory,
// lane l handling other-row l of the tile (its logit), and each lane keeps
// D/32 columns of the accumulators (lane l owns columns l, l+32, ...). Rows
// are exchanged with warp shuffles, so no score tile ever touches memory.
//
//   forward:  O_i = Σ_j P_ij V_j,  P_ij = exp(s_ij - lse_i),  s_ij = scale·q_i·k_j + bias(i, j)
//   dQ:       dQ_i = scale·Σ_j dS_ij K_j,  dS_ij = P_ij (dO_i·V_j - δ_i),  δ_i = dO_i·O_i
//   dK, dV:   dK_j = scale·Σ_i dS_ij Q_i,  dV_j = Σ_i P_ij dO_i
// (FlashAttention-2, arXiv 2307.08691, Alg. 1 and 2; dQ in its own pass, as
// FA2's deterministic mode, so no atomics on dQ.)
//
// Biases: kBiasAlibi computes the ALiBi functor in the kernel; kBiasTable reads
// the true bias of head h at distance n = qpos - kpos from a (H, ndist) table
// built by the same functors (T5, KERPLE) before the launch.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "attention/cuda/flash_common.cuh"

namespace pelab::cuda {

inline constexpr int kWarps = 4;  // warps per block
inline constexpr int kRows = 4;   // own rows per warp: 16 per block
inline constexpr int kTile = 32;  // other rows per tile: one per lane
inline constexpr int kBlockRows = kWarps * kRows;

// Shared tiles of 32 "other" rows are read two ways: lane l reads row l at
// column d (a dot product), and every lane reads one row at its own columns
// (an accumulation). Storing element (r, d) at r·D + (d XOR r) keeps both
// conflict-free without padding (D is a multiple of 32, so the XOR stays in
// the row and maps lanes to distinct banks), which keeps the dQ and dK/dV
// kernels' four tiles within the 48 KB of static shared memory at D = 128.
template <int D>
__device__ __forceinline__ int sw(int r, int d) {
  return r * D + (d ^ (r & 31));
}

// Copies rows [r0, r0 + rows) of one (batch, head) of a strided tensor into a
// shared tile (swizzled or plain row-major); rows at or past `limit` are zero.
template <int D, bool kSwizzle>
__device__ __forceinline__ void load_tile(float* tile, int rows, const float* base, int64_t row_stride, int64_t r0,
                                          int64_t limit) {
  for (int e = threadIdx.x; e < rows * D; e += blockDim.x) {
    const int r = e / D, d = e % D;
    const int64_t row = r0 + r;
    tile[kSwizzle ? sw<D>(r, d) : e] = row < limit ? base[row * row_stride + d] : 0.0f;
  }
}

// ------------------------------------------------------------------ forward

// grid (ceil(Nq / 16), H, B), block 128.
template <int D, int kBias, bool kCausal>
__global__ void __launch_bounds__(kWarps * 32) flash_fp32_forward_kernel(FlashCudaArgs a) {
  constexpr int kCols = D / 32;
  __shared__ float qs[kBlockRows][D];  // own rows: every lane reads the same element (broadcast)
  __shared__ float ks[kTile * D];      // swizzled (sw)
  __shared__ float vs[kTile * D];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int h = blockIdx.y, b = blockIdx.z;
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * kBlockRows;
  const float* q = a.q + b * a.q_batch_stride + h * a.q_head_stride;
  const float* k = a.k + b * a.k_batch_stride + h * a.k_head_stride;
  const float* v = a.v + b * a.v_batch_stride + h * a.v_head_stride;
  load_tile<D, false>(&qs[0][0], kBlockRows, q, a.q_row_stride, i0, a.nq);

  float acc[kRows][kCols], m[kRows], l[kRows];
  #pragma unroll
  for (int r = 0; r < kRows; ++r) {
    m[r] = -INFINITY;
    l[r] = 0.0f;
    #pragma unroll
    for (int c = 0; c < kCols; ++c) acc[r][c] = 0.0f;
  }
  const int64_t kend = key_end<kCausal>(a, i0, kBlockRows);
  for (int64_t j0 = 0; j0 < kend; j0 += kTile) {
    __syncthreads();
    load_tile<D, true>(ks, kTile, k, a.k_row_stride, j0, a.nk);
    load_tile<D, true>(vs, kTile, v, a.v_row_stride, j0, a.nk);
    __syncthreads();
    const int64_t j = j0 + lane, kpos = a.k_offset + j;
    float s[kRows];
    #pragma unroll
    for (int r = 0; r < kRows; ++r) s[r] = 0.0f;
    for (int d = 0; d < D; ++d) {
      const float kv = ks[sw<D>(lane, d)];
      #pragma unroll
      for (int r = 0; r < kRows; ++r) s[r] = fmaf(qs[warp * kRows + r][d], kv, s[r]);
    }
    #pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int64_t i = i0 + warp * kRows + r, qpos = a.q_offset + i;
      const bool ok = j < a.nk && i < a.nq && visible(kCausal, qpos, kpos);
      const float x = ok ? s[r] * a.scale + bias_at<kBias>(a, h, qpos, kpos) : -INFINITY;
      const float m_new = fmaxf(m[r], warp_max(x));
      if (m_new == -INFINITY) continue;  // nothing visible yet
      const float alpha = expf(m[r] - m_new);  // 0 when m[r] = -inf
      const float p = ok ? expf(x - m_new) : 0.0f;
      l[r] = l[r] * alpha + warp_sum(p);
      m[r] = m_new;
      #pragma unroll
      for (int c = 0; c < kCols; ++c) acc[r][c] *= alpha;
      #pragma unroll 4
      for (int jj = 0; jj < kTile; ++jj) {
        const float pj = __shfl_sync(0xffffffffu, p, jj);
        #pragma unroll
        for (int c = 0; c < kCols; ++c) acc[r][c] = fmaf(pj, vs[sw<D>(jj, lane + 32 * c)], acc[r][c]);
      }
    }
  }
  #pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t i = i0 + warp * kRows + r;
    if (i >= a.nq) break;
    float* o = a.o + b * a.o_batch_stride + i * a.o_row_stride + h * a.o_head_stride;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;  // a fully masked row outputs 0
    #pragma unroll
    for (int c = 0; c < kCols; ++c) o[lane + 32 * c] = acc[r][c] * inv;
    if (lane == 0) a.lse[(static_cast<int64_t>(b) * a.heads + h) * a.nq + i] = l[r] > 0.0f ? m[r] + logf(l[r]) : -INFINITY;
  }
}

// ------------------------------------------------------------------ backward: dQ (and the bias gradient)

// grid (ceil(Nq / 16), H, B), block 128. Needs lse and delta (B, H, Nq).
template <int D, int kBias, bool kCausal>
__global__ void __launch_bounds__(kWarps * 32) flash_fp32_dq_kernel(FlashCudaArgs a) {
  constexpr int kCols = D / 32;
  __shared__ float qs[kBlockRows][D];
  __shared__ float dos[kBlockRows][D];
  __shared__ float ks[kTile * D];  // swizzled (sw)
  __shared__ float vs[kTile * D];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int h = blockIdx.y, b = blockIdx.z;
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * kBlockRows;
  const float* q = a.q + b * a.q_batch_stride + h * a.q_head_stride;
  const float* k = a.k + b * a.k_batch_stride + h * a.k_head_stride;
  const float* v = a.v + b * a.v_batch_stride + h * a.v_head_stride;
  const float* dout = a.dout + b * a.o_batch_stride + h * a.o_head_stride;
  load_tile<D, false>(&qs[0][0], kBlockRows, q, a.q_row_stride, i0, a.nq);
  load_tile<D, false>(&dos[0][0], kBlockRows, dout, a.o_row_stride, i0, a.nq);

  const int64_t bh = static_cast<int64_t>(b) * a.heads + h;
  float lse[kRows], delta[kRows], acc[kRows][kCols];
  #pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t i = i0 + warp * kRows + r;
    lse[r] = i < a.nq ? a.lse[bh * a.nq + i] : -INFINITY;
    delta[r] = i < a.nq ? a.delta[bh * a.nq + i] : 0.0f;
    #pragma unroll
    for (int c = 0; c < kCols; ++c) acc[r][c] = 0.0f;
  }
  const int64_t kend = key_end<kCausal>(a, i0, kBlockRows);
  for (int64_t j0 = 0; j0 < kend; j0 += kTile) {
    __syncthreads();
    load_tile<D, true>(ks, kTile, k, a.k_row_stride, j0, a.nk);
    load_tile<D, true>(vs, kTile, v, a.v_row_stride, j0, a.nk);
    __syncthreads();
    const int64_t j = j0 + lane, kpos = a.k_offset + j;
    float s[kRows], dp[kRows];
    #pragma unroll
    for (int r = 0; r < kRows; ++r) s[r] = dp[r] = 0.0f;
    for (int d = 0; d < D; ++d) {
      const float kv = ks[sw<D>(lane, d)], vv = vs[sw<D>(lane, d)];
      #pragma unroll
      for (int r = 0; r < kRows; ++r) {
        s[r] = fmaf(qs[warp * kRows + r][d], kv, s[r]);
        dp[r] = fmaf(dos[warp * kRows + r][d], vv, dp[r]);
      }
    }
    #pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int64_t i = i0 + warp * kRows + r, qpos = a.q_offset + i;
      const bool ok = j < a.nk && i < a.nq && lse[r] != -INFINITY && visible(kCausal, qpos, kpos);
      const float p = ok ? expf(s[r] * a.scale + bias_at<kBias>(a, h, qpos, kpos) - lse[r]) : 0.0f;
      const float ds = p * (dp[r] - delta[r]);
      if constexpr (kBias == kBiasTable) {
        if (ok && ds != 0.0f) atomicAdd(&a.dbias_table[h * a.ndist + (qpos - kpos - a.dist_min)], static_cast<double>(ds));
      }
      #pragma unroll 4
      for (int jj = 0; jj < kTile; ++jj) {
        const float dsj = __shfl_sync(0xffffffffu, ds, jj);
        #pragma unroll
        for (int c = 0; c < kCols; ++c) acc[r][c] = fmaf(dsj, ks[sw<D>(jj, lane + 32 * c)], acc[r][c]);
      }
    }
  }
  #pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t i = i0 + warp * kRows + r;
    if (i >= a.nq) break;
    float* dq = a.dq + b * a.q_batch_stride + i * a.q_row_stride + h * a.q_head_stride;
    #pragma unroll
    for (int c = 0; c < kCols; ++c) dq[lane + 32 * c] = acc[r][c] * a.scale;
  }
}

// ------------------------------------------------------------------ backward: dK, dV

// grid (ceil(Nk / 16), H, B), block 128: the block owns 16 keys and sweeps the
// queries that can see them.
template <int D, int kBias, bool kCausal>
__global__ void __launch_bounds__(kWarps * 32) flash_fp32_dkv_kernel(FlashCudaArgs a) {
  constexpr int kCols = D / 32;
  __shared__ float ks[kBlockRows][D];
  __shared__ float vs[kBlockRows][D];
  __shared__ float qs[kTile * D];  // swizzled (sw)
  __shared__ float dos[kTile * D];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int h = blockIdx.y, b = blockIdx.z;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * kBlockRows;
  const float* q = a.q + b * a.q_batch_stride + h * a.q_head_stride;
  const float* k = a.k + b * a.k_batch_stride + h * a.k_head_stride;
  const float* v = a.v + b * a.v_batch_stride + h * a.v_head_stride;
  const float* dout = a.dout + b * a.o_batch_stride + h * a.o_head_stride;
  load_tile<D, false>(&ks[0][0], kBlockRows, k, a.k_row_stride, j0, a.nk);
  load_tile<D, false>(&vs[0][0], kBlockRows, v, a.v_row_stride, j0, a.nk);

  const int64_t bh = static_cast<int64_t>(b) * a.heads + h;
  float dk[kRows][kCols], dv[kRows][kCols];
  #pragma unroll
  for (int r = 0; r < kRows; ++r)
    #pragma unroll
    for (int c = 0; c < kCols; ++c) dk[r][c] = dv[r][c] = 0.0f;
  // A causal block's keys are seen from the query at the first key's position on.
  int64_t istart = 0;
  if (kCausal) {
    const int64_t first = a.k_offset + j0 - a.q_offset;
    istart = first > 0 ? first / kTile * kTile : 0;
  }
  for (int64_t t0 = istart; t0 < a.nq; t0 += kTile) {
    __syncthreads();
    load_tile<D, true>(qs, kTile, q, a.q_row_stride, t0, a.nq);
    load_tile<D, true>(dos, kTile, dout, a.o_row_stride, t0, a.nq);
    __syncthreads();
    const int64_t i = t0 + lane, qpos = a.q_offset + i;
    const float lse = i < a.nq ? a.lse[bh * a.nq + i] : -INFINITY;
    const float delta = i < a.nq ? a.delta[bh * a.nq + i] : 0.0f;
    float s[kRows], dp[kRows];
    #pragma unroll
    for (int r = 0; r < kRows; ++r) s[r] = dp[r] = 0.0f;
    for (int d = 0; d < D; ++d) {
      const float qv = qs[sw<D>(lane, d)], dov = dos[sw<D>(lane, d)];
      #pragma unroll
      for (int r = 0; r < kRows; ++r) {
        s[r] = fmaf(qv, ks[warp * kRows + r][d], s[r]);
        dp[r] = fmaf(dov, vs[warp * kRows + r][d], dp[r]);
      }
    }
    #pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const int64_t j = j0 + warp * kRows + r, kpos = a.k_offset + j;
      const bool ok = i < a.nq && j < a.nk && lse != -INFINITY && visible(kCausal, qpos, kpos);
      const float p = ok ? expf(s[r] * a.scale + bias_at<kBias>(a, h, qpos, kpos) - lse) : 0.0f;
      const float ds = p * (dp[r] - delta);
      #pragma unroll 4
      for (int ii = 0; ii < kTile; ++ii) {
        const float pi = __shfl_sync(0xffffffffu, p, ii), dsi = __shfl_sync(0xffffffffu, ds, ii);
        #pragma unroll
        for (int c = 0; c < kCols; ++c) {
          dv[r][c] = fmaf(pi, dos[sw<D>(ii, lane + 32 * c)], dv[r][c]);
          dk[r][c] = fmaf(dsi, qs[sw<D>(ii, lane + 32 * c)], dk[r][c]);
        }
      }
    }
  }
  #pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t j = j0 + warp * kRows + r;
    if (j >= a.nk) break;
    float* dkp = a.dk + b * a.k_batch_stride + j * a.k_row_stride + h * a.k_head_stride;
    float* dvp = a.dv + b * a.v_batch_stride + j * a.v_row_stride + h * a.v_head_stride;
    #pragma unroll
    for (int c = 0; c < kCols; ++c) {
      dkp[lane + 32 * c] = dk[r][c] * a.scale;
      dvp[lane + 32 * c] = dv[r][c];
    }
  }
}

// ------------------------------------------------------------------ launchers

template <int D, int kBias, bool kCausal>
void flash_fp32_forward(const FlashCudaArgs& a, cudaStream_t stream) {
  const dim3 grid((a.nq + kBlockRows - 1) / kBlockRows, a.heads, a.batch);
  flash_fp32_forward_kernel<D, kBias, kCausal><<<grid, kWarps * 32, 0, stream>>>(a);
}

template <int D, int kBias, bool kCausal>
void flash_fp32_backward(const FlashCudaArgs& a, cudaStream_t stream) {
  const dim3 gq((a.nq + kBlockRows - 1) / kBlockRows, a.heads, a.batch);
  flash_fp32_dq_kernel<D, kBias, kCausal><<<gq, kWarps * 32, 0, stream>>>(a);
  const dim3 gk((a.nk + kBlockRows - 1) / kBlockRows, a.heads, a.batch);
  flash_fp32_dkv_kernel<D, kBias, kCausal><<<gk, kWarps * 32, 0, stream>>>(a);
}

#define PELAB_FLASH_FP32_INSTANTIATE(D, BIAS, CAUSAL)                                           \
  template void flash_fp32_forward<D, BIAS, CAUSAL>(const FlashCudaArgs&, cudaStream_t);        \
  template void flash_fp32_backward<D, BIAS, CAUSAL>(const FlashCudaArgs&, cudaStream_t);

}  // namespace pelab::cuda

