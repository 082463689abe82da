// The GPT-style decoder (DESIGN.md "Data flow"), forward and backward by hand:
//
//   x = embed_scale·wte[tokens] (+ absolute PE)                       encoder
//   L × { x += attention(norm1(x)) ; x += W2·GELU(W1·norm2(x)) }      pre-norm blocks
//   logits = normf(x)·wteᵀ ; loss = mean over targets of -ln softmax   tied head
//
// Parameters and gradients live in two flat buffers of one layout
// (model/parameters.h); activations in a buffer sized for the last (B, T),
// grown as needed: there is no fixed maximum length except the learned
// absolute table's max_len. Threads: OpenMP + Eigen; results are
// deterministic for a fixed thread count.
//
// Training step:  model.forward(tokens, targets, B, T); model.zero_grad();
//                 model.backward(); optimizer.step(model.params(), model.grads(), lr)
// Evaluation:     model.evaluate(tokens, targets, B, T, nll)   (per-token NLL, low memory)
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "attention/attention.h"
#include "core/aligned_vector.h"
#include "model/config.h"
#include "model/layers.h"
#include "model/parameters.h"

namespace pelab {

// Activations of one forward: X(name, slots, width) is `slots` copies of
// (N, width), N = B·T. Slot symbols: S = layers kept (L when training, 1 when
// evaluating: every layer then reuses slot 0), R = residual-stream slots
// (L + 1 / 1), A = post-attention residual slots (L / 0: evaluation updates
// the residual stream in place).
#define PELAB_MODEL_ACTIVATIONS(X)                                                                 \
  X(res, R, C)      /* residual stream entering layer l (slot l); slot L feeds the final norm */ \
  X(res_att, A, C)  /* residual stream after layer l's attention */                              \
  X(ln1, S, C)      /* norm1 output */                                                           \
  X(ln1_mean, S, 1)                                                                              \
  X(ln1_rstd, S, 1)                                                                              \
  X(q, S, C)        /* (B, T, H, hs) after the q/k transform */                                  \
  X(k, S, C)                                                                                     \
  X(v, S, C)                                                                                     \
  X(o, S, C)        /* attention output before Wo */                                             \
  X(ln2, S, C)                                                                                   \
  X(ln2_mean, S, 1)                                                                              \
  X(ln2_rstd, S, 1)                                                                              \
  X(fc, S, F)       /* ln2·W1, before GELU */                                                    \
  X(fc_gelu, S, F)                                                                               \
  X(lnf, 1, C)                                                                                   \
  X(lnf_mean, 1, 1)                                                                              \
  X(lnf_rstd, 1, 1)                                                                              \
  X(proj, 1, C)     /* a block's output before the residual add (not kept) */                    \
  X(probs, 1, V)    /* logits, then softmax in place; dlogits in backward */                     \
  X(losses, 1, 1)   /* per-token NLL, 0 at ignored targets */

// Backward work buffers, one (N, width) each.
#define PELAB_MODEL_BACKWARD_BUFFERS(X) \
  X(dres, C) /* gradient of the residual stream */ \
  X(dln, C)  /* gradient of a norm's output */     \
  X(dq, C)                                         \
  X(dk, C)                                         \
  X(dv, C)                                         \
  X(dO, C)                                         \
  X(dfc, F)

template <typename Real>
class Transformer {
 public:
  // Validates the config (pelab::Error naming the option) and initialises the
  // parameters from cfg.seed (init_parameters); gradients start at zero.
  explicit Transformer(const ModelConfig& cfg);
  // Not copyable (activation views point into this object's buffers); movable.
  Transformer(const Transformer&) = delete;
  Transformer& operator=(const Transformer&) = delete;
  Transformer(Transformer&&) noexcept = default;
  Transformer& operator=(Transformer&&) noexcept = default;

  // Bytes a model of this config holds for B rows of T tokens: parameters and
  // gradients, the activations (every layer's when training, one layer's
  // when evaluating), the backward buffers and AdamW's two moments when
  // training. Checked against the free memory before building a model.
  static double memory_bytes(const ModelConfig& cfg, int64_t B, int64_t T, bool training);

  const ModelConfig& config() const { return cfg_; }
  const ParameterLayout& layout() const { return layout_; }
  int64_t num_params() const { return layout_.total(); }

  // Flat buffers, layout().total() values each.
  Real* params() { return params_.data(); }
  const Real* params() const { return params_.data(); }
  Real* grads() { return grads_.data(); }
  const Real* grads() const { return grads_.data(); }
  void zero_grad();
  ParameterViews<Real> param_views() { return ParameterViews<Real>(params_.data(), layout_); }
  ParameterViews<Real> grad_views() { return ParameterViews<Real>(grads_.data(), layout_); }
  // Re-draws the parameters from `seed` (init_parameters).
  void init_parameters(uint64_t seed);

  // Training forward over tokens (B, T), row-major, targets (B, T) or null.
  // Keeps every activation backward() needs. Returns the mean NLL (nats per
  // token) over targets >= 0 (negative targets are ignored positions); NaN
  // when targets is null, 0 when every target is ignored.
  Real forward(const int32_t* tokens, const int32_t* targets, int B, int T);

  // grads += loss_scale · d(mean loss of the last forward)/d(params). Needs a
  // forward with targets; overwrites probabilities() with dlogits.
  void backward(Real loss_scale = 1);

  // Positions of the next forwards' tokens, (B, T) row-major, instead of
  // 0..T-1 in every row: randomized positions (arXiv 2305.16843), which
  // training draws per row (data::BatcherOptions::random_positions). Empty
  // restores 0..T-1. The encodings that read per-token positions take them
  // (RoPE, xPos, sinusoidal, learned; NoPE reads none); the score biases
  // (ALiBi, T5, KERPLE) are computed in the attention kernel from index
  // distance i - j, so they are refused (pelab::Error) rather than silently
  // given index distances. A forward whose B·T differs is an error.
  void set_positions(std::vector<double> positions);

  // Evaluation forward: the same numbers as forward(), keeping one layer's
  // activations (memory O(B·T·(C + F + V)), not O(L·...)). Writes the
  // per-token NLL (B, T) to nll if given (0 at ignored targets). Returns the
  // mean NLL as forward() does. backward() is not possible after it.
  Real evaluate(const int32_t* tokens, const int32_t* targets, int B, int T, Real* nll = nullptr);

  // (B, T, V) next-token probabilities of the last forward / evaluate
  // (until backward()); (B, T) per-token NLL.
  const Real* probabilities() const { return acts_.probs; }
  const Real* token_losses() const { return acts_.losses; }
  int batch() const { return B_; }
  int seq_len() const { return T_; }

  // Attention implementation for the float model (FLASH by default; NAIVE as
  // the oracle). The double model always uses NAIVE (flash is fp32 only).
  void set_attention_impl(AttnImpl impl);
  AttnImpl attention_impl() const { return impl_; }

  // Called after each layer's attention forward with the exact call made
  // (q, k, v, o, lse, bias): how `pelab analyze` runs attention_statistics.
  using AttentionObserver = std::function<void(int layer, const AttentionParams<Real>&)>;
  void set_attention_observer(AttentionObserver f) { observer_ = std::move(f); }

  // Changes the encoding's settings that carry no parameters, for evaluation
  // variants of a trained model: RoPE base and scaling (PI, NTK, YaRN, ...),
  // xPos settings, ALiBi distance scale, T5 max distance. The kind, the rotary
  // dims and the learned tables' shapes must stay as trained (pelab::Error).
  void set_pe(const PeSpec& pe);

  // Named pointers into the activations of the last forward (slots laid out
  // as PELAB_MODEL_ACTIVATIONS says; valid until the next forward).
  struct Activations {
#define PELAB_X(name, slots, width) Real* name = nullptr;
    PELAB_MODEL_ACTIVATIONS(PELAB_X)
#undef PELAB_X
    float* lse = nullptr;  // (S, B, H, T)
  };
  const Activations& activations() const { return acts_; }

 private:
  struct BackwardBuffers {
#define PELAB_X(name, width) Real* name = nullptr;
    PELAB_MODEL_BACKWARD_BUFFERS(PELAB_X)
#undef PELAB_X
  };

  Real run_forward(const int32_t* tokens, const int32_t* targets, int B, int T, bool keep);
  void prepare(int B, int T, bool keep);
  void prepare_positions(int B, int T);
  void prepare_bias_tables();
  EncoderParams<Real> encoder_params(const int32_t* tokens) const;
  AttentionBlockParams<Real> block_params(const ParameterViews<Real>& layer, int l) const;  // layer = views.layer(l)
  AttentionBlockActs<Real> block_acts(int slot) const;
  int64_t rows() const { return static_cast<int64_t>(B_) * T_; }

  ModelConfig cfg_;
  ParameterLayout layout_;
  AlignedVector<Real> params_, grads_;
  AttnImpl impl_;
  AttentionObserver observer_;

  // Sizes and inputs of the last forward.
  int B_ = 0, T_ = 0;
  bool kept_ = false;           // activations of every layer kept (forward, not evaluate)
  bool have_targets_ = false;
  int64_t target_count_ = 0;
  std::vector<int32_t> tokens_, targets_;

  AlignedVector<Real> act_buf_, bwd_buf_;
  AlignedVector<float> lse_buf_;
  Activations acts_;
  BackwardBuffers bwd_;

  // Positional-encoding tables of the last forward.
  std::vector<double> positions_;  // (N): n mod T, or given_positions_
  std::vector<double> given_positions_;  // set_positions(); empty: n mod T
  std::vector<double> inv_freq_;   // (rot_dim/2) RoPE / xPos
  std::vector<double> xpos_zeta_;  // (rot_dim/2) xPos
  std::vector<float> alibi_slopes_;
  int64_t bias_size_ = 0;           // floats per layer in a learned bias table
  AlignedVector<float> bias_tables_;  // (L, bias_size_): the learned tables as attention reads them (fp32, KERPLE clamped)
  AlignedVector<float> dbias_;        // (bias_size_)
};

using Model = Transformer<float>;

// Whether a model of `cfg` can read per-token positions up to max_position
// (Transformer::set_positions): a pelab::Error naming the encoding otherwise.
void check_given_positions(const ModelConfig& cfg, double max_position);

extern template class Transformer<float>;
extern template class Transformer<double>;

// KERPLE's (a, b, p) as the forward uses them: a, b >= 0.01 and p in
// [0.01, 2] (chijames/KERPLE clamps with eps = 1e-2); outside the range the
// stored value has no effect and gets no gradient.
inline constexpr float kKerpleMin = 1e-2f;
inline constexpr float kKerpleMaxP = 2.0f;

}  // namespace pelab
