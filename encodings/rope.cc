#include "encodings/rope.h"

#include <cmath>

#include "core/error.h"

namespace pelab {

std::vector<double> rope_inv_freq_table(const RopeParams& p, long L_cur) {
  std::vector<double> t(p.dim / 2);
  for (int k = 0; k < p.dim / 2; ++k) t[k] = rope_inv_freq(p, k, L_cur);
  return t;
}

std::vector<double> xpos_zeta_table(int dim, double gamma) {
  std::vector<double> t(dim / 2);
  for (int k = 0; k < dim / 2; ++k) t[k] = xpos_zeta(k, dim, gamma);
  return t;
}

namespace {

template <typename T>
void rope_apply(const RopeApplyParams<T>& p, int direction) {
  PELAB_CHECK(p.rot_dim % 2 == 0 && p.rot_dim <= p.head_dim && p.rot_dim > 0,
              "rotary dims must be even and at most the head dim, got " << p.rot_dim << " of " << p.head_dim,
              "use an even head dim");
  const int half = p.rot_dim / 2;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < p.rows; ++r)
    for (int k = 0; k < half; ++k) rope_apply_pair(p, r, k, direction);
}

}  // namespace

template <typename T> void rope_forward(const RopeApplyParams<T>& p) { rope_apply(p, +1); }
template <typename T> void rope_backward(const RopeApplyParams<T>& p) { rope_apply(p, -1); }

template void rope_forward<float>(const RopeApplyParams<float>&);
template void rope_forward<double>(const RopeApplyParams<double>&);
template void rope_backward<float>(const RopeApplyParams<float>&);
template void rope_backward<double>(const RopeApplyParams<double>&);

}  // namespace pelab
