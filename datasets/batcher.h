// Batches for training, and windows for evaluation.
//
// Training (Batcher): on a task dataset (BatcherOptions::has_task) each row is
// a fresh packed row of task examples whose non-answer targets are -1. Else
// each row is a random window of T+1 consecutive tokens of
// the training split's token stream (documents concatenated in corpus order,
// so a window may cross a document boundary, as in GPT-style training):
// inputs = its first T tokens, targets = its last T. The start is uniform in
// [0, N - T - 1]. With a synthetic task and rate r > 0, each row is instead,
// with probability r, a fresh synthetic example of length T+1 (synthetic.h),
// whose haystack (passkey, mqar) is a window of the same training split.
// Every random choice comes from one Rng seeded with Rng::stream(seed, 2), so
// the batches are a function of (split, T, seed, task, rate) and the number of
// rows drawn; BatcherState (the Rng state and two counters) restores the exact
// position, e.g. from a checkpoint.
//
// Evaluation: a split's documents are read with Split::doc(i) (dataset.h);
// nonoverlap_windows and sliding_windows cut one document (or any token
// sequence) of n tokens into model inputs of at most L tokens such that every
// token except the first is scored exactly once (reference §6.1, §6.2).
#pragma once

#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "datasets/dataset.h"
#include "datasets/synthetic.h"
#include "datasets/tasks.h"

namespace pelab::data {

struct BatcherOptions {
  int64_t length = 256;  // T: tokens per input row
  uint64_t seed = 1;
  SyntheticTask synthetic = SyntheticTask::NONE;
  double synthetic_rate = 0;  // probability that a row is a synthetic example
  int64_t copy_min = 1, copy_max = 0;  // copy rows: payload range (0: the longest a row holds)
  // A task dataset (datasets/tasks.h): every row is packed with fresh examples
  // of the task, L uniform in [task_min, task_max], and only answer targets
  // are scored (the others are -1). The split's text is not read.
  bool has_task = false;
  TaskKind task = TaskKind::PARITY;
  int64_t task_min = 0, task_max = 0;
  // Randomized positions (arXiv 2305.16843; 0: off): the positions of row r
  // are a sorted random subset of T of [0, random_positions), drawn from a
  // stream of (seed, r) alone, so the rows' tokens are those of a run
  // without it and a resumed run draws the same positions.
  int64_t random_positions = 0;
};

// T sorted distinct positions uniform over the T-subsets of [0, M) (Knuth's
// selection sampling, Algorithm S), into out[0..T).
void draw_sorted_positions(int64_t M, int64_t T, Rng& rng, double* out);

// Row-major (B, T) arrays.
struct Batch {
  int64_t B = 0, T = 0;
  std::vector<int32_t> inputs;    // (B, T) tokens 0..255
  std::vector<int32_t> targets;   // (B, T) targets[b, t] = the token after inputs[b, t]
  std::vector<uint8_t> answer;    // (B, T) 1 where targets[b, t] is an answer token of a synthetic row
  std::vector<uint8_t> synthetic;  // (B) 1 where row b is a synthetic example
  std::vector<double> positions;   // (B, T) with random_positions; empty: 0..T-1 in every row
};

// Everything needed to resume a Batcher exactly (together with its options).
struct BatcherState {
  uint64_t rng = 0;
  int64_t rows = 0;       // rows drawn so far
  int64_t synthetic = 0;  // of which synthetic examples

  std::vector<int64_t> to_ints() const;  // {rng (bit pattern), rows, synthetic}
  static BatcherState from_ints(const std::vector<int64_t>& v);
  bool operator==(const BatcherState&) const = default;
};

// On a task dataset (opt.has_task): the row holds the range's longest example
// and no --data.synthetic mixes in. The Batcher checks it; `pelab train` calls
// it before it creates a run folder.
void check_task_options(const BatcherOptions& opt);

class Batcher {
 public:
  // `train` must outlive the Batcher. Checks T >= 1, N >= T + 1, the rate in
  // [0, 1], and that the synthetic task can fill T + 1 tokens.
  Batcher(const Split& train, const BatcherOptions& opt);
  Batcher(const Split&& train, const BatcherOptions& opt) = delete;  // would dangle

  // Fills `out` with B rows (resizing its arrays).
  void next(int64_t B, Batch& out);
  Batch next(int64_t B) {
    Batch b;
    next(B, b);
    return b;
  }

  BatcherState state() const { return {rng_.state(), rows_, synthetic_}; }
  void restore(const BatcherState& s);
  const BatcherOptions& options() const { return opt_; }

 private:
  const Split* train_;
  BatcherOptions opt_;
  SyntheticOptions synthetic_opt_;
  Rng rng_;
  int64_t rows_ = 0, synthetic_ = 0;
};

// One model input over a sequence of n tokens: inputs are tokens
// [begin, begin + length), targets tokens [begin + 1, begin + length + 1);
// only targets at window positions t >= score_from are scored.
struct EvalWindow {
  int64_t begin = 0;
  int64_t length = 0;
  int64_t score_from = 0;
};

// Consecutive chunks of L inputs (the last may be shorter), all scored.
std::vector<EvalWindow> nonoverlap_windows(int64_t n, int64_t L);
// Windows of L inputs whose end advances by `stride`; the first scores all its
// targets, each later one only the targets past the previous window's end.
std::vector<EvalWindow> sliding_windows(int64_t n, int64_t L, int64_t stride);

}  // namespace pelab::data
