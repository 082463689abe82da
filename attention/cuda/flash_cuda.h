// Internal to attention/cuda: the kernel arguments (device pointers and the
// sizes of one call) and the launchers, one explicit instantiation per
// (head dim, bias mode, causal) in its own generated .cu file
// (attention/cuda/CMakeLists.txt). attention.cc reaches them through
// flash_forward_cuda / flash_backward_cuda (attention_impl.h).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace pelab::cuda {

// Bias modes of the kernels: the runtime AttnBias becomes one of these at the
// launch boundary (T5 and KERPLE both read a table by distance).
inline constexpr int kBiasNone = 0;
inline constexpr int kBiasAlibi = 1;
inline constexpr int kBiasTable = 2;

// T: float (the fp32 kernels) or __nv_bfloat16 / pelab::bf16 (the tensor-core kernels).
template <typename T>
struct FlashArgs {
  const T *q = nullptr, *k = nullptr, *v = nullptr;  // (B, N, H, D), strides in elements
  T* o = nullptr;
  float* lse = nullptr;  // (B, H, Nq)
  int64_t q_batch_stride = 0, q_row_stride = 0, q_head_stride = 0;
  int64_t k_batch_stride = 0, k_row_stride = 0, k_head_stride = 0;
  int64_t v_batch_stride = 0, v_row_stride = 0, v_head_stride = 0;
  int64_t o_batch_stride = 0, o_row_stride = 0, o_head_stride = 0;
  int batch = 0, heads = 0, nq = 0, nk = 0;
  float scale = 0.0f;
  int64_t q_offset = 0, k_offset = 0;
  // kBiasAlibi
  const float* alibi_slopes = nullptr;  // (H)
  float alibi_distance_scale = 1.0f;
  // kBiasTable: the true bias of head h at distance n = qpos - kpos is
  // bias_table[h·ndist + n - dist_min], for every distance a visible pair can have.
  const float* bias_table = nullptr;
  int64_t dist_min = 0, ndist = 0;
  // Backward: dout like o, dq like q, dk like k, dv like v; delta (B, H, Nq) = rowsum(dO∘O);
  // dbias_table (H, ndist) accumulates Σ dS by distance (kBiasTable only).
  const T* dout = nullptr;
  T *dq = nullptr, *dk = nullptr, *dv = nullptr;
  const float* delta = nullptr;
  double* dbias_table = nullptr;
};
using FlashCudaArgs = FlashArgs<float>;

template <int D, int kBias, bool kCausal>
void flash_fp32_forward(const FlashCudaArgs& a, cudaStream_t stream);
template <int D, int kBias, bool kCausal>
void flash_fp32_backward(const FlashCudaArgs& a, cudaStream_t stream);
// bf16 inputs and output, fp32 accumulation on tensor cores (mma.sync m16n8k16), forward only.
template <int D, int kBias, bool kCausal>
void flash_bf16_forward(const FlashArgs<__nv_bfloat16>& a, cudaStream_t stream);

}  // namespace pelab::cuda
