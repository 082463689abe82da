// Score-bias family math, shared by CPU and CUDA: ALiBi slopes and the bias
// functors that attention kernels call inside their tile loops. A bias is
// added to the already-scaled logits q·k/√d, never scaled itself (ALiBi fn. 10).
//
// Functors take the query and key *positions* (i, j) and return the true bias,
// e.g. -m·(i-j) for ALiBi. (FlashAttention's causal kernel adds the row-shifted
// +m·j instead, fine for the softmax but not for exported scores or LSE.)
#pragma once

#include <cmath>

#include "core/hd.h"

namespace pelab {

// ALiBi slope of head h (0-indexed) among n heads (arXiv 2108.12409).
// n a power of 2: 2^(-8(h+1)/n). Otherwise, with c = 2^floor(log2 n), the
// reference code (ofirpress/attention_with_linear_biases fairseq
// transformer.py, get_slopes) takes the c slopes of P(c) followed by every
// other slope of P(2c), i.e. 2^(-8(2(h-c)+1)/(2c)) for h >= c.
PELAB_HD inline double alibi_slope(int h, int n) {
  int c = 1;
  while (c * 2 <= n) c *= 2;
  if (h < c) return exp2(-8.0 * (h + 1) / c);
  return exp2(-8.0 * (2 * (h - c) + 1) / (2.0 * c));
}

// -m·|i-j|·scale. For causal attention j <= i, so this is -m·(i-j); the
// non-causal form matches flash-attn's -slope·|row - col|. distance_scale < 1
// interpolates distances (ALiBi with PI, arXiv 2310.13017).
struct AlibiBias {
  float slope;           // m_h
  float distance_scale;  // 1 for plain ALiBi
  PELAB_HD float operator()(double i, double j) const {
    return -slope * distance_scale * static_cast<float>(fabs(i - j));
  }
};

// T5 relative-position bucket (mesh-tensorflow _relative_position_bucket):
// n = i - j; exact buckets for small n, log-spaced up to max_distance, and
// every larger distance shares the last bucket (T5's "extrapolation" is saturation).
PELAB_HD inline int t5_bucket(long n, bool bidirectional, int num_buckets, int max_distance) {
  int ret = 0;
  if (bidirectional) {
    num_buckets /= 2;
    if (n < 0) ret += num_buckets;
    n = n < 0 ? -n : n;
  } else {
    n = n < 0 ? 0 : n;
  }
  const int max_exact = num_buckets / 2;
  if (n < max_exact) return ret + static_cast<int>(n);
  // float32 logs as in the reference (tf.log on tf.to_float).
  int large = max_exact + static_cast<int>(logf(static_cast<float>(n) / max_exact) /
                                           static_cast<float>(log(static_cast<double>(max_distance) / max_exact)) *
                                           (num_buckets - max_exact));
  if (large > num_buckets - 1) large = num_buckets - 1;
  return ret + large;
}

// Learned T5 bias of one head: table row (num_buckets) of that head.
struct T5Bias {
  const float* table;  // (num_buckets) for this head
  int num_buckets;
  int max_distance;
  bool bidirectional;
  PELAB_HD float operator()(double i, double j) const {
    return table[t5_bucket(static_cast<long>(i - j), bidirectional, num_buckets, max_distance)];
  }
};

// KERPLE (arXiv 2205.09921) with per-head learned a, b, p > 0:
//   log:   -b·ln(1 + a·|i-j|^p)   (NeMo: -kerple_b·log(1 + kerple_a·|r|^kerple_p))
//   power: -a·|i-j|^p
enum class KerpleKind : int { LOG = 0, POWER = 1 };

PELAB_HD inline double kerple_bias(KerpleKind kind, double r, double a, double b, double p) {
  const double rp = pow(fabs(r), p);
  return kind == KerpleKind::LOG ? -b * log1p(a * rp) : -a * rp;
}

// ∂bias/∂(a, b, p) at distance r, for learned-parameter gradients. At r = 0
// the bias is 0 for every (a, b, p): all derivatives are 0 (r^p·ln r -> 0).
PELAB_HD inline void kerple_bias_grad(KerpleKind kind, double r, double a, double b, double p, double* da, double* db,
                                      double* dp) {
  r = fabs(r);
  if (r == 0.0) {
    *da = *db = *dp = 0.0;
    return;
  }
  const double rp = pow(r, p), lr = log(r);
  if (kind == KerpleKind::LOG) {
    const double u = 1.0 + a * rp;
    *da = -b * rp / u;
    *db = -log(u);
    *dp = -b * a * rp * lr / u;
  } else {
    *da = -rp;
    *db = 0.0;
    *dp = -a * rp * lr;
  }
}

struct KerpleBias {
  KerpleKind kind;
  float a, b, p;
  PELAB_HD float operator()(double i, double j) const {
    return static_cast<float>(kerple_bias(kind, i - j, a, b, p));
  }
};

}  // namespace pelab
