// Sinusoidal absolute encoding (arXiv 1706.03762 §3.5), shared by CPU and CUDA:
// PE(p, 2k) = sin(p / 10000^(2k/d)), PE(p, 2k+1) = cos(p / 10000^(2k/d)).
#pragma once

#include <cmath>

#include "core/hd.h"

namespace pelab {

inline constexpr double kSinusoidalBase = 10000.0;

// Component i of the encoding of position p in a d-dimensional model.
PELAB_HD inline double sinusoidal_pe(double p, int i, int d) {
  const int k = i / 2;
  const double angle = p * pow(kSinusoidalBase, -2.0 * k / d);
  return (i % 2 == 0) ? sin(angle) : cos(angle);
}

}  // namespace pelab
