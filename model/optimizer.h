// AdamW (Loshchilov & Hutter, arXiv 1711.05101; PyTorch torch.optim.AdamW
// semantics) with decoupled weight decay on a mask of parameters (the
// model's matrices: ParameterLayout::decay_mask()), gradient clipping by global
// norm, and the warmup + cosine learning-rate schedule.
//
// One step at t = step + 1 for each parameter p with gradient g:
//   p -= lr·wd·p                          (only where decay_mask is 1; wd may be 0)
//   m  = β1·m + (1 - β1)·g
//   v  = β2·v + (1 - β2)·g²
//   p -= lr·(m / (1 - β1^t)) / (√(v / (1 - β2^t)) + eps)
// State (m, v, step) is exposed as flat buffers so a checkpoint can save and
// restore it exactly.
#pragma once

#include "core/aligned_vector.h"

#include <cstdint>
#include <vector>

#include "core/error.h"  // validation throws pelab::Error

namespace pelab {

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.95;        // nanoGPT / llm.c GPT-2 runs
  double eps = 1e-8;
  double weight_decay = 0.1;  // --train.weight-decay; 0 allowed
};

// Throws pelab::Error naming --train.* for out-of-range values.
void validate(const AdamWConfig& cfg);

template <typename Real>
class AdamW {
 public:
  // n parameters; decay_mask (n bytes) is 1 where weight decay applies.
  AdamW(int64_t n, std::vector<uint8_t> decay_mask, const AdamWConfig& cfg);

  // One update of params (n) from grads (n) at learning rate lr; increments step().
  void update(Real* params, const Real* grads, double lr);

  const AdamWConfig& config() const { return cfg_; }
  int64_t size() const { return static_cast<int64_t>(m_.size()); }
  // Updates done so far (the bias corrections use t = step() + 1 next).
  int64_t step() const { return step_; }
  // First and second moments, n values each: for checkpoints.
  Real* m() { return m_.data(); }
  Real* v() { return v_.data(); }
  const Real* m() const { return m_.data(); }
  const Real* v() const { return v_.data(); }
  // Restores a saved state exactly (m and v of size() values, step >= 0).
  void set_state(const Real* m, const Real* v, int64_t step);

 private:
  AdamWConfig cfg_;
  std::vector<uint8_t> decay_;
  AlignedVector<Real> m_, v_;
  int64_t step_ = 0;
};

// √(Σ g²) over n gradients, summed in double in fixed-size blocks combined in
// order: the same value for any thread count.
template <typename Real>
double grad_norm(const Real* grads, int64_t n);

// Scales grads by max_norm / norm when the global norm exceeds max_norm
// (max_norm <= 0: no clipping). Returns the norm before clipping.
template <typename Real>
double clip_grad_norm(Real* grads, int64_t n, double max_norm);

// Linear warmup to peak_lr over warmup_steps, then cosine decay to min_lr at
// total_steps, min_lr after (llm.c train_gpt2.cu, nanoGPT get_lr). Steps count
// from 0: lr(0) = peak·1/warmup, lr(warmup-1) = peak, lr(warmup) = peak,
// lr((warmup+total)/2) = (peak+min)/2, lr(total) = min.
struct LrSchedule {
  double peak_lr = 3e-4;
  double min_lr = 3e-5;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double operator()(int64_t step) const;
};
// Throws pelab::Error naming --train.* for inconsistent values.
void validate(const LrSchedule& s);

extern template class AdamW<float>;
extern template class AdamW<double>;

}  // namespace pelab
