#include "encodings/theory.h"

#include <algorithm>
#include <cmath>
#include <complex>

#include "core/error.h"
#include "encodings/bias.h"
#include "encodings/rope.h"
#include "encodings/sinusoidal_math.h"

namespace pelab {

double rope_allones_score(const std::vector<double>& inv_freq, int head_dim, double mscale, double n) {
  double sum = 0.0;
  for (double t : inv_freq) sum += 2.0 * std::cos(n * t);
  return mscale * mscale * sum / std::sqrt(static_cast<double>(head_dim));
}

double xpos_allones_score(const std::vector<double>& inv_freq, const std::vector<double>& zeta, int head_dim,
                          double scale_base, double n) {
  double sum = 0.0;
  for (size_t k = 0; k < inv_freq.size(); ++k) sum += 2.0 * std::cos(n * inv_freq[k]) * std::pow(zeta[k], n / scale_base);
  return sum / std::sqrt(static_cast<double>(head_dim));
}

double sinusoidal_allones_score(int dim, double n) {
  // pe(m)·pe(m+n) = Σ_k sin(mω)sin((m+n)ω) + cos(mω)cos((m+n)ω) = Σ_k cos(nω_k).
  double sum = 0.0;
  // dim is even (validate() requires it): an odd last sin(pω) would not be shift-invariant.
  for (int i = 0; i + 1 < dim; i += 2) sum += std::cos(n * std::pow(kSinusoidalBase, -static_cast<double>(i) / dim));
  return sum / std::sqrt(static_cast<double>(dim));
}

double rope_bound(const std::vector<double>& inv_freq, double n) {
  std::complex<double> S = 0.0;
  double total = 0.0;
  for (double t : inv_freq) {
    S += std::polar(1.0, n * t);  // S_m after adding term m-1
    total += std::abs(S);
  }
  return total / static_cast<double>(inv_freq.size());
}

namespace {

// ---- min_rope_base_for: B_m(b) = Σ_i cos(m·θ_i) over long runs of m.
// Within a block of kChebBlock steps each term follows the Chebyshev
// recurrence cos((m+1)θ) = 2cosθ·cos(mθ) - cos((m-1)θ): one FMA per term and
// m, its rounding growing at most ~kChebBlock²·eps ≈ 1e-11 per term. Blocks
// start from (cos, sin)(m0·θ) carried by complex rotation through
// e^{i·kChebBlock·θ}, whose error grows only with the number of blocks
// (~L/kChebBlock·eps ≈ 1e-12 at L = 2^20). Serial: on the shared 2 cores
// (load 4-8), OpenMP over chunks of m made the 2^10..2^20 list 3-5x slower
// (threads spinning at each region's end) and no faster with passive waiting.
constexpr int64_t kChebBlock = 256;
// Eight partial sums per m: one accumulator chains d/2 dependent adds and
// keeps the term loop from vectorizing; eight run ~1.3x faster (-O2).
constexpr int kLanes = 8;
constexpr int kWitnesses = 16;  // recent failing m tried first on the next base
constexpr double kMaxBase = 1e12;

// θ_i = b^(-2i/d), i < d/2, padded with zero terms to a multiple of kLanes.
// The scan tables (built only for a scan) hold for each term: 2cosθ, sinθ
// and the block rotation e^{i·kChebBlock·θ}; zero terms stay zero.
struct RopeBaseTerms {
  std::vector<double> theta, two_cos, sin1, rot_cos, rot_sin;
  int count = 0;  // d/2

  RopeBaseTerms(double base, int head_dim) : count(head_dim / 2) {
    theta.assign((count + kLanes - 1) / kLanes * kLanes, 0.0);
    for (int i = 0; i < count; ++i) theta[i] = std::pow(base, -2.0 * i / head_dim);
  }
  void build_scan_tables() {
    const size_t n = theta.size();
    two_cos.assign(n, 0.0), sin1.assign(n, 0.0), rot_cos.assign(n, 0.0), rot_sin.assign(n, 0.0);
    for (int i = 0; i < count; ++i) {
      two_cos[i] = 2.0 * std::cos(theta[i]);
      sin1[i] = std::sin(theta[i]);
      rot_cos[i] = std::cos(kChebBlock * theta[i]);
      rot_sin[i] = std::sin(kChebBlock * theta[i]);
    }
  }
};

// B_m, and S_m = Σ_i min(1, mθ_i)·mθ_i·(2i/d) >= |dB_m/d ln b|: term i
// changes by sin(mθ_i)·mθ_i·(2i/d) and |sin x| <= min(1, x). S_m bounds the
// slope at this base and at every larger one, where each mθ_i is smaller.
struct RopeBaseSum {
  double value, slope;
};
RopeBaseSum rope_base_sum(const RopeBaseTerms& t, int64_t m) {
  RopeBaseSum r{0.0, 0.0};
  for (int i = 0; i < t.count; ++i) {
    const double x = static_cast<double>(m) * t.theta[i];
    r.value += std::cos(x);
    r.slope += std::min(1.0, x) * x * (2.0 * i / (2 * t.count));
  }
  return r;
}

// The first m in [lo, hi] with B_m < 0, or -1 when B_m >= 0 on all of it.
int64_t first_negative_sum(const RopeBaseTerms& t, int64_t lo, int64_t hi) {
  const size_t n = t.theta.size();
  std::vector<double> c(n, 0.0), s(n, 0.0), a(n), b(n);  // (cos, sin)(m0·θ); two recurrence rows
  for (int i = 0; i < t.count; ++i) {
    c[i] = std::cos(static_cast<double>(lo) * t.theta[i]);
    s[i] = std::sin(static_cast<double>(lo) * t.theta[i]);
  }
  for (int64_t m0 = lo; m0 <= hi; m0 += kChebBlock) {
    double* cur = a.data();   // cos(m·θ)
    double* prev = b.data();  // cos((m-1)·θ), overwritten by cos((m+1)·θ)
    for (size_t i = 0; i < n; ++i) {
      cur[i] = c[i];
      prev[i] = c[i] * (0.5 * t.two_cos[i]) + s[i] * t.sin1[i];
    }
    for (int64_t m = m0; m <= std::min(hi, m0 + kChebBlock - 1); ++m) {
      double acc[kLanes] = {};
      for (size_t i = 0; i < n; i += kLanes)
#pragma omp simd
        for (int j = 0; j < kLanes; ++j) {
          acc[j] += cur[i + j];
          prev[i + j] = t.two_cos[i + j] * cur[i + j] - prev[i + j];
        }
      double sum = 0.0;
      for (double x : acc) sum += x;
      if (sum < 0.0) return m;
      std::swap(cur, prev);
    }
    for (size_t i = 0; i < n; ++i) {
      const double ci = c[i] * t.rot_cos[i] - s[i] * t.rot_sin[i];
      s[i] = s[i] * t.rot_cos[i] + c[i] * t.rot_sin[i];
      c[i] = ci;
    }
  }
  return -1;
}

}  // namespace

double min_rope_base_for(int64_t L, int head_dim, int per_decade, double from) {
  PELAB_CHECK(L >= 1, "the context length for the RoPE base bound must be >= 1, got " << L, "e.g. 4096");
  PELAB_CHECK(head_dim >= 2 && head_dim % 2 == 0,
              "RoPE rotates pairs of dims, so the head dim must be even and >= 2, got " << head_dim,
              "use an even head dim such as 64 or 128");
  PELAB_CHECK(per_decade >= 1 && per_decade <= 1'000'000,
              "the base grid must have 1 to 1000000 points per decade, got " << per_decade, "e.g. 10000");
  PELAB_CHECK(from >= 1.0 && from <= kMaxBase, "the grid start must be a base in [1, 1e12], got " << from,
              "pass the result for a shorter length, or 1");
  const double ln_step = std::log(10.0) / per_decade;  // ln(b_{k+1} / b_k)
  const int64_t k_max = static_cast<int64_t>(std::llround(std::log10(kMaxBase) * per_decade));
  // from = 10^(k/per_decade) as computed by pow reads back within 1e-9 of k.
  int64_t k = static_cast<int64_t>(std::ceil(std::log10(from) * per_decade - 1e-6));
  // Grid steps past b_k that fail by the same m: B_m(b_k) = -v < 0 stays
  // negative while ln(b/b_k) < v/S_m (S_m bounds the slope above b_k), less
  // 1e-9 of v for rounding in the d/2-term sum. d = 2 has S_m = 0: every base
  // fails alike.
  auto steps_failing = [&](const RopeBaseSum& r) -> int64_t {
    if (r.slope == 0.0) return k_max;
    return static_cast<int64_t>(std::max(0.0, std::min((-r.value - 1e-9) / (r.slope * ln_step), double(k_max))));
  };
  std::vector<int64_t> witnesses;  // m that failed recent bases, newest first
  while (k <= k_max) {
    const double base = std::pow(10.0, static_cast<double>(k) / per_decade);
    RopeBaseTerms t(base, head_dim);
    int64_t skip = -1;
    for (int64_t w : witnesses) {
      const RopeBaseSum r = rope_base_sum(t, w);
      if (r.value < 0.0) skip = std::max(skip, steps_failing(r));
    }
    if (skip < 0) {
      t.build_scan_tables();
      // The dip that failed a nearby base moves with the base: look next to
      // each witness, then within 2% of it, then everywhere.
      int64_t m = -1;
      for (int64_t w : witnesses)
        if ((m = first_negative_sum(t, std::max<int64_t>(0, w - 64), std::min(L, w + 64))) >= 0) break;
      if (m < 0)
        for (int64_t w : witnesses) {
          const int64_t r = std::max<int64_t>(256, w / 50);
          if ((m = first_negative_sum(t, std::max<int64_t>(0, w - r), std::min(L, w + r))) >= 0) break;
        }
      if (m < 0) m = first_negative_sum(t, 0, L);
      if (m < 0) return base;
      skip = steps_failing(rope_base_sum(t, m));
      std::erase(witnesses, m);
      witnesses.insert(witnesses.begin(), m);
      if (static_cast<int>(witnesses.size()) > kWitnesses) witnesses.pop_back();
    }
    k += 1 + skip;
  }
  PELAB_FAIL("no RoPE base up to 1e12 keeps B_m >= 0 for all m <= " << L << " at head dim " << head_dim,
             (head_dim == 2 ? "at head dim 2, B_m = cos m is negative at m = 2 for every base" : "use a shorter length"));
}

DecayCurves decay_curves(const PeSpec& spec, int head_dim, int heads, int64_t N) {
  DecayCurves c;
  const int64_t len = N + 1;
  c.distance.resize(len);
  for (int64_t n = 0; n < len; ++n) c.distance[n] = n;

  switch (spec.family()) {
    case PeFamily::QK_TRANSFORM: {
      RopeParams r = spec.rope;
      r.dim = head_dim;
      c.inv_freq = rope_inv_freq_table(r, len);
      c.attention_scale = rope_attention_scale(r);
      c.allones.resize(len);
      c.rope_bound.resize(len);
      if (spec.kind == PeKind::XPOS) c.xpos_zeta = xpos_zeta_table(head_dim, spec.xpos.gamma);
#pragma omp parallel for schedule(static)
      for (int64_t n = 0; n < len; ++n) {
        c.allones[n] = spec.kind == PeKind::XPOS
                           ? c.attention_scale * c.attention_scale *
                                 xpos_allones_score(c.inv_freq, c.xpos_zeta, head_dim, spec.xpos.scale_base, n)
                           : rope_allones_score(c.inv_freq, head_dim, c.attention_scale, n);
        c.rope_bound[n] = rope_bound(c.inv_freq, n);
      }
      break;
    }
    case PeFamily::SCORE_BIAS: {
      if (spec.kind == PeKind::T5) {
        // Learned table: no theory curve until a model is trained; the bucket map is the theory.
        c.bucket.resize(len);
        for (int64_t n = 0; n < len; ++n)
          c.bucket[n] = t5_bucket(n, spec.t5.bidirectional, spec.t5.num_buckets, spec.t5.max_distance);
        c.allones.clear();
        break;
      }
      if (spec.kind == PeKind::ALIBI) c.slopes = alibi_slopes(heads);
      std::vector<float> params;
      if (spec.kind == PeKind::KERPLE) params = kerple_params_from_spec(spec.kerple, heads);
      c.bias.resize(heads * len);
      c.allones.resize(heads * len);
      c.allones_rows = heads;
      const double content = std::sqrt(static_cast<double>(head_dim));  // all-ones q·k/√d = √d
      for (int h = 0; h < heads; ++h)
        for (int64_t n = 0; n < len; ++n) {
          const double b = spec.kind == PeKind::ALIBI
                               ? -c.slopes[h] * spec.alibi_distance_scale * static_cast<double>(n)
                               : kerple_bias(spec.kerple.kind, static_cast<double>(n),
                                             spec.kerple.a.size() == 1 ? spec.kerple.a[0] : spec.kerple.a[h],
                                             spec.kerple.b.size() == 1 ? spec.kerple.b[0] : spec.kerple.b[h],
                                             spec.kerple.p.size() == 1 ? spec.kerple.p[0] : spec.kerple.p[h]);
          c.bias[h * len + n] = b;
          c.allones[h * len + n] = content + b;
        }
      break;
    }
    case PeFamily::ABSOLUTE: {
      c.allones.resize(len);
      for (int64_t n = 0; n < len; ++n)
        c.allones[n] = spec.kind == PeKind::SINUSOIDAL ? sinusoidal_allones_score(head_dim, n)
                                                       : std::sqrt(static_cast<double>(head_dim));
      break;
    }
  }
  return c;
}

}  // namespace pelab
