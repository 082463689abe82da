// RoPE family math, written once for CPU and CUDA (PELAB_HD).
//
// Notation (shared/reference/positional-encodings.md): head dim d, pair index
// k = 0 .. d/2-1, base b, θ_k = b^(-2k/d) (RoFormer eq. 15; HF inv_freq),
// wavelength λ_k = 2π/θ_k, scale s = L'/L, original (training) length L.
//
// Scalings change θ_k (and, for YaRN, an attention scale that multiplies cos
// and sin). Each is transcribed from its reference code, cited beside it.
#pragma once

#include <cmath>

#include "core/hd.h"

namespace pelab {

enum class RopeLayout : int {
  INTERLEAVED = 0,  // pair k = (x[2k], x[2k+1]): RoFormer eq. 34, GPT-J, flash-attn interleaved=True
  HALF_SPLIT = 1,   // pair k = (x[k], x[k + d/2]): GPT-NeoX, Llama, HF rotate_half
};

enum class RopeScaling : int {
  NONE = 0,
  LINEAR,        // Position Interpolation: θ_k / s (arXiv 2306.15595; HF "linear")
  NTK,           // static NTK-aware: b' = b · s^(d/(d-2)) (jquesnelle/yarn LlamaNTKScaledRotaryEmbedding)
  DYNAMIC_NTK,   // b' = b · (s·L_cur/L - (s-1))^(d/(d-2)) when L_cur > L (HF _compute_dynamic_ntk_parameters)
  NTK_BY_PARTS,  // YaRN §3.2: ramp γ(r_k), r_k = L/λ_k, α = beta_slow, β = beta_fast, no attention scale
  YARN,          // YaRN §3.4 reference code: integer ramp over dims + attention scale 0.1 ln s + 1
  LLAMA3,        // HF _compute_llama3_parameters (Llama 3.1)
};

// Everything that fixes the rotary frequencies: a POD that kernels take by value.
struct RopeParams {
  int dim = 0;                    // rotary dims d (even); θ_k = b^(-2k/d)
  double base = 10000.0;          // b
  RopeScaling scaling = RopeScaling::NONE;
  double factor = 1.0;            // s
  int original_length = 0;        // L: training context (ntk-by-parts, yarn, llama3, dynamic-ntk)
  double low_freq_factor = 1.0;   // llama3
  double high_freq_factor = 4.0;  // llama3
  double beta_fast = 32.0;        // yarn / ntk-by-parts: rotations per L above which θ is kept
  double beta_slow = 1.0;         // yarn / ntk-by-parts: rotations per L below which θ is divided by s
  double attention_factor = 0.0;  // yarn: multiplier of cos and sin; 0 means 0.1·ln s + 1
  RopeLayout layout = RopeLayout::HALF_SPLIT;
};

inline constexpr double kPi = 3.14159265358979323846;

// θ_k = b^(-2k/d)
PELAB_HD inline double rope_theta(double base, int k, int dim) {
  return pow(base, -2.0 * k / dim);
}

// NTK-aware base: the lowest frequency (k = d/2-1) is divided by s, the highest kept.
PELAB_HD inline double rope_ntk_base(double base, double s, int dim) {
  return base * pow(s, static_cast<double>(dim) / (dim - 2));
}

// Dynamic NTK at current length L_cur: the base grows only past L.
PELAB_HD inline double rope_dynamic_ntk_base(double base, double s, int dim, int L, long L_cur) {
  if (L_cur <= L) return base;
  return base * pow(s * static_cast<double>(L_cur) / L - (s - 1.0), static_cast<double>(dim) / (dim - 2));
}

// YaRN reference code find_correction_dim: the (fractional) pair index whose
// wavelength makes n_rot rotations over L tokens, d·ln(L/(2π·n_rot)) / (2·ln b).
PELAB_HD inline double yarn_correction_dim(double n_rot, int dim, double base, int L) {
  return dim * log(L / (n_rot * 2.0 * kPi)) / (2.0 * log(base));
}

// YaRN find_correction_range with HF's default truncate=true: [low, high] in
// pair-index units, floor/ceil and clamped to [0, d-1] (d, not d/2, as in the code).
PELAB_HD inline void yarn_correction_range(const RopeParams& p, double* low, double* high) {
  double lo = floor(yarn_correction_dim(p.beta_fast, p.dim, p.base, p.original_length));
  double hi = ceil(yarn_correction_dim(p.beta_slow, p.dim, p.base, p.original_length));
  *low = lo < 0 ? 0 : lo;
  *high = hi > p.dim - 1 ? p.dim - 1 : hi;
}

// Linear ramp in k from low (0) to high (1), clamped; high += 0.001 when equal.
PELAB_HD inline double yarn_ramp(int k, double low, double high) {
  if (low == high) high += 0.001;
  double r = (k - low) / (high - low);
  return r < 0 ? 0 : (r > 1 ? 1 : r);
}

// YaRN §3.2 γ(r): 0 below α, 1 above β, linear between.
PELAB_HD inline double ntk_by_parts_gamma(double r, double alpha, double beta) {
  if (r < alpha) return 0.0;
  if (r > beta) return 1.0;
  return (r - alpha) / (beta - alpha);
}

// The base after NTK-style scalings (b itself for the others). L_cur matters
// only for dynamic NTK: the sequence length the frequencies are built for.
PELAB_HD inline double rope_effective_base(const RopeParams& p, long L_cur) {
  switch (p.scaling) {
    case RopeScaling::NTK: return rope_ntk_base(p.base, p.factor, p.dim);
    case RopeScaling::DYNAMIC_NTK: return rope_dynamic_ntk_base(p.base, p.factor, p.dim, p.original_length, L_cur);
    default: return p.base;
  }
}

// θ'_k after scaling: the inv_freq entry k that the rotation uses.
PELAB_HD inline double rope_inv_freq(const RopeParams& p, int k, long L_cur) {
  const double theta = rope_theta(rope_effective_base(p, L_cur), k, p.dim);
  const double s = p.factor;
  switch (p.scaling) {
    case RopeScaling::NONE:
    case RopeScaling::NTK:
    case RopeScaling::DYNAMIC_NTK:
      return theta;
    case RopeScaling::LINEAR:
      return theta / s;
    case RopeScaling::NTK_BY_PARTS: {
      // θ' = (1-γ)·θ/s + γ·θ with r_k = L/λ_k rotations over the original context.
      const double r = p.original_length * theta / (2.0 * kPi);
      const double g = ntk_by_parts_gamma(r, p.beta_slow, p.beta_fast);
      return (1.0 - g) * theta / s + g * theta;
    }
    case RopeScaling::YARN: {
      // HF: inv_freq = interp·(1 - extrap_factor) + extrap·extrap_factor,
      // extrap_factor = 1 - ramp(k): dims below `low` keep θ, above `high` get θ/s.
      double low, high;
      yarn_correction_range(p, &low, &high);
      const double extrap = 1.0 - yarn_ramp(k, low, high);
      return (theta / s) * (1.0 - extrap) + theta * extrap;
    }
    case RopeScaling::LLAMA3: {
      const double wavelen = 2.0 * kPi / theta;
      const double low_freq_wavelen = p.original_length / p.low_freq_factor;
      const double high_freq_wavelen = p.original_length / p.high_freq_factor;
      if (wavelen > low_freq_wavelen) return theta / s;
      if (wavelen < high_freq_wavelen) return theta;
      const double a = (p.original_length / wavelen - p.low_freq_factor) / (p.high_freq_factor - p.low_freq_factor);
      return (1.0 - a) * theta / s + a * theta;
    }
  }
  return theta;
}

// YaRN get_mscale: 0.1·ln s + 1 for s > 1, else 1.
PELAB_HD inline double yarn_mscale(double s) { return s <= 1.0 ? 1.0 : 0.1 * log(s) + 1.0; }

// The multiplier of cos and sin (so logits scale by its square). Only YaRN
// has one; it is applied exactly once (sglang PR #33558 squared it by mistake).
PELAB_HD inline double rope_attention_scale(const RopeParams& p) {
  if (p.scaling != RopeScaling::YARN) return 1.0;
  return p.attention_factor > 0 ? p.attention_factor : yarn_mscale(p.factor);
}

// Element indices of pair k in a head of `dim` rotary dims.
PELAB_HD inline void rope_pair(RopeLayout layout, int k, int dim, int* i0, int* i1) {
  if (layout == RopeLayout::INTERLEAVED) {
    *i0 = 2 * k;
    *i1 = 2 * k + 1;
  } else {
    *i0 = k;
    *i1 = k + dim / 2;
  }
}

// (u, v) <- R(φ)(u, v) scaled: u' = u·c - v·s, v' = u·s + v·c, where c and s
// already hold the scale. The backward is the same call with s negated (R is
// orthogonal: the gradient is the inverse rotation, flash-attn conjugate=True).
template <typename T>
PELAB_HD inline void rope_rotate(T* u, T* v, T c, T s) {
  const T a = *u, b = *v;
  *u = a * c - b * s;
  *v = a * s + b * c;
}

}  // namespace pelab
