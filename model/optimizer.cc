#include "model/optimizer.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "encodings/rope_math.h"  // kPi

namespace pelab {

void validate(const AdamWConfig& c) {
  PELAB_CHECK(c.beta1 >= 0 && c.beta1 < 1, "--train.beta1 must be in [0, 1), got " << c.beta1, "the usual value is 0.9");
  PELAB_CHECK(c.beta2 >= 0 && c.beta2 < 1, "--train.beta2 must be in [0, 1), got " << c.beta2, "e.g. 0.95 or 0.999");
  PELAB_CHECK(c.eps > 0, "--train.eps must be positive, got " << c.eps, "the usual value is 1e-8");
  PELAB_CHECK(c.weight_decay >= 0, "--train.weight-decay must be >= 0, got " << c.weight_decay, "e.g. 0.1, or 0 for none");
}

void validate(const LrSchedule& s) {
  PELAB_CHECK(s.peak_lr > 0, "--train.lr must be positive, got " << s.peak_lr, "e.g. 1e-3 for small models");
  PELAB_CHECK(s.min_lr >= 0 && s.min_lr <= s.peak_lr,
              "the minimum learning rate must be in [0, --train.lr], got " << s.min_lr, "e.g. a tenth of --train.lr");
  PELAB_CHECK(s.warmup_steps >= 0, "--train.warmup must be >= 0, got " << s.warmup_steps, "e.g. 100");
  PELAB_CHECK(s.total_steps > 0, "--train.steps must be positive, got " << s.total_steps, "e.g. 2000");
}

double LrSchedule::operator()(int64_t step) const {
  if (step < warmup_steps) return peak_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  if (step >= total_steps) return min_lr;
  const double ratio = static_cast<double>(step - warmup_steps) / static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  const double coeff = 0.5 * (1.0 + std::cos(kPi * ratio));  // 1 -> 0
  return min_lr + coeff * (peak_lr - min_lr);
}

template <typename Real>
AdamW<Real>::AdamW(int64_t n, std::vector<uint8_t> decay_mask, const AdamWConfig& cfg)
    : cfg_(cfg), decay_(std::move(decay_mask)), m_(n, Real(0)), v_(n, Real(0)) {
  validate(cfg_);
  PELAB_CHECK(static_cast<int64_t>(decay_.size()) == n,
              "AdamW: the decay mask has " << decay_.size() << " entries for " << n << " parameters",
              "pass ParameterLayout::decay_mask() of the same model");
}

template <typename Real>
void AdamW<Real>::update(Real* params, const Real* grads, double lr) {
  ++step_;
  const double t = static_cast<double>(step_);
  const Real b1 = static_cast<Real>(cfg_.beta1), b2 = static_cast<Real>(cfg_.beta2);
  const Real c1 = static_cast<Real>(1.0 / (1.0 - std::pow(cfg_.beta1, t)));  // bias corrections
  const Real c2 = static_cast<Real>(1.0 / (1.0 - std::pow(cfg_.beta2, t)));
  const Real eps = static_cast<Real>(cfg_.eps), lr_r = static_cast<Real>(lr);
  const Real decay = static_cast<Real>(lr * cfg_.weight_decay);
  const int64_t n = size();
  Real* m = m_.data();
  Real* v = v_.data();
  const uint8_t* mask = decay_.data();
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const Real g = grads[i];
    Real p = params[i];
    if (mask[i]) p -= decay * p;  // decoupled: from the parameter before this step's Adam move
    const Real mi = b1 * m[i] + (Real(1) - b1) * g;
    const Real vi = b2 * v[i] + (Real(1) - b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] = p - lr_r * (mi * c1) / (std::sqrt(vi * c2) + eps);
  }
}

template <typename Real>
void AdamW<Real>::set_state(const Real* m, const Real* v, int64_t step) {
  PELAB_CHECK(step >= 0, "AdamW: the saved step must be >= 0, got " << step, "the checkpoint is corrupt");
  std::copy(m, m + size(), m_.begin());
  std::copy(v, v + size(), v_.begin());
  step_ = step;
}

template <typename Real>
double grad_norm(const Real* grads, int64_t n) {
  constexpr int64_t kBlock = 1 << 14;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> part(blocks, 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    double s = 0;
    for (int64_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) s += static_cast<double>(grads[i]) * grads[i];
    part[b] = s;
  }
  double s = 0;
  for (double x : part) s += x;
  return std::sqrt(s);
}

template <typename Real>
double clip_grad_norm(Real* grads, int64_t n, double max_norm) {
  const double norm = grad_norm(grads, n);
  if (max_norm > 0 && norm > max_norm) {
    // torch.nn.utils.clip_grad_norm_ uses max_norm / (norm + 1e-6); the plain
    // ratio makes the clipped norm exactly max_norm (up to rounding).
    const Real scale = static_cast<Real>(max_norm / norm);
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) grads[i] *= scale;
  }
  return norm;
}

template class AdamW<float>;
template class AdamW<double>;
template double grad_norm<float>(const float*, int64_t);
template double grad_norm<double>(const double*, int64_t);
template double clip_grad_norm<float>(float*, int64_t, double);
template double clip_grad_norm<double>(double*, int64_t, double);

}  // namespace pelab
