// The registry of subcommands. A new subcommand is one entry here and one
// cmd_<name>.cc file holding its options and its run function.
#include "experiments/cli.h"

namespace pelab::cli {

int run_version(Context&);
void decay_options(po::options_description_easy_init&);
int run_decay(Context&);

const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"help", "list subcommands, or show one subcommand's options: pelab help SUBCOMMAND",
       "usage: pelab help [SUBCOMMAND]", {}, nullptr, nullptr},
      {"version", "print the version, code revision, libraries and usable devices", "usage: pelab version", {}, nullptr,
       run_version},
      {"decay", "theoretical decay curves of positional encodings (all-ones score, RoFormer bound, biases)",
       "usage: pelab decay --pe rope|xpos|alibi|sinusoidal|t5|kerple|none --head-dim D --heads H\n"
       "                   --max-distance N --out FILE.h5 [--print] [--plot FILE.png] [--pe.* ...]\n\n"
       "Writes one HDF5 group per variant under /decay (docs/hdf5-schema.md). --pe, --pe.base,\n"
       "--pe.scaling and --pe.factor take comma lists; RoPE-family variants are their product.\n"
       "example: pelab decay --pe rope --pe.base 10000,500000 --head-dim 128 --max-distance 32768 \\\n"
       "                     --out decay.h5 --plot decay.png",
       {"pe"}, decay_options, run_decay},
  };
  return list;
}

}  // namespace pelab::cli
