// `pelab decay`: options, then the theoretical decay curves of positional
// encodings written by experiments/decay_file.h (one HDF5 group per variant,
// docs/hdf5-schema.md "decay"), an optional table and plot.
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/provenance.h"
#include "core/strings.h"
#include "encodings/theory.h"
#include "experiments/decay_file.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "cli/plotting.h"

namespace pelab::cli {

void decay_options(po::options_description_easy_init& o) {
  auto s = [](const char* def) { return po::value<std::string>()->default_value(def); };
  o("pe", po::value<std::string>(), "encoding(s): rope|xpos|alibi|sinusoidal|t5|kerple|none, comma list allowed (required)")
   ("head-dim", s("128"), "head dimension d")
   ("heads", s("8"), "number of heads H (ALiBi slopes, per-head biases)")
   ("max-distance", s("32768"), "largest distance N; curves cover n = 0..N")
   ("out", po::value<std::string>(), "HDF5 file to write (required)")
   ("print", po::bool_switch(), "print a table at log-spaced distances")
   ("plot", po::value<std::string>(), "also draw the curves into this PNG (needs /usr/bin/python3 with matplotlib, h5py)");
}

int run_decay(Context& ctx) {
  PELAB_CHECK(ctx.has("pe"), "missing --pe", "e.g. pelab decay --pe rope --pe.base 10000,500000 --out decay.h5");
  PELAB_CHECK(ctx.has("out"), "missing --out", "name the HDF5 file to write, e.g. --out decay.h5");
  const long long head_dim = ctx.integer("head-dim");
  const long long heads = ctx.integer("heads");
  const long long N = ctx.integer("max-distance");
  PELAB_CHECK(head_dim > 0 && head_dim <= 65536, "--head-dim must be in [1, 65536], got " << head_dim, "e.g. --head-dim 128");
  PELAB_CHECK(heads > 0 && heads <= 4096, "--heads must be in [1, 4096], got " << heads, "e.g. --heads 8");
  PELAB_CHECK(N >= 1 && N <= 10'000'000, "--max-distance must be in [1, 10000000], got " << N, "e.g. --max-distance 32768");
  PELAB_CHECK(heads * (N + 1) <= (1LL << 28), "--heads x --max-distance is too large (" << heads << " x " << N << ")",
              "lower one of them: per-head curves are held in memory");

  const std::vector<PeSpec> specs = pe_variants(ctx, static_cast<int>(head_dim), static_cast<int>(heads));
  for (const auto& s : specs)
    PELAB_CHECK(s.kind != PeKind::LEARNED, "--pe learned has no theoretical curve (its table is trained)",
                "choose rope, xpos, alibi, sinusoidal, t5, kerple or none");

  const std::string out = ctx.str("out");
  h5::check_writable_target(out, "--out");
  const bool plot = ctx.has("plot");
  if (plot) check_plot_target(ctx.str("plot"));

  std::vector<DecayCurves> curves;
  for (const auto& s : specs) curves.push_back(decay_curves(s, static_cast<int>(head_dim), static_cast<int>(heads), N));

  write_decay_file(out, {"decay", ctx.command_line(), ctx.resolved_ini()}, specs, curves, static_cast<int>(head_dim),
                   static_cast<int>(heads), N);
  if (ctx.flag("print")) print_decay_table(specs, curves, static_cast<int>(heads), N);
  std::fprintf(stderr, "pelab decay: wrote %zu variant(s) to %s\n", specs.size(), out.c_str());
  if (plot) {
    run_plot("decay", out, ctx.str("plot"));
    std::fprintf(stderr, "pelab decay: plotted %s\n", ctx.str("plot").c_str());
  }
  return 0;
}

}  // namespace pelab::cli
