// What a sweep's run folders hold, gathered into one table: a row per point
// with its settings, final losses, perplexities by length, probe accuracies and
// attention indices. `pelab sweep --summarize` writes it as summary.h5 and
// summary.md (docs/hdf5-schema.md "summary.h5"); claims check against it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "experiments/sweep.h"

namespace pelab {

struct EvalWindows {  // /eval/<label>/<protocol>/window_*/<L>: what an interval resamples
  std::vector<int64_t> offset, tokens;
  std::vector<double> nll;  // Σ NLL of the window (nats)
};

struct EvalCurve {  // /eval/<label>/<protocol>
  std::vector<int64_t> lengths;
  std::vector<double> ppl;
  std::string checksum;              // of the text scored (data_checksum)
  std::vector<EvalWindows> windows;  // one per length; empty for files written before per-window values
};

struct ProbeGrid {  // /eval/<label> of `pelab eval --probe`
  std::string task;
  std::vector<int64_t> lengths;
  std::vector<double> depths;
  std::vector<double> accuracy;  // [lengths x depths]
  std::vector<double> byte_accuracy;  // [lengths x depths]; empty for files written before it
  int64_t trials = 0, seed = 0;
  std::vector<int64_t> hits;     // [lengths x depths x trials]; empty for files written before per-trial values
};

struct AnalyzeIndices {  // /analyze/<label>, one entry per layer
  int64_t length = 0;
  std::vector<double> resolution_at_train_len, resolution_at_length;
  std::vector<double> oscillation_within, oscillation_beyond;  // normalized total variation of s^[n]
  std::vector<double> diagonal_mass, score_asymmetry;          // mean over heads
};

struct PointResult {
  SweepPoint point;
  bool trained = false;         // run.h5 exists
  std::string status;           // run.h5's status: done, running, stopped, ...
  std::string host;             // where it trained: "CPU model, kernel path" ("" before provenance had them)
  int64_t step = 0, train_len = 0, parameters = 0;
  double train_loss = 0;        // mean of the last 10 logged steps (nan without logs)
  double val_loss = 0;          // the last validation loss (nan without one)
  double param_norm = 0;        // L2 norm of the checkpoint's parameters (nan without one)
  // A fine-tune's results are keyed "<fine-tune>:<label>" (docs/sweeps.md).
  std::map<std::string, EvalCurve> eval;        // "label/protocol"
  std::map<std::string, ProbeGrid> probe;       // label
  std::map<std::string, AnalyzeIndices> analyze;  // label
};

// Reads every point's run folder; a point not run yet has trained == false.
// A damaged file is an error naming it.
std::vector<PointResult> collect_results(const Sweep& s, const std::vector<SweepPoint>& points);

// The JSON lines of every benchmark of the sweep that has run ([bench.LABEL],
// <out>/bench/LABEL.jsonl): label -> rows of field -> text.
using BenchRows = std::map<std::string, std::vector<std::map<std::string, std::string>>>;
BenchRows collect_bench(const Sweep& s);

// Writes <out>/summary.h5 and <out>/summary.md (each through a temporary).
void write_summary(const Sweep& s, const std::vector<PointResult>& results, const std::string& provenance_command);

// The markdown table of summary.md (also printed by --summarize).
std::string summary_markdown(const Sweep& s, const std::vector<PointResult>& results);

}  // namespace pelab
