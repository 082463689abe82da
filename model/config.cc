#include "model/config.h"

#include <cmath>

#include "core/error.h"

namespace pelab {

double ModelConfig::embed_scale() const {
  return pe.kind == PeKind::SINUSOIDAL ? std::sqrt(static_cast<double>(d_model)) : 1.0;
}

void validate(const ModelConfig& c) {
  PELAB_CHECK(c.vocab >= 2, "the vocabulary must have at least 2 tokens, got " << c.vocab,
              "byte-level models use 256");
  PELAB_CHECK(c.d_model > 0, "--model.d-model must be positive, got " << c.d_model, "e.g. --model.d-model 256");
  PELAB_CHECK(c.n_layers > 0, "--model.n-layers must be positive, got " << c.n_layers, "e.g. --model.n-layers 4");
  PELAB_CHECK(c.n_heads > 0, "--model.n-heads must be positive, got " << c.n_heads, "e.g. --model.n-heads 8");
  PELAB_CHECK(c.d_model % c.n_heads == 0,
              "--model.n-heads " << c.n_heads << " does not divide --model.d-model " << c.d_model,
              "the head dim is d_model / n_heads: choose a divisor, e.g. " << c.d_model << " / "
                                                                            << (c.d_model % 4 == 0 ? 4 : 1));
  PELAB_CHECK(c.mlp_ratio > 0, "--model.mlp-ratio must be positive, got " << c.mlp_ratio, "GPT-2 uses 4");
  const int hs = c.head_dim();
  if (c.pe.family() == PeFamily::QK_TRANSFORM) {
    PELAB_CHECK(c.pe.rope.dim >= 0 && c.pe.rope.dim <= hs && c.pe.rope.dim % 2 == 0,
                "rotary dims (" << c.pe.rope.dim << ") must be even and at most the head dim " << hs
                                << " (--model.d-model / --model.n-heads)",
                "leave the rotary dims at 0 for the whole head, or choose an even head dim");
    PELAB_CHECK(hs % 2 == 0 || c.pe.rope.dim > 0,
                to_string(c.pe.kind) << " rotates pairs of dims, so the head dim (--model.d-model / --model.n-heads = "
                                     << c.d_model << " / " << c.n_heads << " = " << hs << ") must be even",
                "choose --model.n-heads so that the head dim is even");
  }
  if (c.pe.kind == PeKind::SINUSOIDAL)
    PELAB_CHECK(c.d_model % 2 == 0, "sinusoidal encodings pair sin and cos, so --model.d-model must be even, got "
                                        << c.d_model,
                "e.g. --model.d-model 256");
  if (c.pe.kind == PeKind::LEARNED)
    PELAB_CHECK(c.max_len > 0, "--model.max-len must be positive for learned absolute positions, got " << c.max_len,
                "set it to the training length --train.length or more");
  // The encoding's own parameters (base, scaling, buckets, KERPLE values ...).
  PeSpec pe = c.pe;
  if (pe.rope.dim == 0) pe.rope.dim = hs;
  validate(pe, pe.family() == PeFamily::QK_TRANSFORM ? pe.rope.dim : (pe.kind == PeKind::SINUSOIDAL ? c.d_model : hs),
           c.n_heads);
}

NormKind parse_norm_kind(const std::string& s) {
  if (s == "layernorm") return NormKind::LAYERNORM;
  if (s == "rmsnorm") return NormKind::RMSNORM;
  if (s == "none") return NormKind::NONE;
  throw Error("unknown --model.norm '" + s + "'", "choose one of: layernorm, rmsnorm, none");
}

std::string to_string(NormKind k) {
  switch (k) {
    case NormKind::LAYERNORM: return "layernorm";
    case NormKind::RMSNORM: return "rmsnorm";
    case NormKind::NONE: return "none";
  }
  return "?";
}

bool parse_qk_proj(const std::string& s) {
  if (s == "linear") return true;
  if (s == "none") return false;
  throw Error("unknown --model.qk-proj '" + s + "'", "choose linear (q = x·Wq, k = x·Wk) or none (q = k = x)");
}

std::string qk_proj_name(bool qk_proj) { return qk_proj ? "linear" : "none"; }

}  // namespace pelab
