// What the commands that read a trained run share (eval, analyze, and train
// --init-from for the source run): the run
// folder and its checkpoint, the model it describes, and the text to score
// (a dataset split or any file, --data.* / --text).
#pragma once

#include <string>

#include "cli/cli.h"
#include "experiments/eval.h"
#include "experiments/run_folder.h"
#include "model/transformer.h"

namespace pelab::cli {

struct TrainedRun {
  RunFolder folder;
  Checkpoint checkpoint;  // parameters only (no optimizer state)
  ModelConfig config;     // as trained
  int64_t train_len = 0;  // --train.length of the run
  std::string data_dir;   // --data.dir of the run ("" when it trained on --data.task)
  std::string task;       // --data.task of the run ("" for one trained on a dataset folder)
};

// --run RUN: the folder, its checkpoint and configuration.
TrainedRun open_trained_run(const Context& ctx);
// The same for the run folder `dir`, given as `option` (named in errors).
TrainedRun open_trained_run(const std::string& dir, const std::string& option);

// The suite task `run` trained on: its --data.task, else the task of its
// prepared dataset (pelab data prepare --task); an error for a run trained on a corpus.
std::string trained_task(const TrainedRun& run);

// The model of `run` with its trained parameters and the encoding `pe`
// (the trained one, or an eval-time variant from eval_time_pe).
Model load_model(const TrainedRun& run, const PeSpec& pe);

// --text FILE, else --data.split of --data.dir (default: the run's dataset).
EvalText text_to_score(const Context& ctx, const std::string& run_data_dir);

}  // namespace pelab::cli
