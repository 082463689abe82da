// Forward/backward pairs of the decoder's layers (model/layers.h). Each
// backward quotes the forward line it differentiates.
#include "model/layers.h"
#include "model/parallel.h"
#include "model/phase_timer.h"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "encodings/absolute.h"
#include "encodings/rope.h"

namespace pelab {

namespace {

template <typename Real>
using RowMat = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename Real>
using MatMap = Eigen::Map<RowMat<Real>>;
template <typename Real>
using CMatMap = Eigen::Map<const RowMat<Real>>;
template <typename Real>
using ArrMap = Eigen::Map<Eigen::Array<Real, Eigen::Dynamic, 1>>;
template <typename Real>
using CArrMap = Eigen::Map<const Eigen::Array<Real, Eigen::Dynamic, 1>>;

template <typename Real>
using SMatMap = Eigen::Map<RowMat<Real>, 0, Eigen::OuterStride<>>;
template <typename Real>
using CSMatMap = Eigen::Map<const RowMat<Real>, 0, Eigen::OuterStride<>>;

// Elementwise work in chunks: big enough for Eigen's vectorized tanh/exp,
// small enough to spread over threads.
constexpr int64_t kChunk = 4096;

}  // namespace

// ------------------------------------------------------------------ encoder

template <typename Real>
void encoder_forward(Real* out, const EncoderParams<Real>& p) {
  const int C = p.C;
  for (int n = 0; n < p.N; ++n)
    PELAB_CHECK(p.tokens[n] >= 0 && p.tokens[n] < p.V,
                "token " << p.tokens[n] << " at row " << n << " is outside the vocabulary [0, " << p.V << ")",
                "byte-level data has tokens 0..255; check the token file");
#pragma omp parallel for schedule(static)
  for (int n = 0; n < p.N; ++n) {
    const Real* w = p.wte + static_cast<int64_t>(p.tokens[n]) * C;
    Real* o = out + static_cast<int64_t>(n) * C;
    for (int c = 0; c < C; ++c) o[c] = p.embed_scale * w[c];
  }
  if (p.pe == PeKind::SINUSOIDAL) sinusoidal_add_forward(out, p.positions, p.N, C);
  if (p.pe == PeKind::LEARNED) learned_pe_add_forward(out, p.wpe, p.positions, p.N, C, p.max_len);
}

template <typename Real>
void encoder_backward(Real* dwte, Real* dwpe, const Real* dout, const EncoderParams<Real>& p) {
  // forward: out[n] = embed_scale·wte[tokens[n]] + PE(positions[n])
  // Rows may share a token: split by channel so no two threads add to one entry.
  const int C = p.C;
  parallel_ranges(C, [&](int64_t c0, int64_t c1) {
    for (int n = 0; n < p.N; ++n) {
      Real* dw = dwte + static_cast<int64_t>(p.tokens[n]) * C;
      const Real* d = dout + static_cast<int64_t>(n) * C;
      for (int c = c0; c < c1; ++c) dw[c] += p.embed_scale * d[c];
    }
  });
  if (p.pe == PeKind::LEARNED) learned_pe_add_backward(dwpe, dout, p.positions, p.N, C, p.max_len);
}

// ------------------------------------------------------------------ norms

template <typename Real>
void layernorm_forward(Real* out, Real* mean, Real* rstd, const Real* inp, const Real* w, const Real* b, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const Real* x = inp + static_cast<int64_t>(n) * C;
    Real* o = out + static_cast<int64_t>(n) * C;
    Real m = 0;
    for (int c = 0; c < C; ++c) m += x[c];
    m /= C;
    Real var = 0;  // two passes: no cancellation when |mean| >> std
    for (int c = 0; c < C; ++c) var += (x[c] - m) * (x[c] - m);
    var /= C;
    const Real s = Real(1) / std::sqrt(var + static_cast<Real>(kNormEps));
    for (int c = 0; c < C; ++c) o[c] = (x[c] - m) * s * w[c] + b[c];
    mean[n] = m;
    rstd[n] = s;
  }
}

template <typename Real>
void layernorm_backward(Real* dinp, Real* dw, Real* db, const Real* dout, const Real* inp, const Real* w,
                        const Real* mean, const Real* rstd, int N, int C) {
  // forward: norm = (x - mean)·rstd; out = norm·w + b, so with g = dout·w:
  //   dx = rstd·(g - mean_c(g) - norm·mean_c(g·norm))   (mean and rstd depend on x)
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const Real* x = inp + static_cast<int64_t>(n) * C;
    const Real* d = dout + static_cast<int64_t>(n) * C;
    Real* dx = dinp + static_cast<int64_t>(n) * C;
    const Real m = mean[n], s = rstd[n];
    Real g_mean = 0, gn_mean = 0;
    for (int c = 0; c < C; ++c) {
      const Real g = d[c] * w[c];
      g_mean += g;
      gn_mean += g * (x[c] - m) * s;
    }
    g_mean /= C;
    gn_mean /= C;
    for (int c = 0; c < C; ++c) dx[c] += s * (d[c] * w[c] - g_mean - (x[c] - m) * s * gn_mean);
  }
  // dw = Σ_n dout·norm, db = Σ_n dout
  parallel_ranges(C, [&](int64_t c0, int64_t c1) {
    for (int n = 0; n < N; ++n) {
      const Real* x = inp + static_cast<int64_t>(n) * C;
      const Real* d = dout + static_cast<int64_t>(n) * C;
      const Real m = mean[n], s = rstd[n];
      for (int c = c0; c < c1; ++c) {
        dw[c] += d[c] * (x[c] - m) * s;
        db[c] += d[c];
      }
    }
  });
}

template <typename Real>
void rmsnorm_forward(Real* out, Real* rstd, const Real* inp, const Real* w, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const Real* x = inp + static_cast<int64_t>(n) * C;
    Real* o = out + static_cast<int64_t>(n) * C;
    Real ms = 0;
    for (int c = 0; c < C; ++c) ms += x[c] * x[c];
    const Real s = Real(1) / std::sqrt(ms / C + static_cast<Real>(kNormEps));
    for (int c = 0; c < C; ++c) o[c] = x[c] * s * w[c];
    rstd[n] = s;
  }
}

template <typename Real>
void rmsnorm_backward(Real* dinp, Real* dw, const Real* dout, const Real* inp, const Real* w, const Real* rstd, int N,
                      int C) {
  // forward: norm = x·rstd, rstd = (mean_c(x²) + eps)^(-1/2); out = norm·w, so with g = dout·w:
  //   dx = rstd·(g - norm·mean_c(g·norm))
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const Real* x = inp + static_cast<int64_t>(n) * C;
    const Real* d = dout + static_cast<int64_t>(n) * C;
    Real* dx = dinp + static_cast<int64_t>(n) * C;
    const Real s = rstd[n];
    Real gn_mean = 0;
    for (int c = 0; c < C; ++c) gn_mean += d[c] * w[c] * x[c] * s;
    gn_mean /= C;
    for (int c = 0; c < C; ++c) dx[c] += s * (d[c] * w[c] - x[c] * s * gn_mean);
  }
  // dw = Σ_n dout·norm
  parallel_ranges(C, [&](int64_t c0, int64_t c1) {
    for (int n = 0; n < N; ++n) {
      const Real* x = inp + static_cast<int64_t>(n) * C;
      const Real* d = dout + static_cast<int64_t>(n) * C;
      const Real s = rstd[n];
      for (int c = c0; c < c1; ++c) dw[c] += d[c] * x[c] * s;
    }
  });
}

template <typename Real>
void norm_forward(NormKind kind, Real* out, Real* mean, Real* rstd, const Real* inp, const Real* w, const Real* b,
                  int N, int C) {
  switch (kind) {
    case NormKind::LAYERNORM: return layernorm_forward(out, mean, rstd, inp, w, b, N, C);
    case NormKind::RMSNORM: return rmsnorm_forward(out, rstd, inp, w, N, C);
    case NormKind::NONE:
      std::memcpy(out, inp, sizeof(Real) * static_cast<size_t>(N) * C);
      return;
  }
}

template <typename Real>
void norm_backward(NormKind kind, Real* dinp, Real* dw, Real* db, const Real* dout, const Real* inp, const Real* w,
                   const Real* mean, const Real* rstd, int N, int C) {
  switch (kind) {
    case NormKind::LAYERNORM: return layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
    case NormKind::RMSNORM: return rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, C);
    case NormKind::NONE:
      // forward: out = inp
      residual_forward(dinp, dinp, dout, static_cast<int64_t>(N) * C);
      return;
  }
}

// ------------------------------------------------------------------ matmul

template <typename Real>
void matmul_forward(Real* out, const Real* inp, const Real* w, int N, int C, int OC) {
  const PhaseScope timer(Phase::MATMUL);
  // Split by rows of out: each thread multiplies its rows by all of w.
  parallel_ranges(N, [&](int64_t r0, int64_t r1) {
    MatMap<Real>(out + r0 * OC, r1 - r0, OC).noalias() = CMatMap<Real>(inp + r0 * C, r1 - r0, C) * CMatMap<Real>(w, C, OC);
  });
}

template <typename Real>
void matmul_backward(Real* dinp, Real* dw, const Real* dout, const Real* inp, const Real* w, int N, int C, int OC,
                     bool accumulate) {
  const PhaseScope timer(Phase::MATMUL);
  // forward: out = inp·w, so dinp = dout·wᵀ (split by rows of dinp) and
  // dw = inpᵀ·dout (split by rows of dw, i.e. columns of inp).
  if (dinp)
    parallel_ranges(N, [&](int64_t r0, int64_t r1) {
      MatMap<Real> dX(dinp + r0 * C, r1 - r0, C);
      CMatMap<Real> dO(dout + r0 * OC, r1 - r0, OC);
      if (accumulate)
        dX.noalias() += dO * CMatMap<Real>(w, C, OC).transpose();
      else
        dX.noalias() = dO * CMatMap<Real>(w, C, OC).transpose();
    });
  parallel_ranges(C, [&](int64_t c0, int64_t c1) {
    MatMap<Real>(dw + c0 * OC, c1 - c0, OC).noalias() +=
        CSMatMap<Real>(inp + c0, N, c1 - c0, Eigen::OuterStride<>(C)).transpose() * CMatMap<Real>(dout, N, OC);
  });
}

template <typename Real>
void lm_head_forward(Real* logits, const Real* inp, const Real* wte, int N, int C, int V) {
  const PhaseScope timer(Phase::MATMUL);
  parallel_ranges(N, [&](int64_t r0, int64_t r1) {
    MatMap<Real>(logits + r0 * V, r1 - r0, V).noalias() =
        CMatMap<Real>(inp + r0 * C, r1 - r0, C) * CMatMap<Real>(wte, V, C).transpose();
  });
}

template <typename Real>
void lm_head_backward(Real* dinp, Real* dwte, const Real* dlogits, const Real* inp, const Real* wte, int N, int C,
                      int V) {
  const PhaseScope timer(Phase::MATMUL);
  // forward: logits = inp·wteᵀ, so dinp = dlogits·wte and dwte = dlogitsᵀ·inp
  parallel_ranges(N, [&](int64_t r0, int64_t r1) {
    MatMap<Real>(dinp + r0 * C, r1 - r0, C).noalias() =
        CMatMap<Real>(dlogits + r0 * V, r1 - r0, V) * CMatMap<Real>(wte, V, C);
  });
  parallel_ranges(V, [&](int64_t v0, int64_t v1) {
    MatMap<Real>(dwte + v0 * C, v1 - v0, C).noalias() +=
        CSMatMap<Real>(dlogits + v0, N, v1 - v0, Eigen::OuterStride<>(V)).transpose() * CMatMap<Real>(inp, N, C);
  });
}

// ------------------------------------------------------------------ pointwise

namespace {
// √(2/π) and the cubic coefficient of the tanh approximation (GPT-2 gelu).
constexpr double kGeluS = 0.7978845608028654;
constexpr double kGeluA = 0.044715;
}  // namespace

template <typename Real>
void gelu_forward(Real* out, const Real* inp, int64_t n) {
  const Real s = static_cast<Real>(kGeluS), a = static_cast<Real>(kGeluA);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t i0 = ch * kChunk, len = std::min(kChunk, n - i0);
    CArrMap<Real> x(inp + i0, len);
    // Eigen's tanh is vectorized (float: a clamped rational approximation, ~1 ulp).
    ArrMap<Real>(out + i0, len) = Real(0.5) * x * (Real(1) + (s * (x + a * x.cube())).tanh());
  }
}

template <typename Real>
void gelu_backward(Real* dinp, const Real* inp, const Real* dout, int64_t n) {
  // forward: out = 0.5·x·(1 + tanh(u)), u = s·(x + a·x³), so
  //   dout/dx = 0.5·(1 + tanh u) + 0.5·x·(1 - tanh²u)·s·(1 + 3a·x²)
  const Real s = static_cast<Real>(kGeluS), a = static_cast<Real>(kGeluA);
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < chunks; ++ch) {
    const int64_t i0 = ch * kChunk, len = std::min(kChunk, n - i0);
    CArrMap<Real> x(inp + i0, len);
    const Eigen::Array<Real, Eigen::Dynamic, 1> t = (s * (x + a * x.cube())).tanh();
    ArrMap<Real>(dinp + i0, len) =
        CArrMap<Real>(dout + i0, len) *
        (Real(0.5) * (Real(1) + t) + Real(0.5) * x * (Real(1) - t * t) * s * (Real(1) + Real(3) * a * x.square()));
  }
}

template <typename Real>
void residual_forward(Real* out, const Real* a, const Real* b, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

// ------------------------------------------------------------------ loss

template <typename Real>
int64_t softmax_crossentropy_forward(Real* probs, Real* losses, const int32_t* targets, int N, int V) {
  if (targets)
    for (int n = 0; n < N; ++n)
      PELAB_CHECK(targets[n] < V, "target " << targets[n] << " at row " << n << " is outside the vocabulary [0, " << V << ")",
                  "targets are the next tokens; negative values mark ignored positions");
  int64_t count = 0;
#pragma omp parallel for schedule(static) reduction(+ : count)
  for (int n = 0; n < N; ++n) {
    ArrMap<Real> row(probs + static_cast<int64_t>(n) * V, V);
    const Real m = row.maxCoeff();
    const int t = targets ? targets[n] : -1;
    const Real logit_t = t >= 0 ? row[t] : Real(0);
    row = (row - m).exp();
    const Real sum = row.sum();
    row /= sum;
    if (t >= 0) {
      losses[n] = m + std::log(sum) - logit_t;  // logsumexp - logit: exact even where probs[t] underflows
      ++count;
    } else {
      losses[n] = 0;
    }
  }
  return count;
}

template <typename Real>
void softmax_crossentropy_backward(Real* dlogits, const Real* probs, const int32_t* targets, Real scale, int N, int V) {
  // forward: loss_n = logsumexp(logits_n) - logits_n[t], so dloss_n/dlogits_n = probs_n - onehot(t)
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const int64_t at = static_cast<int64_t>(n) * V;
    const int t = targets[n];
    if (t < 0) {
      std::fill(dlogits + at, dlogits + at + V, Real(0));
      continue;
    }
    ArrMap<Real>(dlogits + at, V) = scale * CArrMap<Real>(probs + at, V);
    dlogits[at + t] -= scale;
  }
}

// ------------------------------------------------------------------ attention block

namespace {

template <typename Real>
RopeApplyParams<Real> rope_params(Real* x, const AttentionBlockParams<Real>& p, int xpos_sign) {
  RopeApplyParams<Real> r;
  r.x = x;
  r.row_stride = p.C;
  r.head_stride = p.C / p.H;
  r.rows = p.B * p.T;
  r.heads = p.H;
  r.head_dim = p.C / p.H;
  r.positions = p.positions;
  r.inv_freq = p.inv_freq;
  r.rot_dim = p.rot_dim;
  r.layout = p.layout;
  r.mscale = p.mscale;
  r.xpos_zeta = p.xpos_zeta;
  r.xpos_centre = p.xpos_centre;
  r.xpos_scale_base = p.xpos_scale_base;
  r.xpos_sign = xpos_sign;  // q multiplied by ζ^((p-c)/B), k divided
  return r;
}

}  // namespace

template <typename Real>
AttentionParams<Real> attention_call_params(const AttentionBlockActs<Real>& a, const AttentionBlockParams<Real>& p) {
  AttentionParams<Real> ap =
      AttentionParams<Real>::dense(a.q, a.k, a.v, a.o, a.lse, p.B, p.T, p.T, p.H, p.C / p.H, /*causal=*/true);
  ap.bias = p.bias;
  return ap;
}

template <typename Real>
void attention_block_forward(Real* out, const AttentionBlockActs<Real>& acts, const Real* inp,
                             const AttentionBlockParams<Real>& p) {
  const int N = p.B * p.T, C = p.C;
  if (p.wq) {
    matmul_forward(acts.q, inp, p.wq, N, C, C);
    matmul_forward(acts.k, inp, p.wk, N, C, C);
  } else {
    std::memcpy(acts.q, inp, sizeof(Real) * static_cast<size_t>(N) * C);
    std::memcpy(acts.k, inp, sizeof(Real) * static_cast<size_t>(N) * C);
  }
  matmul_forward(acts.v, inp, p.wv, N, C, C);
  {
    const PhaseScope timer(Phase::ATTENTION);
    if (p.inv_freq) {
      rope_forward(rope_params(acts.q, p, +1));
      rope_forward(rope_params(acts.k, p, -1));
    }
    attention_forward(attention_call_params(acts, p), p.impl);
  }
  matmul_forward(out, acts.o, p.wo, N, C, C);
}

template <typename Real>
void attention_block_backward(Real* dinp, const AttentionBlockGrads<Real>& g, const Real* dout, const Real* inp,
                              const AttentionBlockActs<Real>& acts, const AttentionBlockParams<Real>& p,
                              const AttentionBlockScratch<Real>& s) {
  const int N = p.B * p.T, C = p.C;
  // forward: out = o·Wo
  matmul_backward(s.dO, g.dwo, dout, acts.o, p.wo, N, C, C, /*accumulate=*/false);
  // forward: o = attention(q, k, v; bias)
  AttentionGrads<Real> ag;
  ag.dout = s.dO;
  ag.dq = s.dq;
  ag.dk = s.dk;
  ag.dv = s.dv;
  ag.dbias = g.dbias;
  {
    const PhaseScope timer(Phase::ATTENTION);
    attention_backward(attention_call_params(acts, p), ag, p.impl);
    // forward: q <- S·R(pos·θ)·q, k likewise (in place); dx = (S·R)ᵀ·dy
    if (p.inv_freq) {
      rope_backward(rope_params(s.dq, p, +1));
      rope_backward(rope_params(s.dk, p, -1));
    }
  }
  // forward: q = x·Wq, k = x·Wk (or q = k = x), v = x·Wv
  if (p.wq) {
    matmul_backward(dinp, g.dwq, s.dq, inp, p.wq, N, C, C, /*accumulate=*/false);
    matmul_backward(dinp, g.dwk, s.dk, inp, p.wk, N, C, C, /*accumulate=*/true);
  } else {
    residual_forward(dinp, s.dq, s.dk, static_cast<int64_t>(N) * C);
  }
  matmul_backward(dinp, g.dwv, s.dv, inp, p.wv, N, C, C, /*accumulate=*/true);
}

// ------------------------------------------------------------------ instantiations

#define PELAB_LAYERS_INSTANTIATE(Real)                                                                               \
  template void encoder_forward<Real>(Real*, const EncoderParams<Real>&);                                           \
  template void encoder_backward<Real>(Real*, Real*, const Real*, const EncoderParams<Real>&);                      \
  template void layernorm_forward<Real>(Real*, Real*, Real*, const Real*, const Real*, const Real*, int, int);      \
  template void layernorm_backward<Real>(Real*, Real*, Real*, const Real*, const Real*, const Real*, const Real*,   \
                                         const Real*, int, int);                                                     \
  template void rmsnorm_forward<Real>(Real*, Real*, const Real*, const Real*, int, int);                            \
  template void rmsnorm_backward<Real>(Real*, Real*, const Real*, const Real*, const Real*, const Real*, int, int); \
  template void norm_forward<Real>(NormKind, Real*, Real*, Real*, const Real*, const Real*, const Real*, int, int); \
  template void norm_backward<Real>(NormKind, Real*, Real*, Real*, const Real*, const Real*, const Real*,           \
                                    const Real*, const Real*, int, int);                                            \
  template void matmul_forward<Real>(Real*, const Real*, const Real*, int, int, int);                               \
  template void matmul_backward<Real>(Real*, Real*, const Real*, const Real*, const Real*, int, int, int, bool);    \
  template void lm_head_forward<Real>(Real*, const Real*, const Real*, int, int, int);                              \
  template void lm_head_backward<Real>(Real*, Real*, const Real*, const Real*, const Real*, int, int, int);         \
  template void gelu_forward<Real>(Real*, const Real*, int64_t);                                                    \
  template void gelu_backward<Real>(Real*, const Real*, const Real*, int64_t);                                      \
  template void residual_forward<Real>(Real*, const Real*, const Real*, int64_t);                                   \
  template int64_t softmax_crossentropy_forward<Real>(Real*, Real*, const int32_t*, int, int);                      \
  template void softmax_crossentropy_backward<Real>(Real*, const Real*, const int32_t*, Real, int, int);            \
  template AttentionParams<Real> attention_call_params<Real>(const AttentionBlockActs<Real>&,                       \
                                                             const AttentionBlockParams<Real>&);                    \
  template void attention_block_forward<Real>(Real*, const AttentionBlockActs<Real>&, const Real*,                  \
                                              const AttentionBlockParams<Real>&);                                   \
  template void attention_block_backward<Real>(Real*, const AttentionBlockGrads<Real>&, const Real*, const Real*,   \
                                               const AttentionBlockActs<Real>&, const AttentionBlockParams<Real>&,  \
                                               const AttentionBlockScratch<Real>&);
PELAB_LAYERS_INSTANTIATE(float)
PELAB_LAYERS_INSTANTIATE(double)
#undef PELAB_LAYERS_INSTANTIATE

}  // namespace pelab
