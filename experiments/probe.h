// Retrieval probes (reference §6.4-6.6): the "superficial long context" check
// of arXiv 2405.14591, where perplexity stays low while retrieval fails.
// Examples of the synthetic tasks (datasets/synthetic.h) go through the model
// once, teacher-forced. For passkey and mqar a length L is the model's input
// (the example has L + 1 bytes); for copy it is the payload n (the example
// "P|P\n" has 2n + 2 bytes, the input 2n + 1). An example counts as retrieved when
// the argmax prediction of every answer byte is that byte (greedy decoding of
// the answer with the correct prefix fed back, which is what a greedy decoder
// does as long as it is right). Accuracy is the share of retrieved examples.
// passkey puts the needle at each requested depth of a haystack of the run's
// train split; copy and mqar have no depth (one column).
//
// A task of the suite (datasets/tasks.h; `pelab eval --task`) is scored the
// same way: L is the task's length, the example its text() (the input, '=',
// the answer and '\n', the last two scored), one column.
//
// With random_positions = M the model reads each example at the positions of
// a sorted random subset of [0, M) (Transformer::set_positions), as the
// randomized-positions reference code tests (arXiv 2305.16843), instead of
// 0..n-1: a model trained with --train.random-positions M has rarely seen
// contiguous positions. The subset comes from the example's own stream, so
// two arms scored with one seed see the same positions.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "datasets/synthetic.h"
#include "datasets/tasks.h"
#include "model/transformer.h"

namespace pelab {

struct ProbeOptions {
  data::SyntheticTask task = data::SyntheticTask::PASSKEY;
  std::vector<int64_t> lengths;    // model input lengths L
  std::vector<double> depths;      // passkey needle depths in [0, 1]
  int64_t trials = 10;             // examples per (length, depth)
  uint64_t seed = 1;               // of the examples: arms probed with one seed see the same examples
  data::Haystack haystack;         // passkey, mqar: real text (the run's train split)
  std::optional<data::TaskKind> suite;  // set: a task of the suite instead of `task`
  int64_t random_positions = 0;    // > 0: positions a sorted random subset of [0, M); 0: 0..n-1
  bool quiet = false;
};

// The model input length of a probe at length L (copy: 2L + 1); for a suite
// task, the longest its examples may take.
int64_t probe_input_length(const ProbeOptions& opt, int64_t L);
// The probe's example k of cell (length index li, depth column c): what
// run_probe scores, and what `pelab eval --examples` prints. Deterministic in
// (seed, L, c, k) alone.
data::Example probe_example(const ProbeOptions& opt, int64_t L, int64_t c, double depth, int64_t k);
// The suite task's example k at length L (opt.suite set), from the same stream.
data::TaskExample probe_task_example(const ProbeOptions& opt, int64_t L, int64_t k);
// The positions example k of cell (L, c) is read at when opt.random_positions
// > 0: n sorted distinct values of [0, M), from the example's stream.
std::vector<double> probe_positions(const ProbeOptions& opt, int64_t L, int64_t c, int64_t k, int64_t n);
// Checks the task, lengths, depths and trials; returns the depth columns.
std::vector<double> probe_columns(const ProbeOptions& opt);

struct ProbeResult {
  std::vector<double> depths;            // the columns (passkey: the given depths; else one NaN)
  std::vector<double> accuracy;          // (lengths, depths): share of examples retrieved exactly
  std::vector<double> byte_accuracy;     // (lengths, depths): share of answer bytes predicted
  // Per trial, what an interval resamples: (lengths, depths, trials).
  std::vector<int64_t> hits;             // 1: every answer byte predicted
  std::vector<int64_t> bytes_ok, bytes;  // answer bytes predicted, answer bytes
};

ProbeResult run_probe(Model& model, const ProbeOptions& opt);

// 95% intervals of one cell (length index li, column c) over its trials:
// Wilson's for exact match; for per-byte accuracy the ratio estimator's
// t-interval with the example as the unit (bytes of one example are not
// independent), clipped to [0, 1].
struct ProbeIntervals {
  double exact_lo = 0, exact_hi = 0, byte_lo = 0, byte_hi = 0;
};
ProbeIntervals probe_intervals(const ProbeResult& r, int64_t trials, size_t li, size_t c);

}  // namespace pelab
