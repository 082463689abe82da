// The absolute hook: an encoding of each token's position added to its
// embedding. Sinusoidal is fixed; learned is a trained table wpe (undefined
// past the trained length); none (NoPE) adds nothing.
#pragma once

#include <cstdint>

namespace pelab {

// x (rows, C) += PE(positions[r]) for the sinusoidal encoding (no parameters,
// so the backward passes dx through unchanged).
template <typename T>
void sinusoidal_add_forward(T* x, const double* positions, int rows, int C);

// x (rows, C) += wpe[positions[r]]; positions must be integers in [0, max_len).
template <typename T>
void learned_pe_add_forward(T* x, const T* wpe, const double* positions, int rows, int C, int max_len);
// dwpe (max_len, C) += dx rows at their positions (parameter gradients accumulate).
template <typename T>
void learned_pe_add_backward(T* dwpe, const T* dx, const double* positions, int rows, int C, int max_len);

}  // namespace pelab
