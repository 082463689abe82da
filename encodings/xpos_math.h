// xPos math (arXiv 2212.10554), shared by CPU and CUDA.
//
// The paper's eq. 9: ζ̃_k = (k/(d/2) + γ)/(1 + γ) = (2k + γ·d)/((1 + γ)·d).
// We follow the reference code (sunyt32/torchscale xpos_relative_position.py),
// which departs from eq. 10 twice: positions are centred on len//2, and the
// exponent is divided by scale_base (512). q is multiplied by ζ^((p-c)/B) and k
// divided by it, so q_i·k_j carries ζ^((i-j)/B): the centre cancels in the
// score and only keeps each factor in floating-point range.
#pragma once

#include <cmath>

#include "core/hd.h"

namespace pelab {

struct XposParams {
  double gamma = 0.4;         // γ: torchscale's 0.4·d offset
  double scale_base = 512.0;  // B: exponent divisor
};

// ζ_k for pair k of a head with `dim` rotary dims.
PELAB_HD inline double xpos_zeta(int k, int dim, double gamma) {
  return (2.0 * k + gamma * dim) / ((1.0 + gamma) * dim);
}

// Scale for pair k at position p: ζ_k^(sign·(p - centre)/B); sign +1 for q, -1 for k.
PELAB_HD inline double xpos_scale(double zeta, double pos, double centre, double scale_base, int sign) {
  return pow(zeta, sign * (pos - centre) / scale_base);
}

}  // namespace pelab
