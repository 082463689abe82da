// What `pelab sweep` and `pelab reproduce` share: checking a sweep's options
// against the commands that take them, running it, and summarizing it.
#pragma once

#include <string>
#include <vector>

#include "experiments/sweep.h"
#include "experiments/sweep_summary.h"

namespace pelab::cli {

class Context;

// Every axis and [set] key must be a `pelab train` option, every stage's key an
// option of its command; one clear error otherwise, before anything runs.
void check_sweep_options(const Sweep& s);

// Runs the sweep's pending commands (`jobs` points at once): the points that
// failed (and benchmarks, as "bench LABEL") and those another live process is
// running (none with `wait`); prints progress on stderr.
SweepRun execute_sweep(const Sweep& s, int jobs, int threads, bool wait);

// --seeds N of sweep and reproduce, when given, over the file's `seeds`.
void apply_seeds_option(const Context& ctx, Sweep& s);

// Reads the run folders and writes summary.h5 and summary.md.
std::vector<PointResult> summarize_sweep(const Sweep& s, const std::string& command_line);

// --threads 0: every core this process may use.
int resolve_threads(long long threads);

}  // namespace pelab::cli
