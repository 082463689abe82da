// bf16 flash attention forward on tensor cores: mma.sync m16n8k16 (bf16
// inputs, fp32 accumulators), FlashAttention-2's forward (arXiv 2307.08691
// Alg. 1) with the split over queries: a block of 4 warps owns 64 query rows,
// 16 per warp, and sweeps key tiles of kBN rows staged in shared memory.
//
// Per warp and key tile: S (16 x kBN) = Q·Kᵀ in fp32 fragments; scale, bias and
// mask per element; online softmax on the rows (each row's values live in the
// 4 lanes of a quad); P rounded to bf16 and fed straight back as the A operand
// of O += P·V (the m16n8 accumulator layout of two adjacent n-tiles is the
// m16k16 A layout), so S and P never leave registers.
//
// Fragment layouts (PTX ISA, mma.m16n8k16, .bf16): g = lane / 4, t = lane % 4.
//   A (16 x 16, row): a0 (g, 2t..2t+1), a1 (g+8, 2t..), a2 (g, 2t+8..), a3 (g+8, 2t+8..)
//   B (16 x 8, col):  b0 (k 2t..2t+1, n g), b1 (k 2t+8.., n g)
//   C (16 x 8):       c0, c1 (g, 2t..2t+1), c2, c3 (g+8, 2t..2t+1)
// Shared rows are padded by 8 bf16 (16 bytes) so the 8 rows a fragment load
// touches fall in distinct banks. V is stored transposed (Vt[d][key]) so the B
// operand of P·V is a contiguous pair of keys.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "attention/cuda/flash_common.cuh"

namespace pelab::cuda {

inline constexpr int kBf16Warps = 4;
inline constexpr int kBf16BM = 16 * kBf16Warps;  // query rows per block

__device__ __forceinline__ void mma_bf16_16816(float c[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                               uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);  // .x = lo: the lower column in the lower half
  return *reinterpret_cast<const uint32_t*>(&v);
}

__device__ __forceinline__ uint32_t ld_pair(const __nv_bfloat16* p) { return *reinterpret_cast<const uint32_t*>(p); }

// grid (ceil(Nq / 64), H, B), block 128.
template <int D, int kBias, bool kCausal>
__global__ void __launch_bounds__(kBf16Warps * 32) flash_bf16_forward_kernel(FlashArgs<__nv_bfloat16> a) {
  constexpr int kBN = D <= 64 ? 64 : 32;  // keys per tile: 48 KB of static shared memory at most
  constexpr int kPitch = D + 8, kVtPitch = kBN + 8;
  constexpr int kNT = kBN / 8;  // n-tiles of S
  constexpr int kDT = D / 8;    // n-tiles of O
  __shared__ __align__(16) __nv_bfloat16 qs[kBf16BM * kPitch];
  __shared__ __align__(16) __nv_bfloat16 ks[kBN * kPitch];
  __shared__ __align__(16) __nv_bfloat16 vt[D * kVtPitch];

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
  const int h = blockIdx.y, b = blockIdx.z;
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * kBf16BM;
  const __nv_bfloat16* q = a.q + b * a.q_batch_stride + h * a.q_head_stride;
  const __nv_bfloat16* k = a.k + b * a.k_batch_stride + h * a.k_head_stride;
  const __nv_bfloat16* v = a.v + b * a.v_batch_stride + h * a.v_head_stride;
  const __nv_bfloat16 zero = __float2bfloat16(0.0f);
  for (int e = threadIdx.x; e < kBf16BM * D; e += blockDim.x) {
    const int r = e / D, d = e % D;
    const int64_t row = i0 + r;
    qs[r * kPitch + d] = row < a.nq ? q[row * a.q_row_stride + d] : zero;
  }

  // Rows this thread holds: g and g + 8 of the warp's 16.
  const int64_t row_lo = i0 + warp * 16 + g, row_hi = row_lo + 8;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  float o[kDT][4];
#pragma unroll
  for (int dn = 0; dn < kDT; ++dn) o[dn][0] = o[dn][1] = o[dn][2] = o[dn][3] = 0.0f;

  const int64_t kend = key_end<kCausal>(a, i0, kBf16BM);
  const __nv_bfloat16* qw = qs + warp * 16 * kPitch;
  for (int64_t j0 = 0; j0 < kend; j0 += kBN) {
    __syncthreads();
    for (int e = threadIdx.x; e < kBN * D; e += blockDim.x) {
      const int r = e / D, d = e % D;
      const int64_t row = j0 + r;
      const bool in = row < a.nk;
      ks[r * kPitch + d] = in ? k[row * a.k_row_stride + d] : zero;
      vt[d * kVtPitch + r] = in ? v[row * a.v_row_stride + d] : zero;
    }
    __syncthreads();

    // S = Q·Kᵀ for the warp's 16 rows.
    float s[kNT][4];
#pragma unroll
    for (int nt = 0; nt < kNT; ++nt) {
      s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        const int c0 = kk * 16 + 2 * t;
        const __nv_bfloat16* kr = ks + (nt * 8 + g) * kPitch;
        mma_bf16_16816(s[nt], ld_pair(qw + g * kPitch + c0), ld_pair(qw + (g + 8) * kPitch + c0),
                       ld_pair(qw + g * kPitch + c0 + 8), ld_pair(qw + (g + 8) * kPitch + c0 + 8), ld_pair(kr + c0),
                       ld_pair(kr + c0 + 8));
      }
    }
    // Logits, masks and the online softmax, row by row (half 0: row g, half 1: row g + 8).
    float alpha[2];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t i = half ? row_hi : row_lo, qpos = a.q_offset + i;
      float mx = -INFINITY;
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int64_t j = j0 + nt * 8 + 2 * t + e, kpos = a.k_offset + j;
          const bool ok = i < a.nq && j < a.nk && visible(kCausal, qpos, kpos);
          float& x = s[nt][2 * half + e];
          x = ok ? x * a.scale + bias_at<kBias>(a, h, qpos, kpos) : -INFINITY;
          mx = fmaxf(mx, x);
        }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[half], mx);
      // Nothing visible yet: keep the state (exp(-inf - -inf) would be NaN).
      alpha[half] = m_new == -INFINITY ? 1.0f : expf(m[half] - m_new);
      float sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < kNT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float& x = s[nt][2 * half + e];
          x = x == -INFINITY ? 0.0f : expf(x - m_new);
          sum += x;
        }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      l[half] = l[half] * alpha[half] + sum;
      m[half] = m_new;
    }
#pragma unroll
    for (int dn = 0; dn < kDT; ++dn) {
      o[dn][0] *= alpha[0], o[dn][1] *= alpha[0];
      o[dn][2] *= alpha[1], o[dn][3] *= alpha[1];
    }
    // O += P·V: P's accumulators of n-tiles 2kk and 2kk+1 are the A fragment of k-step kk.
#pragma unroll
    for (int kk = 0; kk < kBN / 16; ++kk) {
      const uint32_t a0 = pack_bf16(s[2 * kk][0], s[2 * kk][1]), a1 = pack_bf16(s[2 * kk][2], s[2 * kk][3]);
      const uint32_t a2 = pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]), a3 = pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int dn = 0; dn < kDT; ++dn) {
        const __nv_bfloat16* vr = vt + (dn * 8 + g) * kVtPitch + kk * 16 + 2 * t;
        mma_bf16_16816(o[dn], a0, a1, a2, a3, ld_pair(vr), ld_pair(vr + 8));
      }
    }
  }

  // O / l, LSE; a fully masked row outputs 0 and LSE -inf.
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int64_t i = half ? row_hi : row_lo;
    if (i >= a.nq) continue;
    const float inv = l[half] > 0.0f ? 1.0f / l[half] : 0.0f;
    __nv_bfloat16* orow = a.o + b * a.o_batch_stride + i * a.o_row_stride + h * a.o_head_stride;
#pragma unroll
    for (int dn = 0; dn < kDT; ++dn) {
      orow[dn * 8 + 2 * t] = __float2bfloat16(o[dn][2 * half] * inv);
      orow[dn * 8 + 2 * t + 1] = __float2bfloat16(o[dn][2 * half + 1] * inv);
    }
    if (t == 0) a.lse[(static_cast<int64_t>(b) * a.heads + h) * a.nq + i] = l[half] > 0.0f ? m[half] + logf(l[half]) : -INFINITY;
  }
}

template <int D, int kBias, bool kCausal>
void flash_bf16_forward(const FlashArgs<__nv_bfloat16>& a, cudaStream_t stream) {
  const dim3 grid((a.nq + kBf16BM - 1) / kBf16BM, a.heads, a.batch);
  flash_bf16_forward_kernel<D, kBias, kCausal><<<grid, kBf16Warps * 32, 0, stream>>>(a);
}

#define PELAB_FLASH_BF16_INSTANTIATE(D, BIAS, CAUSAL) \
  template void flash_bf16_forward<D, BIAS, CAUSAL>(const FlashArgs<__nv_bfloat16>&, cudaStream_t);

}  // namespace pelab::cuda
