#include "experiments/analyze.h"

#include <algorithm>
#include <cmath>

#include "analysis/oscillation.h"
#include "attention/attention.h"
#include "core/error.h"
#include "core/progress.h"
#include "core/rng.h"
#include "encodings/theory.h"

namespace pelab {

double attention_resolution(const double* s, int64_t n) {
  if (n <= 0) return std::nan("");
  // exp(s - max) keeps every term finite; R is invariant to the shift (both
  // numerator and denominator scale by e^{2c}).
  const double m = *std::max_element(s, s + n);
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double e = std::exp(s[i] - m), next = std::exp(s[std::min(i + 1, n - 1)] - m);
    num += e * (e - next);
    den += e;
  }
  return num / (den * den);
}

AnalyzeReport analyze_text(Model& model, const EvalText& text, const AnalyzeOptions& opt) {
  const int64_t L = opt.length;
  PELAB_CHECK(L >= 2 && L <= (1LL << 24), "--length must be in [2, 16777216], got " << L, "e.g. --length 4096");
  PELAB_CHECK(opt.windows >= 1, "--windows must be >= 1, got " << opt.windows, "e.g. --windows 4");
  const int64_t n = static_cast<int64_t>(text.tokens.size());
  PELAB_CHECK(n >= L, "the text (" << text.source << ") has " << n << " tokens, fewer than --length " << L,
              "give a longer text or a shorter --length");
  const ModelConfig& cfg = model.config();
  const int H = cfg.n_heads;
  AnalyzeReport rep;
  rep.length = L;
  rep.heads = H;
  rep.windows = std::min(opt.windows, n / L);
  rep.layers.resize(cfg.n_layers);
  for (auto& l : rep.layers) {
    l.score_sum.assign(H * L, 0.0);
    l.logit_sum.assign(H * L, 0.0);
    l.prob_sum.assign(H * L, 0.0);
    l.count.assign(H * L, 0);
    l.entropy_sum.assign(H * L, 0.0);
    l.asym_diff.assign(H, 0.0);
    l.asym_abs.assign(H, 0.0);
  }
  Rng rng = Rng::stream(opt.seed, 7);
  std::vector<float> entropy(static_cast<size_t>(H) * L);
  model.set_attention_observer([&](int layer, const AttentionParams<float>& p) {
    LayerAttention& la = rep.layers[layer];
    AttentionStats s;
    s.max_distance = L - 1;
    s.score_sum = la.score_sum.data();
    s.logit_sum = la.logit_sum.data();
    s.prob_sum = la.prob_sum.data();
    s.count = la.count.data();
    s.entropy = entropy.data();
    attention_statistics(p, s, AttnImpl::FLASH);
    for (int h = 0; h < H; ++h)
      for (int64_t i = 0; i < L; ++i) la.entropy_sum[h * L + i] += entropy[static_cast<size_t>(h) * L + i];
    // The bilinear form q_i·k_j against q_j·k_i on sampled pairs i != j.
    const int D = p.head_dim;
    for (int h = 0; h < H; ++h)
      for (int64_t k = 0; k < opt.pairs; ++k) {
        const int64_t i = static_cast<int64_t>(rng.below(L)), j = static_cast<int64_t>(rng.below(L));
        if (i == j) continue;
        const float* qi = p.q + i * p.q_row_stride + h * p.q_head_stride;
        const float* qj = p.q + j * p.q_row_stride + h * p.q_head_stride;
        const float* ki = p.k + i * p.k_row_stride + h * p.k_head_stride;
        const float* kj = p.k + j * p.k_row_stride + h * p.k_head_stride;
        double sij = 0, sji = 0;
        for (int d = 0; d < D; ++d) sij += double(qi[d]) * kj[d], sji += double(qj[d]) * ki[d];
        la.asym_diff[h] += std::fabs(sij - sji) * p.softmax_scale;
        la.asym_abs[h] += 0.5 * (std::fabs(sij) + std::fabs(sji)) * p.softmax_scale;
      }
  });
  Progress progress("analyze", rep.windows, opt.quiet ? Progress::Mode::QUIET : Progress::Mode::AUTO);
  // Windows spread evenly over the text.
  std::vector<int32_t> in(L), tg(L);
  for (int64_t w = 0; w < rep.windows; ++w) {
    const int64_t span = n - L;
    const int64_t begin = rep.windows == 1 ? 0 : w * (span / (rep.windows - 1));
    for (int64_t t = 0; t < L; ++t) {
      in[t] = text.tokens[begin + t];
      tg[t] = begin + t + 1 < n ? text.tokens[begin + t + 1] : -1;
    }
    model.evaluate(in.data(), tg.data(), 1, static_cast<int>(L));
    progress.update(w + 1);
  }
  progress.finish();
  model.set_attention_observer(nullptr);
  return rep;
}

namespace {

// Mean of sums over counts per (head, distance); NaN where nothing was seen.
std::vector<double> mean_of(const std::vector<double>& sum, const std::vector<int64_t>& count) {
  std::vector<double> m(sum.size());
  for (size_t i = 0; i < sum.size(); ++i) m[i] = count[i] ? sum[i] / static_cast<double>(count[i]) : std::nan("");
  return m;
}

void write_oscillation(h5::Group& g, const std::string& prefix, const double* s, int64_t lo, int64_t hi) {
  if (hi < lo) return;
  const OscillationIndex o = oscillation_index(s, lo, hi);
  g.set_attr(prefix + "_range", std::vector<int64_t>{lo, hi});
  g.set_attr(prefix + "_tv", o.normalized_tv);
  g.set_attr(prefix + "_sign_changes", o.sign_changes);
  g.set_attr(prefix + "_negative_fraction", o.negative_fraction);
}

}  // namespace

void write_analysis(h5::Group& g, const AnalyzeReport& r, const ModelConfig& cfg, int64_t train_len) {
  const int64_t L = r.length, H = r.heads;
  const int64_t T = std::clamp<int64_t>(train_len > 0 ? train_len : L, 1, L);
  g.set_attr("length", L);
  g.set_attr("windows", r.windows);
  g.set_attr("train_len", T);
  g.set_attr("pe", cfg.pe.label());
  g.write("distance", [&] {
    std::vector<int64_t> d(L);
    for (int64_t i = 0; i < L; ++i) d[i] = i;
    return d;
  }());
  // Theory of the same encoding settings, for the overlay.
  const DecayCurves theory = decay_curves(cfg.pe, cfg.head_dim(), cfg.n_heads, L - 1);
  if (!theory.allones.empty())
    g.write("theory_allones_score", theory.allones.data(),
            {static_cast<uint64_t>(theory.allones_rows), static_cast<uint64_t>(L)});
  std::vector<double> res_T, res_L;
  for (size_t l = 0; l < r.layers.size(); ++l) {
    const LayerAttention& la = r.layers[l];
    h5::Group lg = g.create_group("layer" + std::to_string(l));
    const std::vector<double> score = mean_of(la.score_sum, la.count), logit = mean_of(la.logit_sum, la.count);
    const std::vector<double> mass = mean_of(la.prob_sum, la.count);
    std::vector<double> entropy(H * L), diag(H), asym(H), head_mean(L, 0.0);
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t i = 0; i < L; ++i) entropy[h * L + i] = la.entropy_sum[h * L + i] / std::max<int64_t>(r.windows, 1);
      diag[h] = mass[h * L + 0];  // every query has a key at distance 0: P_ii averaged
      asym[h] = la.asym_abs[h] > 0 ? la.asym_diff[h] / la.asym_abs[h] : std::nan("");
      for (int64_t n = 0; n < L; ++n) head_mean[n] += score[h * L + n] / static_cast<double>(H);
    }
    const uint64_t dims[2] = {static_cast<uint64_t>(H), static_cast<uint64_t>(L)};
    lg.write("mean_score_by_distance", score.data(), {dims[0], dims[1]});
    lg.write("mean_logit_by_distance", logit.data(), {dims[0], dims[1]});
    lg.write("mass_by_distance", mass.data(), {dims[0], dims[1]});
    lg.write("entropy_by_position", entropy.data(), {dims[0], dims[1]});
    lg.write("pair_count_by_distance", la.count.data(), {dims[0], dims[1]});
    lg.write("diagonal_mass", diag);
    lg.write("score_asymmetry", asym);
    lg.write("head_mean_score_by_distance", head_mean);
    const double rT = attention_resolution(head_mean.data(), T), rL = attention_resolution(head_mean.data(), L);
    lg.set_attr("resolution_at_train_len", rT);
    lg.set_attr("resolution_at_length", rL);
    res_T.push_back(rT);
    res_L.push_back(rL);
    write_oscillation(lg, "oscillation_within", head_mean.data(), 0, T - 1);
    write_oscillation(lg, "oscillation_beyond", head_mean.data(), std::min(T, L - 1), L - 1);
  }
  g.write("resolution_at_train_len", res_T);
  g.write("resolution_at_length", res_L);
}

}  // namespace pelab
