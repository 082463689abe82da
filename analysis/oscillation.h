// The oscillation index of a curve s[n] over distances n, one definition for
// theory curves (`pelab decay`) and measured ones (the statistics pass).
// docs/oscillation.md states it; keep the two in step.
#pragma once

#include <cstdint>

namespace pelab {

struct OscillationIndex {
  int64_t start = 0, end = 0;  // distances [start, end] the index covers
  // Σ_{n=start}^{end-1} |s[n+1] - s[n]| / (max s - min s) over the range:
  // 1 for a monotone curve, larger the more it swings back; 0 for a constant.
  double normalized_tv = 0.0;
  // Sign changes of the first difference Δs[n] = s[n+1] - s[n], steps with
  // |Δs| <= 1e-9·(max - min) skipped as flat: 0 for a monotone curve.
  int64_t sign_changes = 0;
  // The first n in the range with s[n] <= 0, or -1 if the curve stays positive.
  int64_t first_nonpositive = -1;
  // Fraction of the range's distances with s[n] < 0: how often a key at that
  // distance scores below an unrelated (zero-score) key. Unlike TV it ignores
  // the fast ripple that every RoPE base shares, and separates base 10,000
  // (about half of [0, 32768] negative at d = 128) from 500,000.
  double negative_fraction = 0.0;
};

// s holds at least end+1 values; 0 <= start <= end.
OscillationIndex oscillation_index(const double* s, int64_t start, int64_t end);

}  // namespace pelab
