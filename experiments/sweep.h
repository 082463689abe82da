// A sweep: one base configuration, axes whose product gives the points, and
// the evaluations and analyses every trained point gets (docs/sweeps.md).
//
//   [sweep]                      name, base config, output folder
//   name = encodings-tiny
//   config = experiments/configs/tiny.ini
//   out = runs/sweeps/encodings-tiny
//   runs = runs/shared/tiny      (optional: run folders shared with other sweeps)
//   seeds = 3                    (optional: every point trained with train.seed = 1..3,
//                                an axis train.seed added last; `--seeds N` overrides it)
//   seed-base = 100              (optional: the seeds are 101..103 instead, fresh ones for a
//                                pre-registered rerun)
//   [axes]                       the product of these lists is the points
//   pe = sinusoidal, rope, alibi
//   [set]                        options of every training
//   train.steps = 1000
//   [eval.nonoverlap]            one `pelab eval --label nonoverlap` per point
//   lengths = 1T, 2T, 4T         kT: k times the point's training length
//   [analyze.default]            one `pelab analyze --label default` per point
//   length = 16T
//   [bench.flash]                `pelab bench attention --json ...` once per sweep, not per
//   topic = attention            point, into <out>/bench/flash.jsonl (a sweep of benchmarks
//   seq = 1024, 4096             only needs no config or axes); `true` gives a bare switch
//   [finetune.pi4]               `pelab train --init-from <point>` into <point>+pi4
//   pe.scaling = linear
//   pe.factor = 4
//   train.length = 4T
//   [eval.pi4-ft]                a stage with `on = pi4` evaluates the fine-tuned run
//   on = pi4
//   lengths = 4T
//
// A point is a run folder <out>/<name>, its name built from its axis values
// ("pe-rope_train.seed-1"), so it is stable while the axes are. Running a
// point runs the same `pelab` commands a user would type, skipping what is
// done: a finished training, an existing result label; an interrupted
// training resumes from its checkpoint. In a shared `runs` folder a point whose
// folder is missing becomes a link to a run there whose config.ini trains the
// same model (training_difference), whatever its name; one whose folder holds
// another training is an error. Nothing here knows the command line:
// options travel as text, checked by the commands that take them.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/ini.h"

namespace pelab {

using Options = std::vector<std::pair<std::string, std::string>>;  // option -> value, in file order

struct SweepAxis {
  std::string key;                  // a `pelab train` option: "pe", "train.seed"
  std::vector<std::string> values;
};

struct SweepStage {
  std::string command;  // "eval" | "analyze"
  std::string label;    // its --label
  std::string on;       // a fine-tune's label: run on <point>+<on>; empty: on the point
  Options options;      // its other options (values may hold kT)
};

// A fine-tune of every point: `pelab train --init-from <point> --out <point>+<label>`.
struct SweepFinetune {
  std::string label;
  Options options;  // `pelab train` options (values may hold kT, T being the point's)
};

// A benchmark of the sweep as a whole: `pelab bench <topic> --json <options>`.
struct SweepBench {
  std::string label;  // its file: <out>/bench/<label>.jsonl
  std::string topic;  // attention | train | eval
  Options options;    // "true" for a switch (--causal)
};

struct Sweep {
  std::string name;
  std::string source;       // names the file in errors
  std::string base_config;  // --config of every training
  std::string out;          // folder of logs/, summary.h5 and summary.md; of the run folders unless `runs`
  std::string runs;         // folder of the run folders when they are shared with other sweeps ("": out)
  std::vector<SweepAxis> axes;
  int seeds = 0;            // > 1: the last axis is train.seed = 1..seeds (set_seeds); 0 or 1: one training per point
  int64_t seed_base = 0;    // seed-base = B: the seeds are B+1..B+seeds (an axis even for one seed when B > 0)
  Options set;
  std::vector<SweepFinetune> finetunes;
  std::vector<SweepStage> stages;
  std::vector<SweepBench> benches;
};

// Reads the keys under `prefix` ("" for a sweep file, "quick." for a claim's
// quick budget); `source` names the text in errors.
Sweep parse_sweep(const std::vector<IniEntry>& entries, const std::string& prefix, const std::string& source);
Sweep read_sweep_file(const std::string& path);

// Replicates every point over train.seed = 1..n (n in [1, 1000]): an axis
// train.seed, last, for n > 1 (replacing one an earlier set_seeds added).
// An axis or [set] train.seed of the file's own is an error naming `where`.
void set_seeds(Sweep& s, long long n, const std::string& where);

// How many seeds the sweep replicates over: the values of its train.seed axis, or 1.
int seed_count(const Sweep& s);

struct SweepPoint {
  int index = 0;
  std::string name;   // "pe-rope_train.seed-1"; "base" without axes
  Options settings;   // axis key -> value
  std::string dir;    // <runs or out>/<name>
};

// The product of the axes, the last axis varying fastest; none in a sweep of
// benchmarks only (no base config).
std::vector<SweepPoint> sweep_points(const Sweep& s);

// The run folder of a point's fine-tune: "<point dir>+<label>".
std::string finetune_dir(const SweepPoint& p, const std::string& label);

// The training length of a point: its axis or [set] value of train.length,
// else the base config's (for kT in stage options).
long long point_train_length(const Sweep& s, const SweepPoint& p);

// Every command of a point from scratch (train, its fine-tunes, then each stage), as argv with
// `pelab` as the program; what --dry-run prints and the Slurm manifest lists.
std::vector<std::vector<std::string>> point_commands(const Sweep& s, const SweepPoint& p, const std::string& pelab);

// What is left to run for a point: nothing for a finished training (or
// fine-tune), a --resume for an interrupted one, and the stages whose label is
// missing in the run they evaluate.
std::vector<std::vector<std::string>> pending_commands(const Sweep& s, const SweepPoint& p, const std::string& pelab);

// Runs a point's pending commands in order with `threads` OpenMP threads each,
// their output appended to <out>/logs/<name>.log. Returns 0, or the exit code of
// the first command that failed (its command line in *failed). A point holds a
// lock beside its run folder (.<name>.lock) while it runs, so that sweeps that
// share run folders split the work: when another live process holds it,
// returns kRunningElsewhere at once, or with `wait` waits for it and then runs
// what is still pending (usually nothing).
inline constexpr int kRunningElsewhere = -2;
int run_point(const Sweep& s, const SweepPoint& p, const std::string& pelab, int threads, std::string* failed,
              bool wait = false);

// Runs every point, `jobs` at once (each with threads / jobs threads), printing a
// line per finished command on stderr. Returns the names of the failed points.
// The command of a benchmark (`pelab` as the program) and the file of its JSON lines.
std::vector<std::string> bench_command(const SweepBench& b, const std::string& pelab);
std::string bench_file(const Sweep& s, const SweepBench& b);

// Runs the benchmarks whose file is missing, one after another with all
// `threads` (a benchmark wants the machine to itself), each written through a
// temporary; the output beyond the JSON lines goes to <out>/logs/bench-<label>.log.
// Returns the labels that failed.
std::vector<std::string> run_benches(const Sweep& s, const std::string& pelab, int threads);

struct SweepRun {
  std::vector<std::string> failed;             // points whose commands failed
  std::vector<std::string> running_elsewhere;  // points another live process is running (without --wait)
};
SweepRun run_sweep(const Sweep& s, const std::vector<SweepPoint>& points, const std::string& pelab, int jobs,
                   int threads, bool wait = false);

}  // namespace pelab
