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
// The check language: numbers, metrics, + - * / and parentheses, comparisons
// (< <= > >=, chained: a > b > c means a > b and b > c) joined by `and`.
// A metric is NAME(selector, ...): key=value pairs that pick the points whose
// axis values match (several matching points, e.g. seeds, are averaged) and the
// metric's own arguments:
//   ppl(..., eval=LABEL[, protocol=P], L=N|kT)    perplexity at length L
//   probe(..., eval=LABEL[, L=N|kT])              probe accuracy, mean over depths (and lengths)
//   val_loss(...), train_loss(...), param_norm(...)
//   resolution(..., analyze=LABEL, at=T|L)        attention resolution, mean over layers
//   oscillation(..., analyze=LABEL, range=within|beyond)
//   diagonal_mass(..., analyze=LABEL), asymmetry(..., analyze=LABEL)
//   bench(label=L, value=FIELD, field=v, ...)     a field of the sweep's benchmark L ([bench.L]),
//                                                 over its JSON lines whose fields match (averaged)
#pragma once

#include <string>
#include <vector>

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

struct Verdict {
  bool pass = false;
  std::string detail;  // the check with every metric's value, e.g. "ppl(...) = 12.3 > ppl(...) = 5.1"
};

// Evaluates `check` against the results. Throws pelab::Error for a malformed
// check or a metric no point provides (naming it).
Verdict evaluate_check(const std::string& check, const std::vector<PointResult>& results, const BenchRows& bench = {});

// Parses `check` without results (for --list and tests): throws on a syntax error.
void parse_check(const std::string& check);

}  // namespace pelab
