// The q/k-transform hook: RoPE (any base, both layouts, every scaling) and
// xPos, applied in place to q or k before attention. Math in rope_math.h,
// xpos_math.h and rope_apply.h; rope.cc loops over rows on the CPU.
#pragma once

#include <cstdint>
#include <vector>

#include "encodings/pe_spec.h"
#include "encodings/rope_apply.h"

namespace pelab {

// θ'_k for k = 0 .. dim/2-1 after scaling; L_cur is the sequence length the
// frequencies serve (it matters only for dynamic NTK).
std::vector<double> rope_inv_freq_table(const RopeParams& p, long L_cur);

// xPos ζ_k for k = 0 .. dim/2-1.
std::vector<double> xpos_zeta_table(int dim, double gamma);


// Forward: x <- S·R(pos·θ)·x per pair (S = mscale·ζ^e).
template <typename T> void rope_forward(const RopeApplyParams<T>& p);
// Backward: x holds dL/dy on entry and dL/dx on exit: dx = (S·R)ᵀ dy = S·R(-pos·θ)·dy.
// For plain RoPE (S = 1) this is the inverse rotation.
template <typename T> void rope_backward(const RopeApplyParams<T>& p);

#ifdef PELAB_WITH_CUDA
// The same on the GPU (encodings/cuda/rope_cuda.cu): x, positions, inv_freq and
// xpos_zeta in device memory; fp32.
void rope_forward_cuda(const RopeApplyParams<float>& p);
void rope_backward_cuda(const RopeApplyParams<float>& p);
#endif

}  // namespace pelab
