// The model's parameters: one flat buffer, named views defined once below
// (PELAB_MODEL_TENSORS), the gradient buffer in the same layout, and the
// GPT-2 initialisation. Layout: each tensor is contiguous, per-layer tensors
// stacked with the layer first (llm.c ParameterTensors), in the order listed.
//
// Shape symbols (ParamSymbols): V vocab, C d_model, F hidden (4C), L layers,
// H heads, and switches that are 0 where the config leaves a tensor out:
//   P   = max_len for pe = learned, else 0            (wpe rows)
//   NW  = 1 unless norm = none                        (norm weights)
//   NB  = 1 for layernorm, else 0                     (norm biases)
//   QK  = C with qk_proj, else 0                      (Wq, Wk rows)
//   HB  = H for a learned score bias (T5, KERPLE)     (bias table rows)
//   BC  = T5 buckets, or 3 for KERPLE's (a, b, p)     (bias table columns)
// Linear layers have no bias vectors (nanoGPT bias=False); LayerNorm keeps
// its weight and bias, RMSNorm its weight. Weights are (in, out): y = x·W.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace pelab {

enum class ParamInit {
  NORMAL,           // N(0, 0.02) (GPT-2 / nanoGPT)
  NORMAL_RESIDUAL,  // N(0, 0.02/√(2L)): projections into the residual stream (Wo, W2)
  ONES,             // norm weights
  ZEROS,            // norm biases; T5 tables (every head starts as NoPE and learns its bias)
  KERPLE,           // (a, b, p) per head from pe.kerple (--pe.kerple-a/-b/-p; default 1, 1, 1)
};

// X(name, per_layer, rows, cols, matrix, init): a (rows, cols) tensor, or
// (L, rows, cols) when per_layer. `matrix` marks the tensors that get weight
// decay (2-D weights and embeddings, as nanoGPT's dim >= 2 rule, except the
// learned score biases: they are positional biases like the norms' vectors).
#define PELAB_MODEL_TENSORS(X)                                             \
  X(wte, false, s.V, s.C, true, ParamInit::NORMAL)        /* tied head */ \
  X(wpe, false, s.P, s.C, true, ParamInit::NORMAL)                        \
  X(ln1_w, true, s.NW, s.C, false, ParamInit::ONES)                       \
  X(ln1_b, true, s.NB, s.C, false, ParamInit::ZEROS)                      \
  X(wq, true, s.QK, s.C, true, ParamInit::NORMAL)                         \
  X(wk, true, s.QK, s.C, true, ParamInit::NORMAL)                         \
  X(wv, true, s.C, s.C, true, ParamInit::NORMAL)                          \
  X(wo, true, s.C, s.C, true, ParamInit::NORMAL_RESIDUAL)                 \
  X(attn_bias, true, s.HB, s.BC, false, s.bias_init)                      \
  X(ln2_w, true, s.NW, s.C, false, ParamInit::ONES)                       \
  X(ln2_b, true, s.NB, s.C, false, ParamInit::ZEROS)                      \
  X(w1, true, s.C, s.F, true, ParamInit::NORMAL)                          \
  X(w2, true, s.F, s.C, true, ParamInit::NORMAL_RESIDUAL)                 \
  X(lnf_w, false, s.NW, s.C, false, ParamInit::ONES)                      \
  X(lnf_b, false, s.NB, s.C, false, ParamInit::ZEROS)

struct ParamSymbols {
  int64_t V, C, F, L, H, P, NW, NB, QK, HB, BC;
  ParamInit bias_init;  // ZEROS for T5, KERPLE for KERPLE
  explicit ParamSymbols(const ModelConfig& cfg);
};

struct ParamTensor {
  std::string name;
  std::vector<int64_t> shape;  // (rows, cols) or (L, rows, cols); numel 0 when unused
  int64_t offset = 0;          // into the flat buffer
  int64_t numel = 0;
  int64_t per_layer = 0;       // elements of one layer's slice (numel for global tensors)
  bool matrix = false;         // weight decay applies
  ParamInit init = ParamInit::ZEROS;
};

// Offsets and shapes of every tensor for one config.
class ParameterLayout {
 public:
  explicit ParameterLayout(const ModelConfig& cfg);

  int64_t total() const { return total_; }
  const std::vector<ParamTensor>& tensors() const { return tensors_; }
  // Throws pelab::Error for an unknown name.
  const ParamTensor& tensor(const std::string& name) const;
  // One byte per parameter: 1 where weight decay applies (matrix tensors).
  std::vector<uint8_t> decay_mask() const;
  // Parameters that get weight decay / that do not.
  int64_t matrix_count() const;

 private:
  std::vector<ParamTensor> tensors_;
  int64_t total_ = 0;
};

// Named pointers into a flat buffer laid out by ParameterLayout, one per
// PELAB_MODEL_TENSORS entry (a tensor the config leaves out points at its
// empty slot). Per-layer tensors point at layer 0; layer(l) moves them to
// layer l's slice, e.g. views.layer(2).wq is layer 2's (C, C) Wq.
template <typename Real>
struct ParameterViews {
#define PELAB_X(name, per_layer, rows, cols, matrix, init) Real* name = nullptr;
  PELAB_MODEL_TENSORS(PELAB_X)
#undef PELAB_X
  ParameterViews() = default;
  ParameterViews(Real* base, const ParameterLayout& layout);  // layout must outlive the views
  ParameterViews layer(int l) const;

 private:
  const ParameterLayout* layout_ = nullptr;
};

// GPT-2 / nanoGPT initialisation of `params` (layout.total() values) from
// `seed`: every tensor drawn in layout order from one stream, in double and
// then rounded to Real (a float model holds its double twin's values rounded).
template <typename Real>
void init_parameters(Real* params, const ParameterLayout& layout, const ModelConfig& cfg, uint64_t seed);

// Parameter count for a config, by the formula (checked against the layout in tests):
//   V·C + P·C + L·(2·QK·C + 2·C² + 2·C·F + HB·BC + 2·(NW+NB)·C) + (NW+NB)·C
int64_t parameter_count(const ModelConfig& cfg);

}  // namespace pelab
