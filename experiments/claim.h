// A paper's claim as a runnable check (docs/claims.md): experiments/claims/*.ini
// names the paper, the claim and the paper's own numbers, holds the recipe as
// a sweep per budget ([quick.*] and [full.*] sections, experiments/sweep.h),
// and states the shape the claim predicts as an expression over the sweep's
// results:
//
//   [claim]
//   name = alibi-extrapolation
//   paper = Press et al. 2022, Train Short, Test Long (arXiv 2108.12409), Tables 2-3
//   statement = beyond the training length ... (one paragraph)
//   paper-numbers = ... (the paper's numbers the check mirrors)
//   check = ppl(pe=sinusoidal, eval=nonoverlap, L=4T) > ppl(pe=rope, eval=nonoverlap, L=4T)
//   check-means = what the check tests, in words
//
// The check language: numbers, metrics, + - * / and parentheses, and clauses
// joined by `and`:
//   a > b > c [by D]             comparisons (< <= > >=; chained: a > b and b > c), each a
//                                test on the paired difference against the minimum effect D
//   equiv(a, b, margin=M)        a null claim: |a - b| < M (TOST; the 90% interval inside +-M)
//   require a >= x               a gate on point estimates: when it fails the verdict is
//                                INCONCLUSIVE (the reference arm never learned the task)
// A metric is NAME(selector, ...): key=value pairs that pick the points whose
// axis values match and the metric's own arguments:
//   ppl(..., eval=LABEL[, protocol=P], L=N|kT)    perplexity at length L (compared as ln ppl)
//   probe(..., eval=LABEL[, L=N|kT])              probe accuracy, mean over depths (and lengths)
//   val_loss(...), train_loss(...), param_norm(...)
//   resolution(..., analyze=LABEL, at=T|L)        attention resolution, mean over layers
//   oscillation(..., analyze=LABEL, range=within|beyond)
//   diagonal_mass(..., analyze=LABEL), asymmetry(..., analyze=LABEL)
//   bench(label=L, value=FIELD, field=v, ...)     a field of the sweep's benchmark L ([bench.L]),
//                                                 over its JSON lines whose fields match (averaged)
// Points are paired by their train.seed: per seed, each side's value (several
// matching points averaged, perplexities geometrically), the difference on the
// comparison's scale (ln for perplexities), then an interval over seeds, and
// over text blocks or probe trials where the results stored them
// (experiments/statistics.h; docs/claims.md "How a verdict is decided").
#pragma once

#include <string>
#include <vector>

#include "experiments/statistics.h"
#include "experiments/sweep.h"
#include "experiments/sweep_summary.h"

namespace pelab {

struct Claim {
  std::string name, paper, statement, paper_numbers, check, check_means, notes;
  std::string source;  // the file
  Sweep quick, full;
};

Claim read_claim_file(const std::string& path);

// The claims in `dir` (*.ini), sorted by name.
std::vector<Claim> read_claims(const std::string& dir);

// One comparison of a check, decided.
struct Comparison {
  std::string kind;          // "compare" | "equiv" | "require"
  std::string lhs, op, rhs;  // as written; op "<", "<=", ">", ">=", or "~" for equiv
  double lhs_mean = 0, rhs_mean = 0;  // over seeds (geometric for perplexities)
  std::string scale;         // the difference's scale: "ln ppl", "accuracy", ...
  double diff = 0;           // lhs - rhs on that scale, mean over seeds
  double delta = 0;          // the minimum effect (equiv: the margin)
  stats::Estimate estimate;  // of the claimed effect (sign-adjusted diff; equiv: diff)
  stats::Interval ci;        // 95% of diff (NaN without an interval)
  stats::Outcome outcome = stats::Outcome::UNDECIDED;
  bool gate_met = true;      // require only
  int seeds_needed = 0;      // undecided: a rough estimate (0: none)
  std::vector<std::string> hosts;  // the distinct hosts its points trained on
};

struct Verdict {
  std::string verdict;  // PASS | FAIL | INCONCLUSIVE
  int seeds = 1;        // the most seeds any comparison had
  std::vector<Comparison> comparisons;  // the gates (kind "require") first
  std::string detail;   // the comparisons, one line each, for people
  bool pass() const { return verdict == "PASS"; }
};

// The minimum effect of a comparison without `by`, per scale (docs/claims.md).
double default_min_effect(const std::string& scale);

// Evaluates `check` against the results. Throws pelab::Error for a malformed
// check, a metric no point provides, a NaN or inf value (naming the run),
// metrics of different units in one comparison, and a one-seed comparison of
// evaluations that stored no per-window or per-trial values.
Verdict evaluate_check(const std::string& check, const std::vector<PointResult>& results, const BenchRows& bench = {});

// One JSON object: claim, budget, seeds, verdict, comparisons [{kind, lhs {expr, mean}, op, rhs {expr, mean},
// scale, diff, delta, ci [lo, hi], outcome, seeds_needed, covers, hosts}].
std::string verdict_json(const std::string& claim, const std::string& budget, const Verdict& v);

// Parses `check` without results (for --list and tests): throws on a syntax error.
void parse_check(const std::string& check);

}  // namespace pelab
