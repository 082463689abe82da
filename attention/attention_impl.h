// Internal: the per-implementation entry points behind attention.cc's
// dispatch, and helpers they share.
#pragma once

#include <cmath>
#include <limits>

#include "attention/attention.h"

namespace pelab {

template <typename T> void naive_forward_cpu(const AttentionParams<T>& p);
template <typename T> void naive_backward_cpu(const AttentionParams<T>& p, const AttentionGrads<T>& g);
template <typename T> void naive_statistics_cpu(const AttentionParams<T>& p, const AttentionStats& s);

void flash_forward_cpu(const AttentionParams<float>& p);
void flash_backward_cpu(const AttentionParams<float>& p, const AttentionGrads<float>& g);
void flash_statistics_cpu(const AttentionParams<float>& p, const AttentionStats& s);

#ifdef PELAB_WITH_CUDA
// attention/cuda/flash_cuda.cu: fp32 flash attention on the GPU (device pointers).
void flash_forward_cuda(const AttentionParams<float>& p);
void flash_forward_cuda(const AttentionParams<bf16>& p);  // tensor cores, head dims 64 and 128
void flash_backward_cuda(const AttentionParams<float>& p, const AttentionGrads<float>& g);
#endif

// Whether query position qpos may see key position kpos.
inline bool attn_visible(bool causal, int64_t qpos, int64_t kpos) { return !causal || kpos <= qpos; }

// Adds d(loss)/d(bias value) = g at distance (qpos - kpos) of head h into the
// learned table's gradient: T5 into the bucket's entry, KERPLE through the
// kernel's derivatives. Shared by naive and flash so both use one chain rule.
template <typename Acc>
inline void attn_bias_param_grad(const AttnBiasParams& b, int h, double distance, double g, Acc* dbias) {
  if (b.kind == AttnBias::T5) {
    dbias[static_cast<int64_t>(h) * b.t5_buckets +
          t5_bucket(static_cast<long>(distance), b.t5_bidirectional, b.t5_buckets, b.t5_max_distance)] += static_cast<Acc>(g);
  } else if (b.kind == AttnBias::KERPLE) {
    const float* abp = b.table + 3LL * h;
    double da, db, dp;
    kerple_bias_grad(b.kerple_kind, distance, abp[0], abp[1], abp[2], &da, &db, &dp);
    dbias[3LL * h] += static_cast<Acc>(g * da);
    dbias[3LL * h + 1] += static_cast<Acc>(g * db);
    dbias[3LL * h + 2] += static_cast<Acc>(g * dp);
  }
}

}  // namespace pelab
