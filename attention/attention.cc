// Checks and dispatch for the attention entry points (attention.h).
#include "attention/attention.h"

#include <cmath>
#include <cstring>

#include "attention/attention_impl.h"
#include "core/error.h"

namespace pelab {

int64_t AttnBiasParams::table_size(int heads) const {
  switch (kind) {
    case AttnBias::T5: return static_cast<int64_t>(heads) * t5_buckets;
    case AttnBias::KERPLE: return 3LL * heads;  // (H, 3): a, b, p per head
    default: return 0;
  }
}

float AttnBiasParams::operator()(int h, double i, double j) const {
  switch (kind) {
    case AttnBias::NONE: return 0.0f;
    case AttnBias::ALIBI: return AlibiBias{alibi_slopes[h], alibi_distance_scale}(i, j);
    case AttnBias::T5: return T5Bias{table + static_cast<int64_t>(h) * t5_buckets, t5_buckets, t5_max_distance, t5_bidirectional}(i, j);
    case AttnBias::KERPLE: {
      const float* abp = table + 3LL * h;
      return KerpleBias{kerple_kind, abp[0], abp[1], abp[2]}(i, j);
    }
  }
  return 0.0f;
}

template <typename T>
AttentionParams<T> AttentionParams<T>::dense(const T* q, const T* k, const T* v, T* o, float* lse, int batch, int nq,
                                             int nk, int heads, int head_dim, bool causal) {
  AttentionParams<T> p;
  p.q = q;
  p.k = k;
  p.v = v;
  p.o = o;
  p.lse = lse;
  p.batch = batch;
  p.nq = nq;
  p.nk = nk;
  p.heads = heads;
  p.head_dim = head_dim;
  p.q_head_stride = p.k_head_stride = p.v_head_stride = p.o_head_stride = head_dim;
  p.q_row_stride = p.o_row_stride = static_cast<int64_t>(heads) * head_dim;
  p.k_row_stride = p.v_row_stride = static_cast<int64_t>(heads) * head_dim;
  p.q_batch_stride = p.o_batch_stride = static_cast<int64_t>(nq) * heads * head_dim;
  p.k_batch_stride = p.v_batch_stride = static_cast<int64_t>(nk) * heads * head_dim;
  p.softmax_scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  p.causal = causal;
  p.q_offset = nk - nq;
  p.k_offset = 0;
  return p;
}

template <typename T>
void attention_check(const AttentionParams<T>& p) {
  PELAB_CHECK(p.batch > 0 && p.heads > 0 && p.nq > 0 && p.nk > 0 && p.head_dim > 0,
              "attention sizes must be positive: batch " << p.batch << ", heads " << p.heads << ", Nq " << p.nq
                                                         << ", Nk " << p.nk << ", head dim " << p.head_dim,
              "this is a bug in the caller");
  PELAB_CHECK(p.q && p.k && p.v, "attention needs q, k and v", "set AttentionParams::q, k, v");
  PELAB_CHECK(std::isfinite(p.softmax_scale) && p.softmax_scale > 0, "attention softmax_scale must be positive",
              "use AttentionParams::dense() or set it to 1/sqrt(D)");
  PELAB_CHECK(p.q_head_stride >= p.head_dim || p.heads == 1, "q head stride " << p.q_head_stride << " overlaps the head dim",
              "strides are in elements, D contiguous");
  if (p.bias.kind == AttnBias::ALIBI) PELAB_CHECK(p.bias.alibi_slopes, "ALiBi attention needs slopes", "set bias.alibi_slopes");
  if (p.bias.learned()) PELAB_CHECK(p.bias.table, "a learned attention bias needs its table", "set bias.table");
  if (p.bias.kind == AttnBias::T5) PELAB_CHECK(p.bias.t5_buckets >= 2, "T5 needs at least 2 buckets", "set bias.t5_buckets");
}

const char* to_string(AttnImpl impl) { return impl == AttnImpl::NAIVE ? "naive" : "flash"; }

AttnImpl parse_attn_impl(const char* s) {
  if (std::strcmp(s, "naive") == 0) return AttnImpl::NAIVE;
  if (std::strcmp(s, "flash") == 0) return AttnImpl::FLASH;
  throw Error(std::string("unknown attention implementation '") + s + "'", "choose naive or flash");
}

namespace {
#ifndef PELAB_WITH_CUDA
[[noreturn]] void no_cuda() {
  throw Error("attention on CUDA is not available in this build (built without CUDA)",
              "use --device cpu, or build the 'cuda' preset (cmake --workflow --preset cuda)");
}
#endif

// The CUDA kernels: flash in fp32 (forward, backward) and bf16 (forward).
template <typename T>
void check_cuda_call(AttnImpl impl) {
  PELAB_CHECK(impl == AttnImpl::FLASH, "naive attention runs on the CPU only", "use --impl flash with --device cuda");
  PELAB_CHECK((!std::is_same_v<T, double>), "CUDA attention is fp32 or bf16", "use float or bf16 tensors, or --device cpu for fp64");
}
}  // namespace

template <typename T>
void attention_forward(const AttentionParams<T>& p, AttnImpl impl, AttnDevice device) {
  attention_check(p);
  PELAB_CHECK(p.o && p.lse, "attention forward needs o and lse", "set AttentionParams::o and lse");
  if (device == AttnDevice::CUDA) {
#ifdef PELAB_WITH_CUDA
    check_cuda_call<T>(impl);
    if constexpr (!std::is_same_v<T, double>) return flash_forward_cuda(p);
#else
    no_cuda();
#endif
  }
  if constexpr (std::is_same_v<T, bf16>) {
    throw Error("bf16 attention runs on CUDA only", "use --device cuda, or fp32 tensors on the CPU");
  } else {
    if (impl == AttnImpl::NAIVE) return naive_forward_cpu(p);
    if constexpr (std::is_same_v<T, float>) return flash_forward_cpu(p);
    throw Error("flash attention on the CPU is fp32 only", "use the naive implementation for fp64 reference runs");
  }
}

template <typename T>
void attention_backward(const AttentionParams<T>& p, const AttentionGrads<T>& g, AttnImpl impl, AttnDevice device) {
  attention_check(p);
  PELAB_CHECK(p.o && p.lse && g.dout && g.dq && g.dk && g.dv, "attention backward needs o, lse, dout, dq, dk and dv",
              "run the forward first and set AttentionGrads");
  PELAB_CHECK(!p.bias.learned() || g.dbias, "a learned attention bias needs dbias in the backward", "set AttentionGrads::dbias");
  if (device == AttnDevice::CUDA) {
#ifdef PELAB_WITH_CUDA
    check_cuda_call<T>(impl);
    PELAB_CHECK((std::is_same_v<T, float>), "the bf16 attention backward on CUDA is not built yet",
                "use fp32 tensors for training on the GPU");
    if constexpr (std::is_same_v<T, float>) return flash_backward_cuda(p, g);
#else
    no_cuda();
#endif
  }
  if constexpr (std::is_same_v<T, bf16>) {
    throw Error("bf16 attention runs on CUDA only", "use --device cuda, or fp32 tensors on the CPU");
  } else {
    if (impl == AttnImpl::NAIVE) return naive_backward_cpu(p, g);
    if constexpr (std::is_same_v<T, float>) return flash_backward_cpu(p, g);
    throw Error("flash attention on the CPU is fp32 only", "use the naive implementation for fp64 reference runs");
  }
}

template <typename T>
void attention_statistics(const AttentionParams<T>& p, const AttentionStats& s, AttnImpl impl, AttnDevice device) {
  attention_check(p);
  PELAB_CHECK(p.lse && s.score_sum && s.logit_sum && s.prob_sum && s.count && s.entropy && s.max_distance >= 0,
              "attention statistics need lse and every AttentionStats buffer", "run the forward first");
  PELAB_CHECK(device == AttnDevice::CPU, "the attention statistics pass runs on the CPU only in this build",
              "use --device cpu for statistics (the CUDA statistics pass is not built yet)");
  if constexpr (std::is_same_v<T, bf16>) {
    throw Error("the statistics pass has no bf16 path", "use fp32 or fp64 tensors");
  } else {
    if (impl == AttnImpl::NAIVE) return naive_statistics_cpu(p, s);
    if constexpr (std::is_same_v<T, float>) return flash_statistics_cpu(p, s);
    throw Error("the chunked statistics pass is fp32 only", "use the naive implementation for fp64 reference runs");
  }
}

#define PELAB_ATTN_INSTANTIATE(T)                                                                     \
  template struct AttentionParams<T>;                                                                 \
  template void attention_check<T>(const AttentionParams<T>&);                                        \
  template void attention_forward<T>(const AttentionParams<T>&, AttnImpl, AttnDevice);                \
  template void attention_backward<T>(const AttentionParams<T>&, const AttentionGrads<T>&, AttnImpl, AttnDevice); \
  template void attention_statistics<T>(const AttentionParams<T>&, const AttentionStats&, AttnImpl, AttnDevice);
PELAB_ATTN_INSTANTIATE(float)
PELAB_ATTN_INSTANTIATE(double)
PELAB_ATTN_INSTANTIATE(bf16)
#undef PELAB_ATTN_INSTANTIATE

}  // namespace pelab
