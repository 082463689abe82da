// Provenance attributes written on every result group (DESIGN.md "Results"):
// what wrote the numbers, from which code and with which resolved options.
#pragma once

#include <string>

#include "core/hdf5_file.h"

namespace pelab {

// Bumped whenever a name or meaning in docs/hdf5-schema.md changes.
inline constexpr int64_t kSchemaVersion = 2;  // 2: every file sealed (core/hdf5_file.h)

struct Provenance {
  std::string command;       // subcommand, e.g. "decay"
  std::string command_line;  // argv joined with spaces
  std::string config_ini;    // every option after defaults, file and command line, as INI text
};

// Writes schema_version, pelab_version, git_revision, created_utc, command,
// command_line, config_ini, host_cpu and kernel_path as attributes of `g`.
void write_provenance(h5::Group& g, const Provenance& p);

// "2026-11-30T02:53:31Z"
std::string utc_timestamp();

// The CPU model ("AMD EPYC 9R45", from /proc/cpuinfo; "unknown" elsewhere) and
// the CPU kernels' instruction set this binary was built for ("avx512",
// "avx2+fma", "scalar"): the two things that change summation order, so runs
// of one configuration on two kinds of host differ like seeds (docs/results.md).
std::string host_cpu();
std::string kernel_path();

}  // namespace pelab
