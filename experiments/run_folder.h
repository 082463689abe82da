// A run folder, the unit of results (DESIGN.md "Results"; docs/hdf5-schema.md):
//
//   config.ini      the resolved configuration `pelab train` ran with
//   run.h5          root attributes describing the run; /train and /val logs
//                   (written by train); /eval/<label> and /analyze/<label>
//                   (written by eval and analyze)
//   checkpoint.h5   parameters, AdamW moments and step, batcher state, step
//   log.txt         a plain log
//
// Every file is replaced atomically (core/files.h, core/hdf5_file.h): run.h5
// is rewritten whole through a temporary, copying the sections the writer does
// not own, so an evaluation never loses the training logs and a resumed
// training never loses an evaluation. Nothing here knows about the command
// line: configurations travel as INI text.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/files.h"
#include "core/hdf5_file.h"
#include "experiments/train_options.h"
#include "model/config.h"
#include "model/parameters.h"

namespace pelab {

inline constexpr const char* kRunFile = "run.h5";
inline constexpr const char* kCheckpointFile = "checkpoint.h5";
inline constexpr const char* kConfigFile = "config.ini";
inline constexpr const char* kLogFile = "log.txt";
// Advisory locks (core/files.h FileLock): one for each rewrite of run.h5, one
// held by a training for its whole life.
inline constexpr const char* kRunLockFile = ".run.h5.lock";
inline constexpr const char* kTrainLockFile = ".train.lock";

// The training curve: /train every step, /val every eval.
struct TrainLogs {
  std::vector<int64_t> step;
  std::vector<double> loss, lr, grad_norm, tokens_per_s;
  std::vector<int64_t> val_step;
  std::vector<double> val_loss;
  std::vector<int64_t> resumed_at;  // steps at which a resume continued

  // Drops every entry after `last_step` (a resume continues from there).
  void truncate(int64_t last_step);
};

// What describes a run: the root attributes of run.h5 and checkpoint.h5.
struct RunDescription {
  ModelConfig model;
  TrainOptions train;
  std::string command_line, config_ini;
  std::string dataset_dir, dataset_checksum, dataset_corpus;
  int64_t parameters = 0;
  int threads = 1;
  // --init-from: the run whose parameters this one started from, and that
  // run's checkpoint step then ("" and -1 for a run started from scratch).
  std::string init_from;
  int64_t init_from_step = -1;
};

// A checkpoint as read back.
struct Checkpoint {
  int64_t step = 0;
  int64_t optimizer_step = 0;
  std::vector<int64_t> batcher_state;  // data::BatcherState::to_ints()
  std::string config_ini;              // the run's resolved configuration
  std::string dataset_checksum;
  int64_t threads = 0;
  double seconds = 0;                  // training wall time up to `step`
  int64_t init_from_step = -1;         // RunDescription::init_from_step (-1: not started with --init-from)
  std::vector<float> params, m, v;     // m, v empty unless read with the optimizer state
};

// What a checkpoint write takes (pointers into the live model and optimizer).
struct CheckpointState {
  int64_t step = 0, optimizer_step = 0;
  std::vector<int64_t> batcher_state;
  double seconds = 0;
  const ParameterLayout* layout = nullptr;
  const float* params = nullptr;  // layout->total() values each
  const float* m = nullptr;
  const float* v = nullptr;
};

// A result label names an HDF5 group: not empty, no '/' or whitespace, not
// "." or "..". Throws pelab::Error naming --label.
void check_result_label(const std::string& label);

// Whether two resolved configurations (config.ini texts, as `pelab train
// --print-config` prints them) train the same model bit for bit: every key equal
// (numbers by value, so 1e4 == 10000) except where the run was written, how it
// logs and checkpoints, its thread count and per-invocation switches. Returns ""
// when they do, else the first difference ("data.synthetic: none vs passkey").
std::string training_difference(const std::string& ini_a, const std::string& ini_b);

class RunFolder {
 public:
  // A new run: `dir` must be missing or empty (`option` names it in errors); created here.
  static RunFolder create(const std::string& dir, const std::string& option = "--out");
  // An existing run folder. Removes the temporaries of writers that were
  // killed (core/files.h).
  static RunFolder open(const std::string& dir, const std::string& option = "--run");

  const std::string& dir() const { return dir_; }
  std::string file(const char* name) const;
  bool has(const char* name) const;

  // Held while this process trains the run; a second training of the same
  // folder (another sweep sharing it, a user's --resume) is one clear error.
  std::unique_ptr<FileLock> lock_training() const;

  std::string read_config() const;  // config.ini
  void write_config(const std::string& ini) const;
  std::string read_log() const;     // "" when there is none yet
  void write_log(const std::string& text) const;

  // Empty logs when run.h5 does not exist yet.
  TrainLogs read_train_logs() const;
  // Rewrites run.h5's root attributes, /train and /val; every other section is kept.
  void write_train_logs(const RunDescription& run, const TrainLogs& logs, int64_t step, const std::string& status,
                        double seconds) const;
  // Replaces /<section>/<label> of run.h5 with what `fill` writes into a fresh
  // group, keeping everything else. run.h5 must exist (written by train).
  void write_result(const std::string& section, const std::string& label,
                    const std::function<void(h5::Group&)>& fill) const;
  // The labels under /<section> ("" section: none).
  std::vector<std::string> result_labels(const std::string& section) const;

  // Throws a clear error when there is no checkpoint or it is damaged.
  Checkpoint read_checkpoint(bool optimizer_state = true) const;
  void write_checkpoint(const RunDescription& run, const CheckpointState& state) const;

 private:
  explicit RunFolder(std::string dir) : dir_(std::move(dir)) {}
  // Rewrites run.h5 through a temporary: copies the root attributes (unless
  // `own_root`) and every member except `replaced` (paths like "train" or
  // "eval/default"), then calls `fill` on the new file.
  void rewrite_run_file(const std::vector<std::string>& replaced, bool own_root,
                        const std::function<void(h5::File&)>& fill) const;

  std::string dir_;
};

}  // namespace pelab
