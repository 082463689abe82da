// Shared helpers of the attention tests (test_attention*.cc): strided
// (B, N, H, D) views into poisoned buffers, random inputs from fixed seeds, the
// bias setups (ALiBi, T5, KERPLE) and an error report that compares a strided
// fp32 result with a dense fp64 reference as |a - ref| <= atol + rtol·|ref|
// (shared/reference/style.md §8.1).
#pragma once

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "encodings/bias_math.h"

namespace pelab::attn_test {

inline constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// PELAB_ATTN_REPORT=1 prints the max errors of every comparison (to calibrate tolerances).
inline bool report_enabled() {
  const char* e = std::getenv("PELAB_ATTN_REPORT");
  return e && e[0] == '1';
}

// Runs a scope on `n` OpenMP threads, restoring the previous setting after.
struct OmpThreads {
  int prev = omp_get_max_threads();
  explicit OmpThreads(int n) { omp_set_num_threads(n); }
  ~OmpThreads() { omp_set_num_threads(prev); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;
};

// Threads for a problem of `pairs` = B·H·Nq·Nk score entries: on a shared
// 2-core machine an OpenMP parallel region's wake-up (libgomp spins, then
// sleeps) costs more than a small problem's work, so problems below 2^17
// pairs run on one thread; the larger ones use every thread and cover the
// per-thread partial sums (flash dQ, dbias, statistics) and the schedules.
inline int threads_for(int64_t pairs) { return pairs < (int64_t{1} << 17) ? 1 : omp_get_max_threads(); }

// A fixed seed per case (FNV-1a of its name): fresh inputs for every case, the same on every run.
inline uint64_t seed_of_name(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (char ch : s) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  return h;
}

// A (B, N, H, D) view: element (b, n, h, d) at off + b·bs + n·rs + h·hs + d.
struct View {
  int batch = 0, rows = 0, heads = 0, dim = 0;
  int64_t bs = 0, rs = 0, hs = 0, off = 0;
  int64_t at(int b, int n, int h, int d) const { return off + b * bs + n * rs + h * hs + d; }
  int64_t dense_at(int b, int n, int h, int d) const { return ((static_cast<int64_t>(b) * rows + n) * heads + h) * dim + d; }
  int64_t count() const { return static_cast<int64_t>(batch) * rows * heads * dim; }
  // One past the largest element index (the storage size it needs).
  int64_t extent() const { return at(batch - 1, rows - 1, heads - 1, dim - 1) + 1; }
};

inline View dense_view(int B, int N, int H, int D) {
  return {B, N, H, D, static_cast<int64_t>(N) * H * D, static_cast<int64_t>(H) * D, D, 0};
}
// Slot `slot` of a packed (B, N, nslots, H, D) buffer, e.g. q/k/v inside qkv.
inline View packed_view(int B, int N, int H, int D, int slot, int nslots) {
  const int64_t rs = static_cast<int64_t>(nslots) * H * D;
  return {B, N, H, D, N * rs, rs, D, static_cast<int64_t>(slot) * H * D};
}
// Padding after every head, row and batch (odd amounts: no alignment is assumed).
inline View padded_view(int B, int N, int H, int D, int head_pad, int row_pad, int batch_pad, int64_t off = 0) {
  const int64_t hs = D + head_pad, rs = H * hs + row_pad, bs = N * rs + batch_pad;
  return {B, N, H, D, bs, rs, hs, off};
}

// Marks the elements a view covers (to check that nothing outside was written).
inline void mark(const View& v, std::vector<char>& covered) {
  for (int b = 0; b < v.batch; ++b)
    for (int n = 0; n < v.rows; ++n)
      for (int h = 0; h < v.heads; ++h)
        for (int d = 0; d < v.dim; ++d) covered[v.at(b, n, h, d)] = 1;
}

// Elements of `buf` outside every view that are no longer NaN (stray writes).
inline int64_t stray_writes(const std::vector<float>& buf, const std::vector<View>& views) {
  std::vector<char> covered(buf.size(), 0);
  for (const View& v : views) mark(v, covered);
  int64_t n = 0;
  for (size_t i = 0; i < buf.size(); ++i)
    if (!covered[i] && !std::isnan(buf[i])) ++n;
  return n;
}

// Standard normal values in logical (b, n, h, d) order, written through a view.
inline void fill_normal(std::vector<float>& buf, const View& v, std::mt19937_64& gen, double sigma = 1.0) {
  std::normal_distribution<double> nd(0.0, sigma);
  for (int b = 0; b < v.batch; ++b)
    for (int n = 0; n < v.rows; ++n)
      for (int h = 0; h < v.heads; ++h)
        for (int d = 0; d < v.dim; ++d) buf[v.at(b, n, h, d)] = static_cast<float>(nd(gen));
}

// The view's elements as a dense fp64 (B, N, H, D) tensor.
inline std::vector<double> to_dense_double(const std::vector<float>& buf, const View& v) {
  std::vector<double> out(v.count());
  for (int b = 0; b < v.batch; ++b)
    for (int n = 0; n < v.rows; ++n)
      for (int h = 0; h < v.heads; ++h)
        for (int d = 0; d < v.dim; ++d) out[v.dense_at(b, n, h, d)] = buf[v.at(b, n, h, d)];
  return out;
}

// ---------------------------------------------------------------- tolerances
//
// fp32 flash vs the fp64 oracle on the same fp32 inputs (q, k, v, dO ~ N(0, 1),
// logits scale·q·k = O(1)). u = 2^-24 ≈ 6e-8 is the fp32 unit roundoff.
//  * O, LSE: a logit is a D-term fp32 dot product, off by ~u·scale·Σ_d|q_d k_d|
//    ≈ u·√D ≈ 1e-6 at D = 128 in the worst case (plus u·|bias|, large only for
//    ALiBi's far keys, whose P ≈ 0); exp512 adds 2e-7 relative; the row sum
//    l = Σ_j exp(...) and O = Σ_j P_ij v_j add ~u·√N·max|v| over N ≤ 1000 keys.
//    Expected: a few 1e-6 on O(1) values. Observed max |diff|: O 3.4e-6, LSE
//    1.7e-6 (|LSE| ≲ 8). O: atol 1e-5, rtol 1e-4; LSE: atol 5e-6, rtol 5e-6.
//  * dQ, dK, dV: dP = dO·Vᵀ and D_i = dO_i·O_i each sum D fp32 products
//    (~u·√D·|dO||v|); dS = P∘(dP - D) inherits that, and dQ = scale·dS·K,
//    dK = scale·dSᵀ·Q, dV = Pᵀ·dO each sum Nk (or Nq) such terms in fp32, up to
//    1000 (a key's dK, dV gather over all later queries): ~u·√N on top.
//    Observed max |diff| 7.2e-6 (dV, N = 1000): atol 5e-5, rtol 1e-4.
//  * dbias (T5, KERPLE): a bucket's gradient sums dS over up to Nq·Nk pairs
//    (~4·10^5 for T5's far bucket at N = 1000), with cancellation (rows of dS
//    sum to 0). Flash sums by distance in fp64, but the oracle accumulates its
//    table gradient in fp32 (naive_cpu.cc `part`), ~n·u·Σ|terms|, so the atol
//    is relative to the largest entry: observed 1.4e-5·max|dbias|, atol
//    1e-4·max|dbias|, rtol 1e-4.
// The CUDA fp32 kernels (tests/cuda) have the same error sources (fp32 dots,
// expf within 2 ulp, a different summation order) and use the same tolerances.
// Calibrated once on the CPU grid (PELAB_ATTN_REPORT=1): max |diff|/tol ≈ 0.04-0.14.
inline constexpr double kOutAtol = 1e-5, kOutRtol = 1e-4;    // O
inline constexpr double kLseAtol = 5e-6, kLseRtol = 5e-6;    // LSE
inline constexpr double kGradAtol = 5e-5, kGradRtol = 1e-4;  // dQ, dK, dV
inline constexpr double kDbiasRtolOfMax = 1e-4;              // dbias: atol = this · max|dbias|

// ---------------------------------------------------------------- comparison

// Max errors of one comparison: the worst |a - ref|, the worst ratio
// |a - ref| / (atol + rtol·|ref|) (> 1 fails) and where it was.
struct ErrReport {
  std::string what;
  double atol = 0, rtol = 0;
  double max_abs = 0, max_ratio = 0, max_ref = 0;
  int64_t checked = 0, bad = 0, nonfinite = 0;
  std::string worst;

  // `where()` names the element; it is only called for the worst one.
  // `extra_atol` widens this element's atol (a per-element error term).
  template <typename Where>
  void add(double a, double ref, Where&& where, double extra_atol = 0) {
    ++checked;
    const double inf = std::numeric_limits<double>::infinity();
    if (!std::isfinite(ref) || !std::isfinite(a)) {
      // Non-finite references (-inf LSE of a fully masked row) must be matched
      // exactly; a non-finite result (NaN poison left unwritten) always fails.
      if (std::isfinite(ref) || !(a == ref)) {
        ++bad;
        if (!std::isfinite(a) && std::isfinite(ref)) ++nonfinite;
        if (max_ratio != inf) {
          std::ostringstream os;
          os.precision(10);
          os << where() << ": " << a << " vs ref " << ref;
          worst = os.str();
        }
        max_ratio = inf;
      }
      return;
    }
    const double err = std::fabs(a - ref);
    const double ratio = err / (atol + extra_atol + rtol * std::fabs(ref));
    max_abs = std::max(max_abs, err);
    max_ref = std::max(max_ref, std::fabs(ref));
    if (ratio > 1) ++bad;
    if (ratio > max_ratio) {
      max_ratio = ratio;
      std::ostringstream os;
      os.precision(10);
      os << where() << ": " << a << " vs ref " << ref << " (|diff| " << err << ")";
      worst = os.str();
    }
  }

  std::string summary() const {
    std::ostringstream os;
    os.precision(3);
    os << what << ": max|diff| " << max_abs << ", max ratio to tol " << max_ratio << " (atol " << atol << ", rtol "
       << rtol << ", max|ref| " << max_ref << ", " << checked << " checked, " << bad << " bad, " << nonfinite
       << " non-finite); worst at " << worst;
    return os.str();
  }
};

inline ::testing::AssertionResult passed(const ErrReport& r) {
  if (report_enabled()) std::printf("[report] %s max_abs %.3g max_ratio %.3g max_ref %.3g\n", r.what.c_str(), r.max_abs, r.max_ratio, r.max_ref);
  if (r.bad == 0 && r.checked > 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.summary();
}

// A strided fp32 tensor against a dense fp64 reference of the view's shape.
inline ErrReport compare_view(const std::string& what, const std::vector<float>& buf, const View& v,
                              const std::vector<double>& ref, double atol, double rtol) {
  ErrReport r;
  r.what = what;
  r.atol = atol;
  r.rtol = rtol;
  for (int b = 0; b < v.batch; ++b)
    for (int n = 0; n < v.rows; ++n)
      for (int h = 0; h < v.heads; ++h)
        for (int d = 0; d < v.dim; ++d) {
          const double a = buf[v.at(b, n, h, d)], x = ref[v.dense_at(b, n, h, d)];
          r.add(a, x, [&] {
            return "(b " + std::to_string(b) + ", n " + std::to_string(n) + ", h " + std::to_string(h) + ", d " +
                   std::to_string(d) + ")";
          });
        }
  return r;
}

// Two flat arrays of the same length.
template <typename A, typename R>
ErrReport compare_flat(const std::string& what, const A* a, const R* ref, int64_t n, double atol, double rtol) {
  ErrReport r;
  r.what = what;
  r.atol = atol;
  r.rtol = rtol;
  for (int64_t i = 0; i < n; ++i)
    r.add(static_cast<double>(a[i]), static_cast<double>(ref[i]), [&] { return "[" + std::to_string(i) + "]"; });
  return r;
}

// ------------------------------------------------------------------- biases

enum class BiasCase { NONE, ALIBI, T5, KERPLE_LOG, KERPLE_POWER };

inline const char* bias_name(BiasCase b) {
  switch (b) {
    case BiasCase::NONE: return "nobias";
    case BiasCase::ALIBI: return "alibi";
    case BiasCase::T5: return "t5";
    case BiasCase::KERPLE_LOG: return "kerplelog";
    case BiasCase::KERPLE_POWER: return "kerplepow";
  }
  return "?";
}

// Owns the slopes or the learned table behind an AttnBiasParams.
struct BiasSetup {
  std::vector<float> slopes, table;
  AttnBiasParams params;
};

// ALiBi slopes from alibi_slope(h, H); T5: a (H, 32) table of N(0, 1) values
// (bidirectional buckets when not causal); KERPLE: (H, 3) a, b in [0.5, 2],
// p in [0.5, 1.5]. With `quantize`, table entries are multiples of 2^-10 so
// that finite-difference steps of 2^-12 are exact in fp32.
inline BiasSetup make_bias(BiasCase kind, int heads, bool causal, std::mt19937_64& gen, bool quantize = false,
                           int t5_buckets = 32, int t5_max_distance = 128) {
  BiasSetup s;
  auto q = [&](double x) { return quantize ? std::round(x * 1024.0) / 1024.0 : x; };
  switch (kind) {
    case BiasCase::NONE: break;
    case BiasCase::ALIBI:
      s.params.kind = AttnBias::ALIBI;
      for (int h = 0; h < heads; ++h) s.slopes.push_back(static_cast<float>(alibi_slope(h, heads)));
      break;
    case BiasCase::T5: {
      s.params.kind = AttnBias::T5;
      s.params.t5_buckets = t5_buckets;
      s.params.t5_max_distance = t5_max_distance;
      s.params.t5_bidirectional = !causal;
      std::normal_distribution<double> nd(0.0, 1.0);
      for (int i = 0; i < heads * t5_buckets; ++i) s.table.push_back(static_cast<float>(q(nd(gen))));
      break;
    }
    case BiasCase::KERPLE_LOG:
    case BiasCase::KERPLE_POWER: {
      s.params.kind = AttnBias::KERPLE;
      s.params.kerple_kind = kind == BiasCase::KERPLE_LOG ? KerpleKind::LOG : KerpleKind::POWER;
      std::uniform_real_distribution<double> ab(0.5, 2.0), pp(0.5, 1.5);
      for (int h = 0; h < heads; ++h) {
        s.table.push_back(static_cast<float>(q(ab(gen))));
        s.table.push_back(static_cast<float>(q(ab(gen))));
        s.table.push_back(static_cast<float>(q(pp(gen))));
      }
      break;
    }
  }
  // Pointers last: the vectors are complete (a moved BiasSetup keeps its heap buffers).
  s.params.alibi_slopes = s.slopes.empty() ? nullptr : s.slopes.data();
  s.params.table = s.table.empty() ? nullptr : s.table.data();
  return s;
}

// Params of a fp64 dense problem (the oracle's layout) with the given offsets.
template <typename T>
AttentionParams<T> dense_params(const T* q, const T* k, const T* v, T* o, float* lse, int B, int nq, int nk, int H, int D,
                                bool causal, int64_t q_offset, int64_t k_offset, const AttnBiasParams& bias) {
  AttentionParams<T> p = AttentionParams<T>::dense(q, k, v, o, lse, B, nq, nk, H, D, causal);
  p.q_offset = q_offset;
  p.k_offset = k_offset;
  p.bias = bias;
  return p;
}

}  // namespace pelab::attn_test
