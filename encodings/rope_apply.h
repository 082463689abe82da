// The RoPE/xPos apply step on one (row, pair) for every head, written once for
// the CPU loop (rope.cc) and the CUDA kernel (encodings/cuda/rope_cuda.cu).
#pragma once

#include <cmath>
#include <cstdint>

#include "core/hd.h"
#include "encodings/rope_math.h"
#include "encodings/xpos_math.h"

namespace pelab {

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

// Pair k of row r in every head: forward (direction +1) x <- S·R(pos·θ_k)·x,
// backward (direction -1) dx = (S·R)ᵀ·dy = S·R(-pos·θ_k)·dy.
template <typename T>
PELAB_HD inline void rope_apply_pair(const RopeApplyParams<T>& p, int64_t r, int k, int direction) {
  const double pos = p.positions[r];
  // Angles in double: pos·θ loses digits in fp32 at long positions (flash-attn rotary).
  const double angle = pos * p.inv_freq[k];
  double scale = p.mscale;
  if (p.xpos_zeta) scale *= xpos_scale(p.xpos_zeta[k], pos, p.xpos_centre, p.xpos_scale_base, p.xpos_sign);
  const T c = static_cast<T>(cos(angle) * scale);
  const T s = static_cast<T>(direction * sin(angle) * scale);
  int i0, i1;
  rope_pair(p.layout, k, p.rot_dim, &i0, &i1);
  T* row = p.x + r * p.row_stride;
  for (int h = 0; h < p.heads; ++h) {
    T* x = row + h * p.head_stride;
    rope_rotate(&x[i0], &x[i1], c, s);
  }
}

}  // namespace pelab
