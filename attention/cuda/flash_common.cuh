// Device helpers shared by the fp32 and bf16 flash kernels: warp reductions,
// the causal rule and the bias of one (query, key) pair.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "attention/cuda/flash_cuda.h"
#include "encodings/bias_math.h"

namespace pelab::cuda {

__device__ __forceinline__ float warp_max(float x) {
  for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
  return x;
}
__device__ __forceinline__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

// The pre-softmax logit's bias of head h at query position qpos, key kpos.
template <int kBias, typename Args>
__device__ __forceinline__ float bias_at(const Args& a, int h, int64_t qpos, int64_t kpos) {
  if constexpr (kBias == kBiasAlibi) {
    return AlibiBias{a.alibi_slopes[h], a.alibi_distance_scale}(static_cast<double>(qpos), static_cast<double>(kpos));
  } else if constexpr (kBias == kBiasTable) {
    return a.bias_table[static_cast<int64_t>(h) * a.ndist + (qpos - kpos - a.dist_min)];
  } else {
    return 0.0f;
  }
}

__device__ __forceinline__ bool visible(bool causal, int64_t qpos, int64_t kpos) { return !causal || kpos <= qpos; }

// Keys [0, key_end) are all a block of query rows [i0, i0 + rows) can see:
// with the causal mask they end at the last row's position (block skipping).
template <bool kCausal, typename Args>
__device__ __forceinline__ int64_t key_end(const Args& a, int64_t i0, int rows) {
  if (!kCausal) return a.nk;
  const int64_t last = min(i0 + rows, static_cast<int64_t>(a.nq)) - 1;
  return min(static_cast<int64_t>(a.nk), a.q_offset + last - a.k_offset + 1);
}

}  // namespace pelab::cuda
