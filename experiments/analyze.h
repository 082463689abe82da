// Attention of a trained model on real text at length L, measured through the
// statistics pass (attention_statistics, O(L + max distance) per head: no
// L x L matrix anywhere), per layer and head (reference §4, §6.8):
//
//   mean_score_by_distance   ŝ[n] = mean of q_i·k_j·scale over pairs with
//                            i - j = n (no bias): xPos's ŝ (arXiv 2212.10554 eq. 11)
//   mean_logit_by_distance   the same with the score bias (ALiBi, T5, KERPLE)
//   mass_by_distance         mean attention probability at distance n
//   entropy_by_position      mean entropy of query i's attention, nats
//   diagonal_mass            mean P_ii: attention a token pays to itself
//   score_asymmetry          mean|s_ij - s_ji| / mean|s_ij| over sampled pairs
//                            (0 for q = k, the seed FAQ's question on Wq, Wk)
// and per layer the attention resolution R(ŝ) (eq. 3, on the head-mean ŝ) and
// the oscillation index (docs/oscillation.md) within the training length and
// over the whole length.
#pragma once

#include <cstdint>
#include <vector>

#include "core/hdf5_file.h"
#include "experiments/eval.h"
#include "model/transformer.h"

namespace pelab {

struct AnalyzeOptions {
  int64_t length = 0;      // L
  int64_t windows = 4;     // windows of L tokens averaged (fewer if the text is short)
  int64_t pairs = 4096;    // sampled (i, j) pairs per head and window for the asymmetry
  uint64_t seed = 1;       // of the pair sampling
  bool quiet = false;
};

struct LayerAttention {
  // (H, L): sums by distance n = 0..L-1 and their counts.
  std::vector<double> score_sum, logit_sum, prob_sum;
  std::vector<int64_t> count;
  std::vector<double> entropy_sum;  // (H, L) by query position
  std::vector<double> asym_diff, asym_abs;  // (H): Σ|s_ij - s_ji|, Σ(|s_ij| + |s_ji|)/2
};

struct AnalyzeReport {
  int64_t length = 0, windows = 0, heads = 0;
  std::vector<LayerAttention> layers;
};

AnalyzeReport analyze_text(Model& model, const EvalText& text, const AnalyzeOptions& opt);

// R(s) = Σ_{i<N} e^{s[i]}(e^{s[i]} - e^{s[i+1]}) / (Σ_{i<N} e^{s[i]})² over
// s[0..n) (xPos eq. 3; s[N] taken as s[N-1]).
double attention_resolution(const double* s, int64_t n);

// Writes /analyze/<label> content: per layer groups layer<l>/ with the curves,
// the indices and, beside them, the theory curve of the model's encoding
// (`pelab decay` of the same settings).
void write_analysis(h5::Group& g, const AnalyzeReport& r, const ModelConfig& cfg, int64_t train_len);

}  // namespace pelab
