// Each encoding's theory: the curves `pelab decay` writes, as functions of
// the distance n = i - j between query and key.
//
//   allones_score: pre-softmax score q·k/√d with all-ones q and k after the
//     position transform (ABF, arXiv 2309.16039 Fig. 4). Each RoPE pair gives
//     [1,1]·R(nθ_k)·[1,1]ᵀ = 2cos(nθ_k), so A(n) = mscale²·Σ_k 2cos(nθ_k)/√d;
//     xPos multiplies term k by ζ_k^(n/B); sinusoidal gives pe(m)·pe(m+n)/√d
//     = Σ_k cos(nω_k)/√d for every m; score biases give √d + bias_h(n).
//   rope_bound: RoFormer §3.4.3 B(n) = (1/(d/2))·Σ_{m=1}^{d/2} |S_m|,
//     S_m = Σ_{l<m} e^{i·n·θ_l} (with the scaled θ').
//   min_rope_base_for: the base lower bound of arXiv 2405.14591 (below).
#pragma once

#include <cstdint>
#include <vector>

#include "encodings/pe_spec.h"

namespace pelab {

struct DecayCurves {
  std::vector<int64_t> distance;   // (N+1): 0 .. N
  std::vector<double> allones;     // (allones_rows, N+1); empty for T5 (learned, no theory)
  int allones_rows = 1;            // 1, or heads for score biases (the score differs per head)
  std::vector<double> rope_bound;  // (N+1), RoPE family only
  std::vector<double> inv_freq;    // (d/2), RoPE family only, after scaling
  std::vector<double> xpos_zeta;   // (d/2), xPos only
  double attention_scale = 1.0;    // YaRN's cos/sin multiplier; 1 otherwise
  std::vector<double> slopes;      // (heads), ALiBi only
  std::vector<double> bias;        // (heads, N+1), ALiBi and KERPLE
  std::vector<int64_t> bucket;     // (N+1), T5 only: the bucket each distance falls in
};

// Curves for n = 0 .. max_distance. Dynamic NTK builds its frequencies for a
// sequence of max_distance + 1 tokens (the shortest that contains distance N).
DecayCurves decay_curves(const PeSpec& spec, int head_dim, int heads, int64_t max_distance);

// Single points, for tests and for curves of measured frequencies.
double rope_allones_score(const std::vector<double>& inv_freq, int head_dim, double mscale, double n);
double xpos_allones_score(const std::vector<double>& inv_freq, const std::vector<double>& zeta, int head_dim,
                          double scale_base, double n);
double sinusoidal_allones_score(int dim, double n);
double rope_bound(const std::vector<double>& inv_freq, double n);

// The RoPE base lower bound of arXiv 2405.14591 (eq. 11) for context length L:
//   B_m(b) = Σ_{i=0}^{d/2-1} cos(m·θ_i), θ_i = b^(-2i/d);
//   base_L = inf{ b | B_m(b) >= 0 for every integer m in [0, L] }.
// B is not monotone in b (bases that pass sit in islands below the first
// passing interval), so no bisection: this returns the smallest base on the
// grid b_k = 10^(k / per_decade), k = 0, 1, ... (up to 1e12) that passes.
// Every grid base below it fails, either by an m found with B_m < 0 or
// skipped by the bound |dB_m/d ln b| <= S_m (theory.cc) from such an m.
// Islands narrower than a grid step can be missed, so the result can drop
// when per_decade grows (README.md "RoPE base lower bound").
// `from` starts the grid there: a base failing for L' < L fails for L, so
// the result for a shorter length is a valid start. Throws when no base up
// to 1e12 passes (d = 2: B_m = cos m fails at m = 2 for every base).
inline constexpr int kMinBaseGridPerDecade = 10000;  // grid ratio 10^(1e-4), a 0.023% step
double min_rope_base_for(int64_t L, int head_dim, int per_decade = kMinBaseGridPerDecade, double from = 1.0);

}  // namespace pelab
