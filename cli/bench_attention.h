// Internal to `pelab bench attention`: the cases, inputs, oracle check helpers
// and options shared by the CPU driver (bench_attention.cc) and the CUDA path
// (bench_attention_cuda.cc). Not a public interface.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "attention/attention.h"
#include "encodings/bias_math.h"

namespace pelab::cli::attention_bench {

// Tolerances of the flash (fp32) vs naive (fp64) check, inputs uniform with
// unit variance: fp32 rounding gives errors of 1e-7..1e-5 at N = 200.
inline constexpr double kTolOut = 1e-4;
inline constexpr double kTolGrad = 5e-4;

struct AttnCase {
  int seq = 0, head_dim = 0, heads = 0, batch = 0;
  bool causal = false;
  AttnBias pe = AttnBias::NONE;
  int64_t elements() const { return static_cast<int64_t>(batch) * seq * heads * head_dim; }
};

inline const char* pe_name(AttnBias b) { return b == AttnBias::ALIBI ? "alibi" : "none"; }

// FlashAttention-2 convention (reference/performance.md §1).
inline double attn_flops(const AttnCase& c, bool backward) {
  double f = 4.0 * c.seq * static_cast<double>(c.seq) * c.head_dim * c.heads * c.batch;
  if (c.causal) f /= 2;
  return backward ? 2.5 * f : f;
}

// Deterministic values, uniform on [-√3, √3] (unit variance), filled in parallel.
template <typename T>
void fill_random(std::vector<T>& x, uint64_t seed) {
  const int64_t n = static_cast<int64_t>(x.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(i + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    const double u = static_cast<double>(z >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
    x[i] = static_cast<T>((2.0 * u - 1.0) * 1.7320508075688772);
  }
}

inline std::vector<float> alibi_slopes(int heads) {
  std::vector<float> s(heads);
  for (int h = 0; h < heads; ++h) s[h] = static_cast<float>(alibi_slope(h, heads));
  return s;
}

// The tensors of one case in dense (B, N, H, D) layout.
template <typename T>
struct AttnTensors {
  std::vector<T> q, k, v, o, dout, dq, dk, dv;
  std::vector<float> lse;

  void alloc_forward(const AttnCase& c) {
    q.resize(c.elements());
    k.resize(c.elements());
    v.resize(c.elements());
    fill_random(q, 1);
    fill_random(k, 2);
    fill_random(v, 3);
    o.assign(c.elements(), T(0));
    lse.assign(static_cast<size_t>(c.batch) * c.heads * c.seq, 0.0f);
  }
  void alloc_backward(const AttnCase& c) {
    dout.resize(c.elements());
    fill_random(dout, 4);
    dq.assign(c.elements(), T(0));
    dk.assign(c.elements(), T(0));
    dv.assign(c.elements(), T(0));
  }
  AttentionParams<T> params(const AttnCase& c, const std::vector<float>& slopes) {
    auto p = AttentionParams<T>::dense(q.data(), k.data(), v.data(), o.data(), lse.data(), c.batch, c.seq, c.seq, c.heads,
                                       c.head_dim, c.causal);
    p.bias.kind = c.pe;
    if (c.pe == AttnBias::ALIBI) p.bias.alibi_slopes = slopes.data();
    return p;
  }
  AttentionGrads<T> grads() { return {dout.data(), dq.data(), dk.data(), dv.data(), nullptr}; }
};

template <typename A, typename B>
double max_abs_diff(const std::vector<A>& a, const std::vector<B>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = std::fabs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    if (std::isnan(d)) return d;  // a NaN anywhere fails the check
    m = std::max(m, d);
  }
  return m;
}

struct CheckResult {
  int seq = 0;
  double err_out = 0;
  double err_grad = -1;  // max over dQ, dK, dV; -1 when the backward was not checked
};

struct AttnOptions {
  std::vector<int> seqs;
  AttnCase base;                 // sizes; causal and pe come from the variants
  std::vector<AttnCase> variants;  // mask × pe, timed interleaved at each N
  AttnImpl impl = AttnImpl::FLASH;
  AttnDevice device = AttnDevice::CPU;
  bool bf16 = false;  // --dtype bf16 (CUDA forward only)
  bool backward = false, json = false;
  int threads = 0;
  double min_time = 0.5, naive_limit_gb = 4, peak_time = 0.2;
  int min_repeats = 3, check_seq = 200;
};

// The CUDA path (bench_attention_cuda.cc), instantiated for T = float and bf16.
// A CPU-only build compiles it too: it stops at its device check ("built without
// CUDA"), which is why the CPU driver can call it unconditionally.
template <typename T>
int bench_attention_cuda(const AttnOptions& a);

}  // namespace pelab::cli::attention_bench
