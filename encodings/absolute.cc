#include "encodings/absolute.h"

#include <cmath>

#include "core/error.h"
#include "encodings/sinusoidal_math.h"

namespace pelab {

template <typename T>
void sinusoidal_add_forward(T* x, const double* positions, int rows, int C) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r)
    for (int i = 0; i < C; ++i) x[static_cast<int64_t>(r) * C + i] += static_cast<T>(sinusoidal_pe(positions[r], i, C));
}

namespace {
int learned_index(double pos, int max_len) {
  PELAB_CHECK(pos >= 0 && pos < max_len && pos == std::floor(pos),
              "learned absolute positions must be integers in [0, " << max_len << "), got " << pos,
              "learned embeddings are undefined past the trained length: evaluate at most that length, or use another --pe");
  return static_cast<int>(pos);
}
}  // namespace

template <typename T>
void learned_pe_add_forward(T* x, const T* wpe, const double* positions, int rows, int C, int max_len) {
  for (int r = 0; r < rows; ++r) {
    const T* w = wpe + static_cast<int64_t>(learned_index(positions[r], max_len)) * C;
    for (int i = 0; i < C; ++i) x[static_cast<int64_t>(r) * C + i] += w[i];
  }
}

template <typename T>
void learned_pe_add_backward(T* dwpe, const T* dx, const double* positions, int rows, int C, int max_len) {
  // Serial: two rows may share a position (batched windows), and += must not race.
  for (int r = 0; r < rows; ++r) {
    T* dw = dwpe + static_cast<int64_t>(learned_index(positions[r], max_len)) * C;
    for (int i = 0; i < C; ++i) dw[i] += dx[static_cast<int64_t>(r) * C + i];
  }
}

template void sinusoidal_add_forward<float>(float*, const double*, int, int);
template void sinusoidal_add_forward<double>(double*, const double*, int, int);
template void learned_pe_add_forward<float>(float*, const float*, const double*, int, int, int);
template void learned_pe_add_forward<double>(double*, const double*, const double*, int, int, int);
template void learned_pe_add_backward<float>(float*, const float*, const double*, int, int, int);
template void learned_pe_add_backward<double>(double*, const double*, const double*, int, int, int);

}  // namespace pelab
