#include "model/transformer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/error.h"
#include "encodings/bias.h"
#include "encodings/rope.h"

namespace pelab {

namespace {

// Buffers inside the activation block start on 64-byte boundaries.
constexpr int64_t kAlign = 16;
int64_t aligned(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

ModelConfig checked(const ModelConfig& cfg) {
  validate(cfg);
  return cfg;
}

}  // namespace

template <typename Real>
Transformer<Real>::Transformer(const ModelConfig& cfg)
    : cfg_(checked(cfg)),
      layout_(cfg_),
      params_(layout_.total()),
      grads_(layout_.total(), Real(0)),
      impl_(std::is_same_v<Real, float> ? AttnImpl::FLASH : AttnImpl::NAIVE) {
  init_parameters(cfg_.seed);
  const std::vector<double> slopes = alibi_slopes(cfg_.n_heads);
  alibi_slopes_.assign(slopes.begin(), slopes.end());
  bias_size_ = bias_param_shape(cfg_.pe, cfg_.n_heads).numel();
}

template <typename Real>
double Transformer<Real>::memory_bytes(const ModelConfig& cfg, int64_t B, int64_t T, bool training) {
  const double N = static_cast<double>(B) * static_cast<double>(T);
  const double L = cfg.n_layers, C = cfg.d_model, F = cfg.hidden(), V = cfg.vocab, H = cfg.n_heads;
  const double S = training ? L : 1, R = training ? L + 1 : 1, A = training ? L : 0;
  double acts = 0;
#define PELAB_X(name, slots, width) acts += (slots) * N * (width);
  PELAB_MODEL_ACTIVATIONS(PELAB_X)
#undef PELAB_X
  double bwd = 0;
  if (training) {
#define PELAB_X(name, width) bwd += N * (width);
    PELAB_MODEL_BACKWARD_BUFFERS(PELAB_X)
#undef PELAB_X
  }
  const double params = static_cast<double>(ParameterLayout(cfg).total());
  const double copies = training ? 4 : 2;  // params, grads (+ AdamW m, v)
  return sizeof(Real) * (copies * params + acts + bwd) + sizeof(float) * S * N * H;
}

template <typename Real>
void Transformer<Real>::init_parameters(uint64_t seed) {
  pelab::init_parameters(params_.data(), layout_, cfg_, seed);
}

template <typename Real>
void Transformer<Real>::zero_grad() {
  std::fill(grads_.begin(), grads_.end(), Real(0));
}

template <typename Real>
void Transformer<Real>::set_attention_impl(AttnImpl impl) {
  PELAB_CHECK((std::is_same_v<Real, float> || impl == AttnImpl::NAIVE),
              "the double-precision model needs the naive attention (flash is fp32 only)",
              "use the float model (pelab::Model) for flash attention");
  impl_ = impl;
}

template <typename Real>
void Transformer<Real>::set_pe(const PeSpec& pe) {
  PELAB_CHECK(pe.kind == cfg_.pe.kind,
              "this model was trained with --pe " << to_string(cfg_.pe.kind) << ", not " << to_string(pe.kind),
              "only settings without parameters (RoPE base and scaling, ALiBi distance scale, ...) can change after training");
  ModelConfig next = cfg_;
  next.pe = pe;
  PELAB_CHECK(next.rope_dim() == cfg_.rope_dim(),
              "the rotary dims must stay " << cfg_.rope_dim() << " as trained, got " << next.rope_dim(),
              "leave the rotary dims at 0 (whole head) or as in training");
  PELAB_CHECK(bias_param_shape(pe, cfg_.n_heads).dims == bias_param_shape(cfg_.pe, cfg_.n_heads).dims,
              "the learned bias table must keep its trained shape (T5 buckets)",
              "keep --pe.t5-buckets as in training");
  PELAB_CHECK(pe.kind != PeKind::KERPLE || pe.kerple.kind == cfg_.pe.kerple.kind,
              "the KERPLE kernel must stay '" << to_string(cfg_.pe.kerple.kind) << "' as trained",
              "keep --pe.kerple as in training");
  validate(next);
  cfg_.pe = pe;
}

// ------------------------------------------------------------------ buffers

template <typename Real>
void Transformer<Real>::prepare(int B, int T, bool keep) {
  B_ = B;
  T_ = T;
  kept_ = keep;
  const int64_t N = rows();
  const int64_t L = cfg_.n_layers, C = cfg_.d_model, F = cfg_.hidden(), V = cfg_.vocab;
  const int64_t S = keep ? L : 1, R = keep ? L + 1 : 1, A = keep ? L : 0;
  int64_t total = 0;
#define PELAB_X(name, slots, width) total += aligned((slots) * N * (width));
  PELAB_MODEL_ACTIVATIONS(PELAB_X)
#undef PELAB_X
  if (static_cast<int64_t>(act_buf_.size()) < total) {
    act_buf_.clear();
    act_buf_.shrink_to_fit();  // release first: the old and new block need not coexist
    act_buf_.resize(total);
  }
  int64_t off = 0;
#define PELAB_X(name, slots, width)                                 \
  acts_.name = (slots) > 0 ? act_buf_.data() + off : nullptr;       \
  off += aligned((slots) * N * (width));
  PELAB_MODEL_ACTIVATIONS(PELAB_X)
#undef PELAB_X
  const int64_t lse_size = S * N * cfg_.n_heads;
  if (static_cast<int64_t>(lse_buf_.size()) < lse_size) lse_buf_.resize(lse_size);
  acts_.lse = lse_buf_.data();
}

void check_given_positions(const ModelConfig& cfg, double max_position) {
  PELAB_CHECK(cfg.pe.family() != PeFamily::SCORE_BIAS,
              "randomized positions with --pe " << to_string(cfg.pe.kind)
                                                << ": its bias is computed in the attention kernel from index distance, "
                                                   "which does not take per-token positions yet",
              "use --pe rope, xpos, sinusoidal, learned or none with --train.random-positions");
  PELAB_CHECK(cfg.pe.kind != PeKind::LEARNED || max_position < cfg.max_len,
              "position " << max_position << " is past the learned position table (--model.max-len " << cfg.max_len << ")",
              "give --train.random-positions at most --model.max-len with --pe learned");
}

template <typename Real>
void Transformer<Real>::set_positions(std::vector<double> positions) {
  if (!positions.empty()) {
    double top = 0;
    for (double p : positions) {
      PELAB_CHECK(p >= 0 && p == std::floor(p), "position " << p << " is not an integer >= 0", "this is a bug in pelab");
      top = std::max(top, p);
    }
    check_given_positions(cfg_, top);
  }
  given_positions_ = std::move(positions);
}

template <typename Real>
void Transformer<Real>::prepare_positions(int B, int T) {
  const int64_t N = static_cast<int64_t>(B) * T;
  PELAB_CHECK(given_positions_.empty() || static_cast<int64_t>(given_positions_.size()) == N,
              "set_positions gave " << given_positions_.size() << " positions for a forward of " << N << " tokens",
              "this is a bug in pelab");
  if (!given_positions_.empty()) {
    positions_ = given_positions_;
  } else {
    positions_.resize(N);
    for (int64_t n = 0; n < N; ++n) positions_[n] = static_cast<double>(n % T);
  }
  if (cfg_.pe.family() == PeFamily::QK_TRANSFORM) {
    RopeParams r = cfg_.pe.rope;
    r.dim = cfg_.rope_dim();
    inv_freq_ = rope_inv_freq_table(r, T);  // T matters for dynamic NTK only
    if (cfg_.pe.kind == PeKind::XPOS) xpos_zeta_ = xpos_zeta_table(r.dim, cfg_.pe.xpos.gamma);
  }
}

template <typename Real>
void Transformer<Real>::prepare_bias_tables() {
  if (bias_size_ == 0) return;
  const ParamTensor& t = layout_.tensor("attn_bias");
  bias_tables_.resize(static_cast<size_t>(cfg_.n_layers) * bias_size_);
  const Real* src = params_.data() + t.offset;
  for (int64_t i = 0; i < static_cast<int64_t>(bias_tables_.size()); ++i) {
    float x = static_cast<float>(src[i]);
    if (cfg_.pe.kind == PeKind::KERPLE) {
      // (a, b, p) per head
      x = std::max(x, kKerpleMin);
      if (i % 3 == 2) x = std::min(x, kKerpleMaxP);
    }
    bias_tables_[i] = x;
  }
  dbias_.assign(bias_size_, 0.0f);
}

template <typename Real>
EncoderParams<Real> Transformer<Real>::encoder_params(const int32_t* tokens) const {
  const ParameterViews<Real> P(const_cast<Real*>(params_.data()), layout_);
  EncoderParams<Real> e;
  e.tokens = tokens;
  e.positions = positions_.data();
  e.wte = P.wte;
  e.wpe = P.wpe;
  e.pe = cfg_.pe.kind;
  e.embed_scale = static_cast<Real>(cfg_.embed_scale());
  e.N = static_cast<int>(rows());
  e.C = cfg_.d_model;
  e.V = cfg_.vocab;
  e.max_len = cfg_.max_len;
  return e;
}

template <typename Real>
AttentionBlockParams<Real> Transformer<Real>::block_params(const ParameterViews<Real>& lp, int l) const {
  AttentionBlockParams<Real> p;
  p.B = B_;
  p.T = T_;
  p.C = cfg_.d_model;
  p.H = cfg_.n_heads;
  p.wq = cfg_.qk_proj ? lp.wq : nullptr;
  p.wk = cfg_.qk_proj ? lp.wk : nullptr;
  p.wv = lp.wv;
  p.wo = lp.wo;
  p.positions = positions_.data();
  const PeSpec& pe = cfg_.pe;
  if (pe.family() == PeFamily::QK_TRANSFORM) {
    p.inv_freq = inv_freq_.data();
    p.rot_dim = cfg_.rope_dim();
    p.layout = pe.rope.layout;
    p.mscale = rope_attention_scale(pe.rope);
    if (pe.kind == PeKind::XPOS) {
      p.xpos_zeta = xpos_zeta_.data();
      p.xpos_centre = static_cast<double>(T_ / 2);  // torchscale: len // 2
      p.xpos_scale_base = pe.xpos.scale_base;
    }
  }
  AttnBiasParams& b = p.bias;
  switch (pe.kind) {
    case PeKind::ALIBI:
      b.kind = AttnBias::ALIBI;
      b.alibi_slopes = alibi_slopes_.data();
      b.alibi_distance_scale = static_cast<float>(pe.alibi_distance_scale);
      break;
    case PeKind::T5:
      b.kind = AttnBias::T5;
      b.table = bias_tables_.data() + static_cast<int64_t>(l) * bias_size_;
      b.t5_buckets = pe.t5.num_buckets;
      b.t5_max_distance = pe.t5.max_distance;
      b.t5_bidirectional = pe.t5.bidirectional;
      break;
    case PeKind::KERPLE:
      b.kind = AttnBias::KERPLE;
      b.table = bias_tables_.data() + static_cast<int64_t>(l) * bias_size_;
      b.kerple_kind = pe.kerple.kind;
      break;
    default: break;
  }
  p.impl = impl_;
  return p;
}

template <typename Real>
AttentionBlockActs<Real> Transformer<Real>::block_acts(int slot) const {
  const int64_t NC = rows() * cfg_.d_model;
  AttentionBlockActs<Real> a;
  a.q = acts_.q + slot * NC;
  a.k = acts_.k + slot * NC;
  a.v = acts_.v + slot * NC;
  a.o = acts_.o + slot * NC;
  a.lse = acts_.lse + slot * rows() * cfg_.n_heads;
  return a;
}

// ------------------------------------------------------------------ forward

template <typename Real>
Real Transformer<Real>::run_forward(const int32_t* tokens, const int32_t* targets, int B, int T, bool keep) {
  PELAB_CHECK(B > 0 && T > 0, "a batch needs B > 0 sequences of T > 0 tokens, got B " << B << ", T " << T,
              "check --train.batch and --train.length");
  PELAB_CHECK(cfg_.pe.kind != PeKind::LEARNED || T <= cfg_.max_len,
              "sequence length " << T << " exceeds the learned position table (--model.max-len " << cfg_.max_len << ")",
              "learned absolute positions are undefined past the trained table: evaluate at most "
                  << cfg_.max_len << " tokens, or compare another --pe");
  prepare(B, T, keep);
  prepare_positions(B, T);
  prepare_bias_tables();
  const int N = static_cast<int>(rows());
  PELAB_CHECK(rows() <= std::numeric_limits<int>::max() / std::max(cfg_.hidden(), cfg_.vocab),
              "B·T = " << rows() << " rows is too large for one call", "evaluate in smaller batches");
  const int L = cfg_.n_layers, C = cfg_.d_model, F = cfg_.hidden(), V = cfg_.vocab;
  const int64_t NC = static_cast<int64_t>(N) * C, NF = static_cast<int64_t>(N) * F;
  const ParameterViews<Real> P = param_views();
  Activations& a = acts_;

  encoder_forward(a.res, encoder_params(tokens));
  for (int l = 0; l < L; ++l) {
    const int s = keep ? l : 0;  // activation slot
    const ParameterViews<Real> lp = P.layer(l);
    Real* res_in = a.res + s * NC;
    Real* res_mid = keep ? a.res_att + l * NC : res_in;   // evaluation: in place
    Real* res_out = keep ? a.res + (l + 1) * NC : res_in;
    Real* ln1 = a.ln1 + s * NC;
    Real* ln2 = a.ln2 + s * NC;
    Real* fc = a.fc + s * NF;
    Real* fc_gelu = a.fc_gelu + s * NF;

    norm_forward(cfg_.norm, ln1, a.ln1_mean + s * N, a.ln1_rstd + s * N, res_in, lp.ln1_w, lp.ln1_b, N, C);
    const AttentionBlockParams<Real> bp = block_params(lp, l);
    const AttentionBlockActs<Real> ba = block_acts(s);
    attention_block_forward(a.proj, ba, ln1, bp);
    if (observer_) observer_(l, attention_call_params(ba, bp));
    residual_forward(res_mid, res_in, a.proj, NC);

    norm_forward(cfg_.norm, ln2, a.ln2_mean + s * N, a.ln2_rstd + s * N, res_mid, lp.ln2_w, lp.ln2_b, N, C);
    matmul_forward(fc, ln2, lp.w1, N, C, F);
    gelu_forward(fc_gelu, fc, NF);
    matmul_forward(a.proj, fc_gelu, lp.w2, N, F, C);
    residual_forward(res_out, res_mid, a.proj, NC);
  }
  const Real* res_final = a.res + (keep ? L : 0) * NC;
  norm_forward(cfg_.norm, a.lnf, a.lnf_mean, a.lnf_rstd, res_final, P.lnf_w, P.lnf_b, N, C);
  lm_head_forward(a.probs, a.lnf, P.wte, N, C, V);
  target_count_ = softmax_crossentropy_forward(a.probs, a.losses, targets, N, V);

  have_targets_ = targets != nullptr;
  if (keep) {  // backward needs them after the caller's buffers may have changed
    tokens_.assign(tokens, tokens + N);
    if (targets) targets_.assign(targets, targets + N);
  }
  if (!targets) return std::numeric_limits<Real>::quiet_NaN();
  if (target_count_ == 0) return Real(0);
  double sum = 0;  // in row order: deterministic
  for (int n = 0; n < N; ++n) sum += a.losses[n];
  return static_cast<Real>(sum / target_count_);
}

template <typename Real>
Real Transformer<Real>::forward(const int32_t* tokens, const int32_t* targets, int B, int T) {
  return run_forward(tokens, targets, B, T, /*keep=*/true);
}

template <typename Real>
Real Transformer<Real>::evaluate(const int32_t* tokens, const int32_t* targets, int B, int T, Real* nll) {
  const Real loss = run_forward(tokens, targets, B, T, /*keep=*/false);
  if (nll) std::copy(acts_.losses, acts_.losses + rows(), nll);
  return loss;
}

// ------------------------------------------------------------------ backward

template <typename Real>
void Transformer<Real>::backward(Real loss_scale) {
  PELAB_CHECK(kept_ && have_targets_ && B_ > 0, "backward() needs a forward() with targets just before",
              "call forward(tokens, targets, B, T) (not evaluate) and then backward()");
  const int N = static_cast<int>(rows());
  const int L = cfg_.n_layers, C = cfg_.d_model, F = cfg_.hidden(), V = cfg_.vocab;
  const int64_t NC = static_cast<int64_t>(N) * C, NF = static_cast<int64_t>(N) * F;
  if (target_count_ == 0) return;  // the loss is the constant 0

  int64_t total = 0;
#define PELAB_X(name, width) total += aligned(N * static_cast<int64_t>(width));
  PELAB_MODEL_BACKWARD_BUFFERS(PELAB_X)
#undef PELAB_X
  if (static_cast<int64_t>(bwd_buf_.size()) < total) bwd_buf_.resize(total);
  int64_t off = 0;
#define PELAB_X(name, width)                \
  bwd_.name = bwd_buf_.data() + off;        \
  off += aligned(N * static_cast<int64_t>(width));
  PELAB_MODEL_BACKWARD_BUFFERS(PELAB_X)
#undef PELAB_X

  const ParameterViews<Real> P = param_views();
  const ParameterViews<Real> G = grad_views();
  const Activations& a = acts_;
  BackwardBuffers& d = bwd_;
  const AttentionBlockScratch<Real> scratch{d.dq, d.dk, d.dv, d.dO};

  // forward: loss = (1/count)·Σ_n losses[n]; probs = softmax(logits) (dlogits written over probs)
  softmax_crossentropy_backward(a.probs, a.probs, targets_.data(), loss_scale / static_cast<Real>(target_count_), N, V);
  // forward: logits = lnf·wteᵀ
  lm_head_backward(d.dln, G.wte, a.probs, a.lnf, P.wte, N, C, V);
  // forward: lnf = normf(res[L])
  std::fill(d.dres, d.dres + NC, Real(0));
  norm_backward(cfg_.norm, d.dres, G.lnf_w, G.lnf_b, d.dln, a.res + L * NC, P.lnf_w, a.lnf_mean, a.lnf_rstd, N, C);

  for (int l = L - 1; l >= 0; --l) {
    const ParameterViews<Real> lp = P.layer(l);
    const ParameterViews<Real> gp = G.layer(l);
    const Real* res_in = a.res + l * NC;
    const Real* res_mid = a.res_att + l * NC;
    // d.dres holds d(loss)/d(res[l+1]); both residual adds pass it through unchanged.
    // forward: res[l+1] = res_mid + GELU(ln2·W1)·W2
    matmul_backward(d.dfc, gp.w2, d.dres, a.fc_gelu + l * NF, lp.w2, N, F, C, /*accumulate=*/false);
    gelu_backward(d.dfc, a.fc + l * NF, d.dfc, NF);
    matmul_backward(d.dln, gp.w1, d.dfc, a.ln2 + l * NC, lp.w1, N, C, F, /*accumulate=*/false);
    // forward: ln2 = norm2(res_mid)
    norm_backward(cfg_.norm, d.dres, gp.ln2_w, gp.ln2_b, d.dln, res_mid, lp.ln2_w, a.ln2_mean + l * N,
                  a.ln2_rstd + l * N, N, C);
    // forward: res_mid = res[l] + attention_block(ln1)
    AttentionBlockGrads<Real> g;
    g.dwq = cfg_.qk_proj ? gp.wq : nullptr;
    g.dwk = cfg_.qk_proj ? gp.wk : nullptr;
    g.dwv = gp.wv;
    g.dwo = gp.wo;
    if (bias_size_ > 0) {
      std::fill(dbias_.begin(), dbias_.end(), 0.0f);
      g.dbias = dbias_.data();
    }
    attention_block_backward(d.dln, g, d.dres, a.ln1 + l * NC, block_acts(l), block_params(lp, l), scratch);
    if (bias_size_ > 0) {
      // forward: table = the stored values, KERPLE's clamped (no gradient where the clamp is active)
      Real* gt = gp.attn_bias;
      const Real* pt = lp.attn_bias;
      for (int64_t i = 0; i < bias_size_; ++i) {
        if (cfg_.pe.kind == PeKind::KERPLE) {
          const Real x = pt[i];
          if (x < Real(kKerpleMin) || (i % 3 == 2 && x > Real(kKerpleMaxP))) continue;
        }
        gt[i] += static_cast<Real>(dbias_[i]);
      }
    }
    // forward: ln1 = norm1(res[l])
    norm_backward(cfg_.norm, d.dres, gp.ln1_w, gp.ln1_b, d.dln, res_in, lp.ln1_w, a.ln1_mean + l * N,
                  a.ln1_rstd + l * N, N, C);
  }
  // forward: res[0] = embed_scale·wte[tokens] + PE
  encoder_backward(G.wte, G.wpe, d.dres, encoder_params(tokens_.data()));
  have_targets_ = false;  // probs now hold dlogits: a second backward would be wrong
}

template class Transformer<float>;
template class Transformer<double>;

}  // namespace pelab
