// The q/k-transform hook: RoPE (any base, both layouts, every scaling) and
// xPos, applied in place to q or k before attention. Math in rope_math.h and
// xpos_math.h; this file loops over rows and heads on the CPU.
#pragma once

#include <cstdint>
#include <vector>

#include "encodings/pe_spec.h"

namespace pelab {

// θ'_k for k = 0 .. dim/2-1 after scaling; L_cur is the sequence length the
// frequencies serve (it matters only for dynamic NTK).
std::vector<double> rope_inv_freq_table(const RopeParams& p, long L_cur);

// xPos ζ_k for k = 0 .. dim/2-1.
std::vector<double> xpos_zeta_table(int dim, double gamma);

template <typename T>
struct RopeApplyParams {
  T* x = nullptr;                    // (rows, heads, head_dim), transformed in place; last dim contiguous
  int64_t row_stride = 0;            // elements between consecutive rows
  int64_t head_stride = 0;           // elements between heads within a row
  int rows = 0, heads = 0, head_dim = 0;
  const double* positions = nullptr; // (rows): real positions; scaled, offset or random ones need no special path
  const double* inv_freq = nullptr;  // (rot_dim/2) from rope_inv_freq_table
  int rot_dim = 0;                   // rotated dims (even, <= head_dim); the rest pass through (partial rotary)
  RopeLayout layout = RopeLayout::HALF_SPLIT;
  double mscale = 1.0;               // YaRN attention scale, multiplies cos and sin
  const double* xpos_zeta = nullptr; // (rot_dim/2): xPos when set, plain RoPE when null
  double xpos_centre = 0.0;          // reference code: len//2 of the sequence
  double xpos_scale_base = 512.0;
  int xpos_sign = +1;                // +1 for q (multiply by ζ^e), -1 for k (divide)
};

// Forward: x <- S·R(pos·θ)·x per pair (S = mscale·ζ^e).
template <typename T> void rope_forward(const RopeApplyParams<T>& p);
// Backward: x holds dL/dy on entry and dL/dx on exit: dx = (S·R)ᵀ dy = S·R(-pos·θ)·dy.
// For plain RoPE (S = 1) this is the inverse rotation.
template <typename T> void rope_backward(const RopeApplyParams<T>& p);

}  // namespace pelab
