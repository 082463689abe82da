// The layers of the decoder as forward/backward pairs (llm.c train_gpt2.c),
// templated on Real (float for training, double for gradient checks).
//
// Sizes: N = B·T rows (batch-major: row n is position n mod T of sequence
// n / T), C = d_model, F = hidden (4C), V = vocab, H heads, hs = C / H.
// Weights are (in, out): y = x·W. Matrix products go through Eigen maps of
// the flat buffers, split across OpenMP threads by output block.
//
// Gradient contract (style.md §7.3): parameter gradients +=, activation
// gradients = (overwritten), except the residual stream, whose gradient +=
// (every norm's dinp is the residual stream). Deterministic for a fixed thread
// count: parameter-gradient reductions are split by channel, never by row.
#pragma once

#include <cstdint>

#include "attention/attention.h"
#include "encodings/pe_spec.h"
#include "model/config.h"

namespace pelab {

// ------------------------------------------------------------------ encoder

template <typename Real>
struct EncoderParams {
  const int32_t* tokens = nullptr;    // (N) in [0, V)
  const double* positions = nullptr;  // (N) position of each row (absolute PE only)
  const Real* wte = nullptr;          // (V, C)
  const Real* wpe = nullptr;          // (max_len, C) for pe = learned, else unused
  PeKind pe = PeKind::NONE;           // SINUSOIDAL or LEARNED add a table; other kinds add nothing here
  Real embed_scale = 1;               // ModelConfig::embed_scale()
  int N = 0, C = 0, V = 0, max_len = 0;
};

// out (N, C) = embed_scale·wte[tokens[n]] + PE(positions[n]). Throws
// pelab::Error for a token outside [0, V) or a learned position past max_len.
template <typename Real>
void encoder_forward(Real* out, const EncoderParams<Real>& p);
// dwte (V, C) += embed_scale·dout rows at their tokens; dwpe (max_len, C) +=
// dout rows at their positions (learned PE; null otherwise).
template <typename Real>
void encoder_backward(Real* dwte, Real* dwpe, const Real* dout, const EncoderParams<Real>& p);

// ------------------------------------------------------------------ norms

inline constexpr double kNormEps = 1e-5;

// out (N, C) = (inp - mean)·rstd·w + b, rstd = 1/√(var + eps); saves mean, rstd (N).
template <typename Real>
void layernorm_forward(Real* out, Real* mean, Real* rstd, const Real* inp, const Real* w, const Real* b, int N, int C);
// dinp (N, C) +=, dw (C) +=, db (C) +=.
template <typename Real>
void layernorm_backward(Real* dinp, Real* dw, Real* db, const Real* dout, const Real* inp, const Real* w,
                        const Real* mean, const Real* rstd, int N, int C);

// out (N, C) = inp·rstd·w, rstd = 1/√(mean(inp²) + eps); saves rstd (N).
template <typename Real>
void rmsnorm_forward(Real* out, Real* rstd, const Real* inp, const Real* w, int N, int C);
// dinp (N, C) +=, dw (C) +=.
template <typename Real>
void rmsnorm_backward(Real* dinp, Real* dw, const Real* dout, const Real* inp, const Real* w, const Real* rstd, int N,
                      int C);

// The model's norm by kind: layernorm, rmsnorm (b, mean unused) or none
// (out = inp; backward dinp += dout).
template <typename Real>
void norm_forward(NormKind kind, Real* out, Real* mean, Real* rstd, const Real* inp, const Real* w, const Real* b,
                  int N, int C);
template <typename Real>
void norm_backward(NormKind kind, Real* dinp, Real* dw, Real* db, const Real* dout, const Real* inp, const Real* w,
                   const Real* mean, const Real* rstd, int N, int C);

// ------------------------------------------------------------------ matmul

// out (N, OC) = inp (N, C) · w (C, OC)
template <typename Real>
void matmul_forward(Real* out, const Real* inp, const Real* w, int N, int C, int OC);
// dinp (N, C) = dout·wᵀ (+= when accumulate; skipped when dinp is null); dw (C, OC) += inpᵀ·dout.
template <typename Real>
void matmul_backward(Real* dinp, Real* dw, const Real* dout, const Real* inp, const Real* w, int N, int C, int OC,
                     bool accumulate);

// The tied LM head: logits (N, V) = inp (N, C) · wteᵀ, wte (V, C).
template <typename Real>
void lm_head_forward(Real* logits, const Real* inp, const Real* wte, int N, int C, int V);
// dinp (N, C) = dlogits·wte; dwte (V, C) += dlogitsᵀ·inp.
template <typename Real>
void lm_head_backward(Real* dinp, Real* dwte, const Real* dlogits, const Real* inp, const Real* wte, int N, int C,
                      int V);

// ------------------------------------------------------------------ pointwise

// out (n) = GELU(inp), tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
template <typename Real>
void gelu_forward(Real* out, const Real* inp, int64_t n);
// dinp (n) = GELU'(inp)·dout (dinp may alias dout).
template <typename Real>
void gelu_backward(Real* dinp, const Real* inp, const Real* dout, int64_t n);

// out (n) = a + b (out may alias a). The backward is the identity into both
// inputs: the model keeps one residual-stream gradient buffer that both the
// skip path and the block's output read, so there is no residual_backward call.
template <typename Real>
void residual_forward(Real* out, const Real* a, const Real* b, int64_t n);

// ------------------------------------------------------------------ loss

// In place: logits (N, V) -> probs = softmax(logits); losses (N) = -ln probs[target]
// (computed as logsumexp - logit), 0 where targets is null or target < 0 (an
// ignored position). Returns the number of counted targets. Throws for a target >= V.
template <typename Real>
int64_t softmax_crossentropy_forward(Real* probs, Real* losses, const int32_t* targets, int N, int V);
// For loss = scale·Σ_n losses[n]: dlogits (N, V) = scale·(probs - onehot(target)),
// rows with an ignored target 0. dlogits may alias probs.
template <typename Real>
void softmax_crossentropy_backward(Real* dlogits, const Real* probs, const int32_t* targets, Real scale, int N, int V);

// ------------------------------------------------------------------ attention block
//
// x (N, C) -> q = x·Wq, k = x·Wk (or q = k = x without projections), v = x·Wv
// -> q/k transform at their positions (RoPE / xPos, encodings/rope.h) ->
// causal attention with the score bias (attention/attention.h) -> out = o·Wo.

template <typename Real>
struct AttentionBlockParams {
  int B = 0, T = 0, C = 0, H = 0;
  const Real* wq = nullptr;  // (C, C); null: q = x (no q/k projections)
  const Real* wk = nullptr;  // (C, C); null together with wq
  const Real* wv = nullptr;  // (C, C)
  const Real* wo = nullptr;  // (C, C)
  // q/k transform: none when inv_freq is null.
  const double* positions = nullptr;  // (N) position of each row
  const double* inv_freq = nullptr;   // (rot_dim/2) rope_inv_freq_table
  int rot_dim = 0;                    // rotated dims of each head (the rest pass through)
  RopeLayout layout = RopeLayout::HALF_SPLIT;
  double mscale = 1.0;                // YaRN attention scale on cos and sin (q and k both)
  const double* xpos_zeta = nullptr;  // (rot_dim/2): xPos when set
  double xpos_centre = 0.0;           // T/2 (torchscale len//2)
  double xpos_scale_base = 512.0;
  AttnBiasParams bias;                // score bias; learned tables are fp32 whatever Real is
  AttnImpl impl = AttnImpl::NAIVE;    // FLASH needs float
};

template <typename Real>
struct AttentionBlockActs {
  Real* q = nullptr;    // (B, T, H, hs) after the q/k transform
  Real* k = nullptr;    // (B, T, H, hs) after the q/k transform
  Real* v = nullptr;    // (B, T, H, hs)
  Real* o = nullptr;    // (B, T, H, hs) attention output, before Wo
  float* lse = nullptr; // (B, H, T)
};

template <typename Real>
struct AttentionBlockGrads {
  Real* dwq = nullptr;     // (C, C) +=; null without projections
  Real* dwk = nullptr;     // (C, C) +=
  Real* dwv = nullptr;     // (C, C) +=
  Real* dwo = nullptr;     // (C, C) +=
  float* dbias = nullptr;  // bias.table's shape, += (learned biases only)
};

// Backward work buffers, (N, C) each.
template <typename Real>
struct AttentionBlockScratch {
  Real* dq = nullptr;
  Real* dk = nullptr;
  Real* dv = nullptr;
  Real* dO = nullptr;
};

// The attention call this block makes (dense (B, T, H, hs), causal, the
// block's bias): for the statistics pass and observers.
template <typename Real>
AttentionParams<Real> attention_call_params(const AttentionBlockActs<Real>& a, const AttentionBlockParams<Real>& p);

// out (N, C) = o·Wo; fills acts.
template <typename Real>
void attention_block_forward(Real* out, const AttentionBlockActs<Real>& acts, const Real* inp,
                             const AttentionBlockParams<Real>& p);
// dinp (N, C) = d(out)/d(inp)ᵀ·dout; weight gradients and dbias +=.
template <typename Real>
void attention_block_backward(Real* dinp, const AttentionBlockGrads<Real>& g, const Real* dout, const Real* inp,
                              const AttentionBlockActs<Real>& acts, const AttentionBlockParams<Real>& p,
                              const AttentionBlockScratch<Real>& scratch);

}  // namespace pelab
