#include "encodings/bias.h"

#include "core/error.h"

namespace pelab {

std::vector<double> alibi_slopes(int heads) {
  std::vector<double> m(heads);
  for (int h = 0; h < heads; ++h) m[h] = alibi_slope(h, heads);
  return m;
}

int64_t BiasParamShape::numel() const {
  if (dims.empty()) return 0;
  int64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

BiasParamShape bias_param_shape(const PeSpec& spec, int heads) {
  switch (spec.kind) {
    case PeKind::T5: return {{heads, spec.t5.num_buckets}};
    case PeKind::KERPLE: return {{heads, 3}};
    default: return {};
  }
}

double bias_value(const PeSpec& spec, const std::vector<double>& slopes, const float* params, int /*heads*/, int h, long n) {
  switch (spec.kind) {
    case PeKind::ALIBI:
      return AlibiBias{static_cast<float>(slopes[h]), static_cast<float>(spec.alibi_distance_scale)}(n, 0);
    case PeKind::T5:
      return T5Bias{params + static_cast<int64_t>(h) * spec.t5.num_buckets, spec.t5.num_buckets, spec.t5.max_distance,
                    spec.t5.bidirectional}(n, 0);
    case PeKind::KERPLE:
      return KerpleBias{spec.kerple.kind, params[3 * h], params[3 * h + 1], params[3 * h + 2]}(n, 0);
    default:
      return 0.0;
  }
}

std::vector<float> kerple_params_from_spec(const KerpleParams& k, int heads) {
  std::vector<float> out(3 * heads);
  const std::vector<double>* rows[3] = {&k.a, &k.b, &k.p};
  for (int r = 0; r < 3; ++r)
    for (int h = 0; h < heads; ++h) out[3 * h + r] = static_cast<float>(rows[r]->size() == 1 ? (*rows[r])[0] : (*rows[r])[h]);
  return out;
}

}  // namespace pelab
