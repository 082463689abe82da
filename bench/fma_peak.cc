#include "bench/fma_peak.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

#include "bench/report.h"

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

namespace pelab::bench {

namespace {

// 12 independent chains: with a 4-cycle FMA latency and 2 FMA pipes, 8 chains
// keep both pipes busy; 12 leaves margin for slower parts (Intel: 4 cycles × 2).
constexpr int kChains = 12;
constexpr int kUnroll = 8;  // chain steps per loop iteration, to hide the loop overhead

#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kLanes = 16;
constexpr const char* kIsa = "avx512";
inline Vec vset(float x) { return _mm512_set1_ps(x); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline Vec vadd(Vec a, Vec b) { return _mm512_add_ps(a, b); }
inline float vsum(Vec a) {  // not _mm512_reduce_add_ps: GCC 12 warns inside it
  alignas(64) float t[16];
  _mm512_store_ps(t, a);
  float s = 0;
  for (float x : t) s += x;
  return s;
}
#elif defined(__FMA__) && defined(__AVX__)
using Vec = __m256;
constexpr int kLanes = 8;
constexpr const char* kIsa = "avx2";
inline Vec vset(float x) { return _mm256_set1_ps(x); }
inline Vec vfma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline Vec vadd(Vec a, Vec b) { return _mm256_add_ps(a, b); }
inline float vsum(Vec a) {
  alignas(32) float t[8];
  _mm256_store_ps(t, a);
  float s = 0;
  for (float x : t) s += x;
  return s;
}
#else
using Vec = float;
constexpr int kLanes = 1;
constexpr const char* kIsa = "scalar";
inline Vec vset(float x) { return x; }
inline Vec vfma(Vec a, Vec b, Vec c) { return std::fma(a, b, c); }
inline Vec vadd(Vec a, Vec b) { return a + b; }
inline float vsum(Vec a) { return a; }
#endif

// iters × kUnroll × kChains dependent-per-chain FMAs a = a·b + c. With b just
// below 1 and c tiny the values settle near c / (1 - b): no overflow, no
// denormals. b and c come from the caller so nothing folds at compile time.
__attribute__((noinline)) float fma_chains(long long iters, float start, float mul, float add) {
  Vec a[kChains];
  for (int i = 0; i < kChains; ++i) a[i] = vset(start + 0.001f * static_cast<float>(i));
  const Vec b = vset(mul), c = vset(add);
  for (long long it = 0; it < iters; ++it) {
#pragma GCC unroll 8
    for (int u = 0; u < kUnroll; ++u) {
#pragma GCC unroll 12
      for (int i = 0; i < kChains; ++i) a[i] = vfma(a[i], b, c);
    }
  }
  Vec s = a[0];
  for (int i = 1; i < kChains; ++i) s = vadd(s, a[i]);
  return vsum(s);
}

// Seconds for every thread to run `iters` iterations (wall time of the
// region); *cpu receives the process CPU seconds it took.
double run_trial(int threads, long long iters, std::vector<float>& sink, double* cpu = nullptr) {
  const double c0 = process_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads)
  {
    const int tid = omp_get_thread_num();
    sink[tid] += fma_chains(iters, 1.0f + 0.01f * static_cast<float>(tid), 0.9999999f, 1e-7f);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (cpu) *cpu = process_cpu_seconds() - c0;
  return wall;
}

}  // namespace

FmaPeak measure_fma_peak(int threads, double seconds, int trials) {
  if (threads <= 0) threads = omp_get_max_threads();
  trials = std::max(trials, 1);
  seconds = std::max(seconds, 1e-3);
  std::vector<float> sink(threads, 0.0f);

  // Calibrate: grow the count until a run takes >= 20 ms (or a tenth of a
  // trial), then scale to `seconds`.
  long long iters = 1 << 12;
  double t = run_trial(threads, iters, sink);
  while (t < std::min(0.02, 0.1 * seconds) && iters < (1LL << 40)) {
    iters *= 4;
    t = run_trial(threads, iters, sink);
  }
  iters = std::max<long long>(1, static_cast<long long>(static_cast<double>(iters) * seconds / t));

  // A calibration run slowed by preemption makes trials too short: a trial
  // under half the target length is rescaled and rerun (a few times at most).
  double best = 0, best_cpu = 0, trial_seconds = 0;
  for (int r = 0, rescales = 0; r < trials;) {
    double cpu = 0;
    const double s = run_trial(threads, iters, sink, &cpu);
    if (s < 0.5 * seconds && rescales < 4) {
      iters = std::max<long long>(1, static_cast<long long>(static_cast<double>(iters) * seconds / s));
      ++rescales;
      continue;
    }
    const double flop = 2.0 * kLanes * kChains * kUnroll * static_cast<double>(iters) * threads;
    if (flop / s > best) {
      best = flop / s;
      trial_seconds = s;
    }
    if (cpu > 0) best_cpu = std::max(best_cpu, flop / (cpu / threads));
    ++r;
  }
  // The sink keeps the loops alive; its value is irrelevant.
  volatile float keep = 0;
  for (float x : sink) keep = keep + x;

  FmaPeak p;
  p.gflops = best / 1e9;
  p.cpu_gflops = best_cpu / 1e9;
  p.threads = threads;
  p.isa = kIsa;
  p.lanes = kLanes;
  p.chains = kChains;
  p.trials = trials;
  p.trial_seconds = trial_seconds;
  return p;
}

}  // namespace pelab::bench
