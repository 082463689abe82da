// The score-bias hook: a functor bias(h, i, j) added to scaled logits inside
// the attention kernel (functors in bias_math.h). This file holds the host-side
// pieces: slope lists and the shapes of learned bias parameters.
#pragma once

#include <cstdint>
#include <vector>

#include "encodings/pe_spec.h"

namespace pelab {

// ALiBi slopes m_h for h = 0 .. heads-1 (bias_math.h alibi_slope).
std::vector<double> alibi_slopes(int heads);

// Learned bias parameters of one attention layer, flat, with their shapes:
//   t5:     table (heads, num_buckets)
//   kerple: (heads, 3): a, b, p of each head
// Empty for ALiBi and for non-bias encodings.
struct BiasParamShape {
  std::vector<int64_t> dims;  // e.g. {heads, num_buckets}
  int64_t numel() const;
};
BiasParamShape bias_param_shape(const PeSpec& spec, int heads);

// The bias of head h at distance n = i - j, with learned parameters `params`
// laid out as bias_param_shape says (ignored for ALiBi). For curves and tests;
// kernels use the functors directly.
double bias_value(const PeSpec& spec, const std::vector<double>& slopes, const float* params, int heads, int h, long n);

// KERPLE parameters from a spec as the (heads, 3) block bias_value expects.
std::vector<float> kerple_params_from_spec(const KerpleParams& k, int heads);

}  // namespace pelab
