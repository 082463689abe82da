#include "model/parameters.h"

#include <cmath>
#include <random>

#include "core/error.h"
#include "encodings/bias.h"

namespace pelab {

ParamSymbols::ParamSymbols(const ModelConfig& cfg) {
  V = cfg.vocab;
  C = cfg.d_model;
  F = cfg.hidden();
  L = cfg.n_layers;
  H = cfg.n_heads;
  P = cfg.pe.kind == PeKind::LEARNED ? cfg.max_len : 0;
  NW = cfg.norm == NormKind::NONE ? 0 : 1;
  NB = cfg.norm == NormKind::LAYERNORM ? 1 : 0;
  QK = cfg.qk_proj ? C : 0;
  const BiasParamShape bias = bias_param_shape(cfg.pe, cfg.n_heads);  // {H, buckets} / {H, 3} / {}
  HB = bias.dims.empty() ? 0 : bias.dims[0];
  BC = bias.dims.empty() ? 0 : bias.dims[1];
  bias_init = cfg.pe.kind == PeKind::KERPLE ? ParamInit::KERPLE : ParamInit::ZEROS;
}

ParameterLayout::ParameterLayout(const ModelConfig& cfg) {
  const ParamSymbols s(cfg);
#define PELAB_X(name_, per_layer_, rows, cols, matrix_, init_)                                 \
  {                                                                                            \
    ParamTensor t;                                                                             \
    t.name = #name_;                                                                           \
    t.per_layer = (rows) * (cols);                                                             \
    t.shape = per_layer_ ? std::vector<int64_t>{s.L, rows, cols} : std::vector<int64_t>{rows, cols}; \
    t.numel = t.per_layer * (per_layer_ ? s.L : 1);                                            \
    t.offset = total_;                                                                         \
    t.matrix = matrix_;                                                                        \
    t.init = init_;                                                                            \
    total_ += t.numel;                                                                         \
    tensors_.push_back(std::move(t));                                                          \
  }
  PELAB_MODEL_TENSORS(PELAB_X)
#undef PELAB_X
}

const ParamTensor& ParameterLayout::tensor(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return t;
  throw Error("no parameter tensor named '" + name + "'", "see PELAB_MODEL_TENSORS in model/parameters.h");
}

std::vector<uint8_t> ParameterLayout::decay_mask() const {
  std::vector<uint8_t> mask(total_, 0);
  for (const auto& t : tensors_)
    if (t.matrix) std::fill(mask.begin() + t.offset, mask.begin() + t.offset + t.numel, 1);
  return mask;
}

int64_t ParameterLayout::matrix_count() const {
  int64_t n = 0;
  for (const auto& t : tensors_) n += t.matrix ? t.numel : 0;
  return n;
}

template <typename Real>
ParameterViews<Real>::ParameterViews(Real* base, const ParameterLayout& layout) : layout_(&layout) {
  size_t i = 0;
#define PELAB_X(name_, per_layer, rows, cols, matrix, init) name_ = base + layout.tensors()[i++].offset;
  PELAB_MODEL_TENSORS(PELAB_X)
#undef PELAB_X
}

template <typename Real>
ParameterViews<Real> ParameterViews<Real>::layer(int l) const {
  ParameterViews v = *this;
  size_t i = 0;
#define PELAB_X(name_, per_layer_, rows, cols, matrix, init) \
  if (per_layer_) v.name_ += l * layout_->tensors()[i].per_layer;  \
  ++i;
  PELAB_MODEL_TENSORS(PELAB_X)
#undef PELAB_X
  return v;
}

namespace {

// N(0, 1) by Box-Muller from a 64-bit Mersenne Twister: unlike
// std::normal_distribution, the same numbers on every standard library.
struct Normal {
  std::mt19937_64 gen;
  bool has_spare = false;
  double spare = 0.0;
  explicit Normal(uint64_t seed) : gen(seed) {}
  double uniform() { return (static_cast<double>(gen() >> 11) + 0.5) * 0x1p-53; }  // (0, 1)
  double operator()() {
    if (has_spare) {
      has_spare = false;
      return spare;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform())), phi = 2.0 * kPi * uniform();
    spare = r * std::sin(phi);
    has_spare = true;
    return r * std::cos(phi);
  }
};

}  // namespace

template <typename Real>
void init_parameters(Real* params, const ParameterLayout& layout, const ModelConfig& cfg, uint64_t seed) {
  constexpr double kStd = 0.02;
  Normal normal(seed);
  const double resid_std = kStd / std::sqrt(2.0 * cfg.n_layers);
  const std::vector<float> kerple = kerple_params_from_spec(cfg.pe.kerple, cfg.n_heads);  // (H, 3)
  for (const auto& t : layout.tensors()) {
    Real* p = params + t.offset;
    for (int64_t i = 0; i < t.numel; ++i) {
      switch (t.init) {
        case ParamInit::NORMAL: p[i] = static_cast<Real>(kStd * normal()); break;
        case ParamInit::NORMAL_RESIDUAL: p[i] = static_cast<Real>(resid_std * normal()); break;
        case ParamInit::ONES: p[i] = Real(1); break;
        case ParamInit::ZEROS: p[i] = Real(0); break;
        case ParamInit::KERPLE: p[i] = static_cast<Real>(kerple[i % t.per_layer]); break;
      }
    }
  }
}

int64_t parameter_count(const ModelConfig& cfg) {
  const ParamSymbols s(cfg);
  return s.V * s.C + s.P * s.C +
         s.L * (2 * s.QK * s.C + 2 * s.C * s.C + 2 * s.C * s.F + s.HB * s.BC + 2 * (s.NW + s.NB) * s.C) +
         (s.NW + s.NB) * s.C;
}

template struct ParameterViews<float>;
template struct ParameterViews<double>;
template void init_parameters<float>(float*, const ParameterLayout&, const ModelConfig&, uint64_t);
template void init_parameters<double>(double*, const ParameterLayout&, const ModelConfig&, uint64_t);

}  // namespace pelab
