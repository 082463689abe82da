// The shape of a model: everything that fixes its parameter layout and its
// forward pass. The CLI fills one from --model.* and --pe.* (issue 4); the
// training loop, checkpoints and evaluation read it back.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"  // every model API throws pelab::Error
#include "encodings/pe_spec.h"

namespace pelab {

// Pre-norm of each block and of the final residual stream.
enum class NormKind { LAYERNORM, RMSNORM, NONE };

struct ModelConfig {
  int vocab = 256;             // V: bytes
  int d_model = 256;           // C
  int n_layers = 4;            // L
  int n_heads = 8;             // H; head dim hs = C / H (any H that divides C, including 1)
  int mlp_ratio = 4;           // hidden width F = mlp_ratio·C
  NormKind norm = NormKind::LAYERNORM;
  // true: q = x·Wq, k = x·Wk. false (--model.qk-proj none): q = k = x, the
  // block's normalized input split per head (the seed FAQ's "why Wq and Wk");
  // V and O stay projected.
  bool qk_proj = true;
  PeSpec pe;                   // pe.rope.dim 0 means the head dim
  int max_len = 1024;          // rows of the learned absolute table (pe = learned only)
  uint64_t seed = 1337;        // parameter initialisation

  int head_dim() const { return n_heads > 0 ? d_model / n_heads : 0; }
  int hidden() const { return mlp_ratio * d_model; }
  // Multiplier of the token embedding on input (not in the tied head):
  // √C for pe = sinusoidal (Vaswani §3.4, fairseq embed_scale), so tokens
  // (0.02·√C rms at init) and the unit-amplitude table are comparable; 1 otherwise.
  double embed_scale() const;
  // Rotary dims actually used: pe.rope.dim, or the head dim when 0.
  int rope_dim() const { return pe.rope.dim > 0 ? pe.rope.dim : head_dim(); }
};

// Throws pelab::Error naming the option (--model.d-model, --model.n-heads, ...)
// for the first problem found; the encoding is checked by validate(PeSpec).
void validate(const ModelConfig& cfg);

NormKind parse_norm_kind(const std::string& s);        // layernorm | rmsnorm | none
std::string to_string(NormKind k);
bool parse_qk_proj(const std::string& s);              // linear -> true | none -> false
std::string qk_proj_name(bool qk_proj);

}  // namespace pelab
