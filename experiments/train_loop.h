// The training loop of `pelab train`: optimizer steps on batches of the
// training split, the validation loss on a fixed set of windows, logs in
// run.h5 and log.txt, and checkpoints, all in one run folder (run_folder.h).
//
// Crash safety (docs/design.md "Failure model"): at a checkpoint step run.h5
// is written before checkpoint.h5, so run.h5 always holds the logs up to at
// least the checkpoint's step; a resume cuts them back to the checkpoint and
// recomputes the rest bit for bit. A kill at any point therefore loses at
// most the steps since the last checkpoint, never a logged value.
//
// Exactness: a checkpoint holds the parameters, the AdamW moments and step,
// the batcher state and the step, so a run stopped at step k and resumed logs
// exactly the losses of a run straight through, given the same thread count
// (the model's reductions are deterministic for a fixed thread count).
#pragma once

#include <string>
#include <vector>

#include "datasets/batcher.h"
#include "datasets/dataset.h"
#include "experiments/run_folder.h"

namespace pelab {

struct TrainJob {
  RunDescription run;             // model, --train.*, provenance, data
  data::BatcherOptions batcher;   // length and seed as in run.train
  bool quiet = false;             // no progress line
};

// Where a training starts: fresh (step 0) or from the folder's checkpoint.
// A fresh start takes its parameters from init_params when given (--init-from:
// another run's trained parameters; the AdamW moments, the step, the schedule
// and the batcher still start fresh), else from the seeded initialisation.
struct TrainStart {
  const Checkpoint* checkpoint = nullptr;  // null: fresh
  const std::vector<float>* init_params = nullptr;  // fresh only; null: seeded initialisation
  TrainLogs logs;                          // already cut to the checkpoint's step
  double seconds = 0;                      // training wall time before this invocation
  std::string log_text;                    // log.txt so far
};

// Trains until --train.steps, --train.stop-at or SIGINT/SIGTERM (checkpoint
// first). Returns 0, or 130 when interrupted. Divergence (a NaN or inf loss or
// gradient) throws pelab::Error after saving the logs; the last good
// checkpoint stays.
int run_training(const RunFolder& folder, const TrainJob& job, const data::Dataset& ds, TrainStart start);

// The validation loss on `rows` windows of T + 1 tokens (T inputs, T targets)
// at evenly spaced starts over the split's token stream, as training logs it.
// The eval command's nonoverlap protocol at L = T scores other windows.
struct ValSet {
  int64_t rows = 0, T = 0;
  std::vector<int32_t> inputs, targets;  // (rows, T)
};
ValSet make_val_set(const data::Split& val, int64_t rows, int64_t T);
// On a task dataset: `rows` packed rows of the task (the batcher's range),
// from Rng::stream(seed, 5), so every run on the dataset validates on the same
// examples; only answer targets count (the others are -1).
ValSet make_task_val_set(const data::BatcherOptions& opt, int64_t rows, uint64_t seed);

}  // namespace pelab
