// What `pelab sweep` and `pelab reproduce` share: checking a sweep's options
// against the commands that take them, running it, and summarizing it.
#pragma once

#include <string>
#include <vector>

#include "experiments/sweep.h"
#include "experiments/sweep_summary.h"

namespace pelab::cli {

// Every axis and [set] key must be a `pelab train` option, every stage's key an
// option of its command; one clear error otherwise, before anything runs.
void check_sweep_options(const Sweep& s);

// Runs the sweep's pending commands (`jobs` points at once) and returns the
// names of the points that failed; prints progress on stderr.
std::vector<std::string> execute_sweep(const Sweep& s, int jobs, int threads);

// Reads the run folders and writes summary.h5 and summary.md.
std::vector<PointResult> summarize_sweep(const Sweep& s, const std::string& command_line);

// --threads 0: every core this process may use.
int resolve_threads(long long threads);

}  // namespace pelab::cli
