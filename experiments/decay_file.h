// The file `pelab decay` writes (docs/hdf5-schema.md "decay": one group per
// variant under /decay with its curves, settings and oscillation index) and
// the table it prints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/provenance.h"
#include "encodings/pe_spec.h"
#include "encodings/theory.h"

namespace pelab {

// Writes `path` atomically: provenance on /, /decay with one group per spec.
void write_decay_file(const std::string& path, const Provenance& prov, const std::vector<PeSpec>& specs,
                      const std::vector<DecayCurves>& curves, int head_dim, int heads, int64_t N);

// The all-ones score at log-spaced distances, one column per variant (and
// the first and last head for score biases), on stdout.
void print_decay_table(const std::vector<PeSpec>& specs, const std::vector<DecayCurves>& curves, int heads, int64_t N);

}  // namespace pelab
