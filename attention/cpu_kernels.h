// CPU building blocks of the flash kernels: a register-blocked fp32 GEMM tile
// and a vectorized exp. AVX-512 when the compiler targets it (-march=native on
// Zen 5), AVX2 + FMA otherwise where available (6 x 16 tiles of ymm: 12
// accumulators + 2 B vectors + 1 broadcast of the 16 registers), portable
// loops elsewhere.
//
// gemm_tile computes C (M, N) = or += A (M, K) · B (K, N) where
//   A(r, t) = A[r·ars + t·acs]  (any strides: A is read by scalar broadcasts,
//                                so Pᵀ and dSᵀ need no transpose copies),
//   B(t, c) = B[t·ldb + c]      (rows contiguous: read as vectors),
//   C(r, c) = C[r·ldc + c].
// The register tile is kMR rows × kNV·16 columns: 6 × 64 holds 24 zmm
// accumulators + 4 B vectors + 1 broadcast of the 32 registers, and gives 24
// FMAs per 10 loads, enough to keep both FMA pipes busy from L1/L2.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace pelab::cpu {

#if defined(__AVX512F__)

inline constexpr int kMR = 6;   // rows per register tile
inline constexpr int kNV = 4;   // 16-float vectors per register tile row

template <int MR, int NV>
inline void gemm_micro(int K, const float* A, int64_t ars, int64_t acs, const float* B, int64_t ldb, float* C,
                       int64_t ldc, bool accumulate, __mmask16 last) {
  __m512 c[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = (v == NV - 1) ? last : __mmask16(0xFFFF);
      c[r][v] = accumulate ? _mm512_maskz_loadu_ps(m, C + r * ldc + 16 * v) : _mm512_setzero_ps();
    }
  for (int t = 0; t < K; ++t) {
    __m512 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = (v == NV - 1) ? last : __mmask16(0xFFFF);
      b[v] = _mm512_maskz_loadu_ps(m, B + t * ldb + 16 * v);
    }
    const float* a = A + t * acs;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r * ars]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) c[r][v] = _mm512_fmadd_ps(ar, b[v], c[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const __mmask16 m = (v == NV - 1) ? last : __mmask16(0xFFFF);
      _mm512_mask_storeu_ps(C + r * ldc + 16 * v, m, c[r][v]);
    }
}

#elif defined(__AVX2__) && defined(__FMA__)

inline constexpr int kMR = 6;   // rows per register tile
inline constexpr int kNV = 2;   // 8-float vectors per register tile row

// Lane mask of the first `n` (1..8) of 8 floats, for maskload / maskstore.
inline __m256i lanes8(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// Full: every vector of a tile row is whole, so plain loads and stores (a
// masked vmaskmovps load measured ~14% of a forward at D = 32 on Zen AVX2).
template <int MR, int NV, bool Full>
inline void gemm_micro_avx2(int K, const float* A, int64_t ars, int64_t acs, const float* B, int64_t ldb, float* C,
                            int64_t ldc, bool accumulate, __m256i tail) {
  auto load = [&](const float* p, int v) {
    return (Full || v < NV - 1) ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tail);
  };
  __m256 c[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) c[r][v] = accumulate ? load(C + r * ldc + 8 * v, v) : _mm256_setzero_ps();
  for (int t = 0; t < K; ++t) {
    __m256 b[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) b[v] = load(B + t * ldb + 8 * v, v);
    const float* a = A + t * acs;
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r * ars);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) c[r][v] = _mm256_fmadd_ps(ar, b[v], c[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      float* p = C + r * ldc + 8 * v;
      if (Full || v < NV - 1) _mm256_storeu_ps(p, c[r][v]);
      else _mm256_maskstore_ps(p, tail, c[r][v]);
    }
}

template <int MR, int NV>
inline void gemm_micro(int K, const float* A, int64_t ars, int64_t acs, const float* B, int64_t ldb, float* C,
                       int64_t ldc, bool accumulate, int last) {
  if (last == 8) gemm_micro_avx2<MR, NV, true>(K, A, ars, acs, B, ldb, C, ldc, accumulate, __m256i{});
  else gemm_micro_avx2<MR, NV, false>(K, A, ars, acs, B, ldb, C, ldc, accumulate, lanes8(last));
}

#endif

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))

// Rows: full tiles of kMR, then one tile of the remaining 1..kMR-1 rows.
template <int NV, typename Mask>
inline void gemm_rows(int M, int K, const float* A, int64_t ars, int64_t acs, const float* B, int64_t ldb, float* C,
                      int64_t ldc, bool accumulate, Mask last) {
  int r = 0;
  for (; r + kMR <= M; r += kMR)
    gemm_micro<kMR, NV>(K, A + r * ars, ars, acs, B, ldb, C + r * ldc, ldc, accumulate, last);
  const float* a = A + r * ars;
  float* c = C + r * ldc;
  switch (M - r) {
    case 1: gemm_micro<1, NV>(K, a, ars, acs, B, ldb, c, ldc, accumulate, last); break;
    case 2: gemm_micro<2, NV>(K, a, ars, acs, B, ldb, c, ldc, accumulate, last); break;
    case 3: gemm_micro<3, NV>(K, a, ars, acs, B, ldb, c, ldc, accumulate, last); break;
    case 4: gemm_micro<4, NV>(K, a, ars, acs, B, ldb, c, ldc, accumulate, last); break;
    case 5: gemm_micro<5, NV>(K, a, ars, acs, B, ldb, c, ldc, accumulate, last); break;
    default: break;
  }
}

#endif

#if defined(__AVX512F__)

inline void gemm_tile(int M, int N, int K, const float* A, int64_t ars, int64_t acs, const float* B, int64_t ldb,
                      float* C, int64_t ldc, bool accumulate) {
  int c0 = 0;
  for (; c0 + 16 * kNV <= N; c0 += 16 * kNV)
    gemm_rows<kNV>(M, K, A, ars, acs, B + c0, ldb, C + c0, ldc, accumulate, 0xFFFF);
  const int rest = N - c0;
  if (rest == 0) return;
  const int nv = (rest + 15) / 16;
  const __mmask16 last = static_cast<__mmask16>((1u << (rest - 16 * (nv - 1))) - 1u);  // 1..16 lanes
  switch (nv) {
    case 1: gemm_rows<1>(M, K, A, ars, acs, B + c0, ldb, C + c0, ldc, accumulate, last); break;
    case 2: gemm_rows<2>(M, K, A, ars, acs, B + c0, ldb, C + c0, ldc, accumulate, last); break;
    case 3: gemm_rows<3>(M, K, A, ars, acs, B + c0, ldb, C + c0, ldc, accumulate, last); break;
    case 4: gemm_rows<4>(M, K, A, ars, acs, B + c0, ldb, C + c0, ldc, accumulate, last); break;
    default: break;  // unreachable: rest < 16·kNV
  }
}

// exp(x) for 16 floats: 2^n·2^f with n = round(x·log2 e), f in [-1/2, 1/2]
// and a degree-6 Taylor polynomial of 2^f (relative error < 2e-7, about
// 2 ulp); inputs below -87.3 (including -inf) give exactly 0, so masked
// scores contribute nothing and no denormals enter the products.
inline __m512 exp512(__m512 x) {
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_LT_OQ);
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
  const __m512 t = _mm512_mul_ps(x, log2e);
  const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(t, n);
  __m512 p = _mm512_set1_ps(1.5403530393381606e-4f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291076284772e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504108664821580e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022650695910071e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718055994531e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(static_cast<__mmask16>(~tiny), p, n);
}

#elif defined(__AVX2__) && defined(__FMA__)

inline void gemm_tile(int M, int N, int K, const float* A, int64_t ars, int64_t acs, const float* B, int64_t ldb,
                      float* C, int64_t ldc, bool accumulate) {
  int c0 = 0;
  for (; c0 + 8 * kNV <= N; c0 += 8 * kNV) gemm_rows<kNV>(M, K, A, ars, acs, B + c0, ldb, C + c0, ldc, accumulate, 8);
  const int rest = N - c0;
  if (rest == 0) return;
  if (rest <= 8) gemm_rows<1>(M, K, A, ars, acs, B + c0, ldb, C + c0, ldc, accumulate, rest);
  else gemm_rows<2>(M, K, A, ars, acs, B + c0, ldb, C + c0, ldc, accumulate, rest - 8);
}

// exp(x) for 8 floats, the same method and polynomial as exp512 above: 2^n
// built in the exponent bits (n >= -126 after the clamp, so no denormals).
inline __m256 exp256(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3f);
  const __m256 tiny = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_max_ps(x, lo);
  const __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f));
  const __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(t, n);
  __m256 p = _mm256_set1_ps(1.5403530393381606e-4f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3333558146428443e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6181291076284772e-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5504108664821580e-2f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022650695910071e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314718055994531e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  const __m256 two_n = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
  return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, two_n));
}

#else  // portable fallback: correct everywhere, fast nowhere

inline void gemm_tile(int M, int N, int K, const float* A, int64_t ars, int64_t acs, const float* B, int64_t ldb,
                      float* C, int64_t ldc, bool accumulate) {
  for (int r = 0; r < M; ++r) {
    float* c = C + r * ldc;
    if (!accumulate)
      for (int j = 0; j < N; ++j) c[j] = 0.0f;
    for (int t = 0; t < K; ++t) {
      const float a = A[r * ars + t * acs];
      const float* b = B + t * ldb;
      for (int j = 0; j < N; ++j) c[j] += a * b[j];
    }
  }
}

#endif

#if !defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__)
inline float max8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}
#endif

// Row passes of the online softmax, vectorized.
//   logits: x[t] = scale·x[t] + bias[t] for t < n (bias may be null), returns max_t x[t]
//   logits_alibi: x[t] = scale·x[t] - slope·|d0 - t|, returns the max
//   exp_sub_sum: x[t] = exp(x[t] - m), returns Σ_t x[t]
inline float logits(float* x, int n, float scale, const float* bias) {
  float m = -INFINITY;
  int t = 0;
#if defined(__AVX512F__)
  __m512 vm = _mm512_set1_ps(-INFINITY);
  const __m512 vs = _mm512_set1_ps(scale);
  for (; t + 16 <= n; t += 16) {
    __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + t), vs);
    if (bias) v = _mm512_add_ps(v, _mm512_loadu_ps(bias + t));
    _mm512_storeu_ps(x + t, v);
    vm = _mm512_max_ps(vm, v);
  }
  m = _mm512_reduce_max_ps(vm);
#elif defined(__AVX2__) && defined(__FMA__)
  __m256 vm = _mm256_set1_ps(-INFINITY);
  const __m256 vs = _mm256_set1_ps(scale);
  for (; t + 8 <= n; t += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + t), vs);
    if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias + t));
    _mm256_storeu_ps(x + t, v);
    vm = _mm256_max_ps(vm, v);
  }
  m = max8(vm);
#endif
  for (; t < n; ++t) {
    x[t] = scale * x[t] + (bias ? bias[t] : 0.0f);
    m = x[t] > m ? x[t] : m;
  }
  return m;
}

inline float logits_alibi(float* x, int n, float scale, float slope, float d0) {
  float m = -INFINITY;
  int t = 0;
#if defined(__AVX512F__)
  __m512 vm = _mm512_set1_ps(-INFINITY);
  const __m512 vs = _mm512_set1_ps(scale), vslope = _mm512_set1_ps(-slope);
  __m512 dist = _mm512_sub_ps(_mm512_set1_ps(d0), _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  const __m512 sixteen = _mm512_set1_ps(16.0f);
  for (; t + 16 <= n; t += 16) {
    const __m512 v = _mm512_fmadd_ps(vslope, _mm512_abs_ps(dist), _mm512_mul_ps(_mm512_loadu_ps(x + t), vs));
    _mm512_storeu_ps(x + t, v);
    vm = _mm512_max_ps(vm, v);
    dist = _mm512_sub_ps(dist, sixteen);
  }
  m = _mm512_reduce_max_ps(vm);
#elif defined(__AVX2__) && defined(__FMA__)
  __m256 vm = _mm256_set1_ps(-INFINITY);
  const __m256 vs = _mm256_set1_ps(scale), vslope = _mm256_set1_ps(-slope), sign = _mm256_set1_ps(-0.0f);
  __m256 dist = _mm256_sub_ps(_mm256_set1_ps(d0), _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7));
  const __m256 eight = _mm256_set1_ps(8.0f);
  for (; t + 8 <= n; t += 8) {
    const __m256 v = _mm256_fmadd_ps(vslope, _mm256_andnot_ps(sign, dist), _mm256_mul_ps(_mm256_loadu_ps(x + t), vs));
    _mm256_storeu_ps(x + t, v);
    vm = _mm256_max_ps(vm, v);
    dist = _mm256_sub_ps(dist, eight);
  }
  m = max8(vm);
#endif
  for (; t < n; ++t) {
    x[t] = scale * x[t] - slope * std::fabs(d0 - static_cast<float>(t));
    m = x[t] > m ? x[t] : m;
  }
  return m;
}

inline float exp_sub_sum(float* x, int n, float m) {
  float sum = 0.0f;
  int t = 0;
#if defined(__AVX512F__)
  const __m512 vm = _mm512_set1_ps(m);
  __m512 acc = _mm512_setzero_ps();
  for (; t + 16 <= n; t += 16) {
    const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + t), vm));
    _mm512_storeu_ps(x + t, e);
    acc = _mm512_add_ps(acc, e);
  }
  if (t < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - t)) - 1u);
    const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + t), vm));
    _mm512_mask_storeu_ps(x + t, k, e);
    acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(k, e));
    t = n;
  }
  sum = _mm512_reduce_add_ps(acc);
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 vm = _mm256_set1_ps(m);
  __m256 acc = _mm256_setzero_ps();
  for (; t + 8 <= n; t += 8) {
    const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + t), vm));
    _mm256_storeu_ps(x + t, e);
    acc = _mm256_add_ps(acc, e);
  }
  if (t < n) {
    const __m256i k = lanes8(n - t);
    const __m256 e = _mm256_and_ps(exp256(_mm256_sub_ps(_mm256_maskload_ps(x + t, k), vm)), _mm256_castsi256_ps(k));
    _mm256_maskstore_ps(x + t, k, e);
    acc = _mm256_add_ps(acc, e);
    t = n;
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc);
  for (float v : lanes) sum += v;
#endif
  for (; t < n; ++t) sum += (x[t] = (x[t] - m) < -87.3f ? 0.0f : std::exp(x[t] - m));
  return sum;
}

// exp over n floats in place (the vector path above, or std::exp).
inline void exp_inplace(float* x, int n) {
  int i = 0;
#if defined(__AVX512F__)
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, exp512(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(x + i, m, exp512(_mm512_maskz_loadu_ps(m, x + i)));
    return;
  }
#elif defined(__AVX2__) && defined(__FMA__)
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, exp256(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = lanes8(n - i);
    _mm256_maskstore_ps(x + i, m, exp256(_mm256_maskload_ps(x + i, m)));
    return;
  }
#endif
  for (; i < n; ++i) x[i] = x[i] < -87.3f ? 0.0f : std::exp(x[i]);
}

}  // namespace pelab::cpu
