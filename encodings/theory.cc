#include "encodings/theory.h"

#include <cmath>
#include <complex>

#include "encodings/bias.h"
#include "encodings/rope.h"
#include "encodings/sinusoidal_math.h"

namespace pelab {

double rope_allones_score(const std::vector<double>& inv_freq, int head_dim, double mscale, double n) {
  double sum = 0.0;
  for (double t : inv_freq) sum += 2.0 * std::cos(n * t);
  return mscale * mscale * sum / std::sqrt(static_cast<double>(head_dim));
}

double xpos_allones_score(const std::vector<double>& inv_freq, const std::vector<double>& zeta, int head_dim,
                          double scale_base, double n) {
  double sum = 0.0;
  for (size_t k = 0; k < inv_freq.size(); ++k) sum += 2.0 * std::cos(n * inv_freq[k]) * std::pow(zeta[k], n / scale_base);
  return sum / std::sqrt(static_cast<double>(head_dim));
}

double sinusoidal_allones_score(int dim, double n) {
  // pe(m)·pe(m+n) = Σ_k sin(mω)sin((m+n)ω) + cos(mω)cos((m+n)ω) = Σ_k cos(nω_k).
  double sum = 0.0;
  // dim is even (validate() requires it): an odd last sin(pω) would not be shift-invariant.
  for (int i = 0; i + 1 < dim; i += 2) sum += std::cos(n * std::pow(kSinusoidalBase, -static_cast<double>(i) / dim));
  return sum / std::sqrt(static_cast<double>(dim));
}

double rope_bound(const std::vector<double>& inv_freq, double n) {
  std::complex<double> S = 0.0;
  double total = 0.0;
  for (double t : inv_freq) {
    S += std::polar(1.0, n * t);  // S_m after adding term m-1
    total += std::abs(S);
  }
  return total / static_cast<double>(inv_freq.size());
}

DecayCurves decay_curves(const PeSpec& spec, int head_dim, int heads, int64_t N) {
  DecayCurves c;
  const int64_t len = N + 1;
  c.distance.resize(len);
  for (int64_t n = 0; n < len; ++n) c.distance[n] = n;

  switch (spec.family()) {
    case PeFamily::QK_TRANSFORM: {
      RopeParams r = spec.rope;
      r.dim = head_dim;
      c.inv_freq = rope_inv_freq_table(r, len);
      c.attention_scale = rope_attention_scale(r);
      c.allones.resize(len);
      c.rope_bound.resize(len);
      if (spec.kind == PeKind::XPOS) c.xpos_zeta = xpos_zeta_table(head_dim, spec.xpos.gamma);
#pragma omp parallel for schedule(static)
      for (int64_t n = 0; n < len; ++n) {
        c.allones[n] = spec.kind == PeKind::XPOS
                           ? c.attention_scale * c.attention_scale *
                                 xpos_allones_score(c.inv_freq, c.xpos_zeta, head_dim, spec.xpos.scale_base, n)
                           : rope_allones_score(c.inv_freq, head_dim, c.attention_scale, n);
        c.rope_bound[n] = rope_bound(c.inv_freq, n);
      }
      break;
    }
    case PeFamily::SCORE_BIAS: {
      if (spec.kind == PeKind::T5) {
        // Learned table: no theory curve until a model is trained; the bucket map is the theory.
        c.bucket.resize(len);
        for (int64_t n = 0; n < len; ++n)
          c.bucket[n] = t5_bucket(n, spec.t5.bidirectional, spec.t5.num_buckets, spec.t5.max_distance);
        c.allones.clear();
        break;
      }
      if (spec.kind == PeKind::ALIBI) c.slopes = alibi_slopes(heads);
      std::vector<float> params;
      if (spec.kind == PeKind::KERPLE) params = kerple_params_from_spec(spec.kerple, heads);
      c.bias.resize(heads * len);
      c.allones.resize(heads * len);
      c.allones_rows = heads;
      const double content = std::sqrt(static_cast<double>(head_dim));  // all-ones q·k/√d = √d
      for (int h = 0; h < heads; ++h)
        for (int64_t n = 0; n < len; ++n) {
          const double b = spec.kind == PeKind::ALIBI
                               ? -c.slopes[h] * spec.alibi_distance_scale * static_cast<double>(n)
                               : kerple_bias(spec.kerple.kind, static_cast<double>(n),
                                             spec.kerple.a.size() == 1 ? spec.kerple.a[0] : spec.kerple.a[h],
                                             spec.kerple.b.size() == 1 ? spec.kerple.b[0] : spec.kerple.b[h],
                                             spec.kerple.p.size() == 1 ? spec.kerple.p[0] : spec.kerple.p[h]);
          c.bias[h * len + n] = b;
          c.allones[h * len + n] = content + b;
        }
      break;
    }
    case PeFamily::ABSOLUTE: {
      c.allones.resize(len);
      for (int64_t n = 0; n < len; ++n)
        c.allones[n] = spec.kind == PeKind::SINUSOIDAL ? sinusoidal_allones_score(head_dim, n)
                                                       : std::sqrt(static_cast<double>(head_dim));
      break;
    }
  }
  return c;
}

}  // namespace pelab
