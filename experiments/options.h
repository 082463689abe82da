// Option groups shared by subcommands, and their conversion into the structs
// the library takes. A subcommand lists the groups it needs in commands.cc.
#pragma once

#include <vector>

#include "encodings/pe_spec.h"
#include "experiments/cli.h"

namespace pelab::cli {

// Every variant that --pe, --pe.base, --pe.scaling and --pe.factor (all comma
// lists) describe: the product of their items, for the RoPE family; one spec
// per other encoding. Each spec is validated against head_dim and heads.
std::vector<PeSpec> pe_variants(const Context& ctx, int head_dim, int heads);

}  // namespace pelab::cli
