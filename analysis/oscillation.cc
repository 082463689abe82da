#include "analysis/oscillation.h"

#include <algorithm>
#include <cmath>

namespace pelab {

OscillationIndex oscillation_index(const double* s, int64_t start, int64_t end) {
  OscillationIndex o;
  o.start = start;
  o.end = end;
  double lo = s[start], hi = s[start], tv = 0.0;
  int64_t negative = 0;
  for (int64_t n = start; n <= end; ++n) {
    negative += s[n] < 0;
    lo = std::min(lo, s[n]);
    hi = std::max(hi, s[n]);
    if (n < end) tv += std::fabs(s[n + 1] - s[n]);
    if (o.first_nonpositive < 0 && s[n] <= 0) o.first_nonpositive = n;
  }
  o.negative_fraction = static_cast<double>(negative) / static_cast<double>(end - start + 1);
  const double range = hi - lo;
  if (range <= 0) return o;
  o.normalized_tv = tv / range;
  const double flat = 1e-9 * range;
  int last_sign = 0;
  for (int64_t n = start; n < end; ++n) {
    const double d = s[n + 1] - s[n];
    if (std::fabs(d) <= flat) continue;
    const int sign = d > 0 ? 1 : -1;
    if (last_sign != 0 && sign != last_sign) ++o.sign_changes;
    last_sign = sign;
  }
  return o;
}

}  // namespace pelab
