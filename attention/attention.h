// Attention: one params struct, three entry points (forward, backward,
// statistics), an implementation choice and a device. Implementations:
//   naive (CPU, fp32 and fp64): materializes the scores; the test oracle.
//   flash (CPU, fp32): tiled, online softmax, O(N) memory (flash_cpu.cc).
//   flash (CUDA, fp32; cuda preset): the same algorithm on CUDA cores
//     (attention/cuda/), head dims 32/64/128, device pointers everywhere
//     (slopes and learned tables included); forward and backward only.
//   flash (CUDA, bf16 in and out, fp32 accumulation; cuda preset): tensor
//     cores (mma.sync), head dims 64 and 128, forward only so far.
// A combination that does not exist (flash in fp64, naive or statistics on
// CUDA, CUDA in a CPU-only build) throws pelab::Error; nothing falls back
// silently.
//
// Tensors are (B, N, H, D) with element strides for batch, row and head; the
// head dim D is contiguous. Query i sits at position q_offset + i and key j at
// k_offset + j; causal attention lets a query see keys at positions <= its
// own, and biases are functions of those positions (bias_math.h). For chunked
// evaluation with Nq < Nk, set q_offset = Nk - Nq (queries aligned to the end
// of the keys, as flash-attn >= 2.1 does).
#pragma once

#include <cstdint>

#include "core/bf16.h"
#include "encodings/bias_math.h"

namespace pelab {

enum class AttnImpl { NAIVE, FLASH };
enum class AttnDevice { CPU, CUDA };
enum class AttnBias { NONE, ALIBI, T5, KERPLE };

// The score bias inside the kernel. Learned tables are fp32 whatever T is.
struct AttnBiasParams {
  AttnBias kind = AttnBias::NONE;
  const float* alibi_slopes = nullptr;  // (H): m_h
  float alibi_distance_scale = 1.0f;    // ALiBi distance multiplier
  const float* table = nullptr;         // T5: (H, t5_buckets); KERPLE: (H, 3) as a, b, p per head
  int t5_buckets = 32;
  int t5_max_distance = 128;
  bool t5_bidirectional = false;
  KerpleKind kerple_kind = KerpleKind::LOG;

  bool learned() const { return kind == AttnBias::T5 || kind == AttnBias::KERPLE; }
  // Number of floats in `table` (and in the dbias gradient) for H heads.
  int64_t table_size(int heads) const;
  // The true bias for head h at query position i and key position j.
  float operator()(int h, double i, double j) const;
};

template <typename T>
struct AttentionParams {
  const T* q = nullptr;  // (B, Nq, H, D)
  const T* k = nullptr;  // (B, Nk, H, D)
  const T* v = nullptr;  // (B, Nk, H, D)
  T* o = nullptr;        // (B, Nq, H, D) output
  float* lse = nullptr;  // (B, H, Nq) contiguous: log Σ_j exp(logit_ij), logits with the true bias
  int64_t q_batch_stride = 0, q_row_stride = 0, q_head_stride = 0;
  int64_t k_batch_stride = 0, k_row_stride = 0, k_head_stride = 0;
  int64_t v_batch_stride = 0, v_row_stride = 0, v_head_stride = 0;
  int64_t o_batch_stride = 0, o_row_stride = 0, o_head_stride = 0;
  int batch = 0, heads = 0, nq = 0, nk = 0, head_dim = 0;
  float softmax_scale = 0.0f;  // multiplies q·k; the bias is added after, unscaled (ALiBi fn. 10)
  bool causal = false;
  int64_t q_offset = 0;        // position of query 0
  int64_t k_offset = 0;        // position of key 0
  AttnBiasParams bias;

  // Dense (B, N, H, D) layouts, scale 1/√D, queries aligned to the end of the keys.
  static AttentionParams dense(const T* q, const T* k, const T* v, T* o, float* lse, int batch, int nq, int nk,
                               int heads, int head_dim, bool causal);
};

// Gradients share the strides of their forward tensors: dq like q, dk like k,
// dv like v, dout like o. dq, dk, dv are overwritten; dbias (same shape as
// bias.table) accumulates, as parameter gradients do.
template <typename T>
struct AttentionGrads {
  const T* dout = nullptr;  // (B, Nq, H, D)
  T* dq = nullptr;          // (B, Nq, H, D)
  T* dk = nullptr;          // (B, Nk, H, D)
  T* dv = nullptr;          // (B, Nk, H, D)
  float* dbias = nullptr;   // bias.table's shape; required when the bias is learned
};

// Attention statistics by distance n = (query position - key position), for
// n in [0, max_distance] (keys after the query, possible without a causal
// mask, are not tracked). Sums accumulate over calls so a caller can average
// over many sequences or chunks; divide by `count`.
struct AttentionStats {
  int64_t max_distance = 0;
  double* score_sum = nullptr;  // (H, max_distance+1): Σ q·k·scale (no bias): XPos's ŝ[n] numerator
  double* logit_sum = nullptr;  // (H, max_distance+1): Σ of the pre-softmax logit, bias included
  double* prob_sum = nullptr;   // (H, max_distance+1): Σ of attention probabilities
  int64_t* count = nullptr;     // (H, max_distance+1): number of (b, i, j) pairs at distance n
  float* entropy = nullptr;     // (B, H, Nq): -Σ_j P_ij ln P_ij per query (overwritten)
};

template <typename T>
void attention_forward(const AttentionParams<T>& p, AttnImpl impl, AttnDevice device = AttnDevice::CPU);

template <typename T>
void attention_backward(const AttentionParams<T>& p, const AttentionGrads<T>& g, AttnImpl impl,
                        AttnDevice device = AttnDevice::CPU);

// Needs p.lse from a forward pass over the same inputs. Memory O(Nq + max_distance).
template <typename T>
void attention_statistics(const AttentionParams<T>& p, const AttentionStats& s, AttnImpl impl,
                          AttnDevice device = AttnDevice::CPU);

// Checks sizes, pointers and strides; throws pelab::Error naming the field.
template <typename T>
void attention_check(const AttentionParams<T>& p);

const char* to_string(AttnImpl impl);
AttnImpl parse_attn_impl(const char* s);

}  // namespace pelab
