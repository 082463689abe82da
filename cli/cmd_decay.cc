// `pelab decay`: options, then the theoretical decay curves of positional
// encodings written by experiments/decay_file.h (one HDF5 group per variant,
// docs/hdf5-schema.md "decay"), an optional table and plot; or, with
// --min-base-for, a table of RoPE base lower bounds (arXiv 2405.14591).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "bench/report.h"
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
   ("plot", po::value<std::string>(), "also draw the curves into this PNG (needs /usr/bin/python3 with matplotlib, h5py)")
   ("min-base-for", po::value<std::string>(),
    "instead of curves, print for each length L of this comma list the smallest RoPE base b with "
    "sum_i cos(m*b^(-2i/d)) >= 0 for every m = 0..L (arXiv 2405.14591 eq. 11), next to the paper's values")
   ("min-base-per-decade", s("10000"), "with --min-base-for: the base grid 10^(k/G) has G points per decade")
   ("json", po::bool_switch(), "with --min-base-for: print a JSON array instead of the table");
}

namespace {

// arXiv 2405.14591 Table 2 (its d is not stated; 128 assumed), at
// 1k = 2^10 ... 1M = 2^20 (assumed binary), and its Fig. 1 fit 0.0424·L^1.628.
constexpr double kPaperMinBase[] = {4.3e3, 1.6e4, 2.7e4, 8.4e4, 3.1e5, 6.4e5, 2.1e6, 7.8e6, 3.6e7, 6.4e7, 5.1e8};
double paper_min_base(long long L) {
  for (int e = 10; e <= 20; ++e)
    if (L == (1LL << e)) return kPaperMinBase[e - 10];
  return NAN;
}
double paper_fit(long long L) { return 0.0424 * std::pow(static_cast<double>(L), 1.628); }

// `pelab decay --min-base-for L1,L2,...`: ascending lengths, each grid
// search starting at the previous length's result (theory.h).
int run_min_base(Context& ctx) {
  // The options that choose or write curves (a resolved config file holds print = false).
  for (const char* o : {"pe", "out", "plot", "print"})
    PELAB_CHECK(o == std::string("print") ? !ctx.flag(o) : !ctx.given(o),
                "--" << o << " does not go with --min-base-for (it prints bases, no curves)",
                "drop --" << o << ", or drop --min-base-for");
  const long long head_dim = ctx.integer("head-dim");
  PELAB_CHECK(head_dim >= 2 && head_dim <= 65536 && head_dim % 2 == 0,
              "--head-dim must be even and in [2, 65536] for the RoPE base bound, got " << head_dim, "e.g. --head-dim 128");
  const long long per_decade = ctx.integer("min-base-per-decade");
  PELAB_CHECK(per_decade >= 1 && per_decade <= 1'000'000, "--min-base-per-decade must be in [1, 1000000], got " << per_decade,
              "e.g. --min-base-per-decade 10000 (a 0.023% step)");
  std::vector<long long> lengths;
  for (const auto& item : ctx.list("min-base-for")) {
    const long long L = parse_int(item, "--min-base-for");
    PELAB_CHECK(L >= 1 && L <= (1LL << 22), "--min-base-for lengths must be integers in [1, 4194304], got " << item,
                "e.g. --min-base-for 1024,4096,32768");
    lengths.push_back(L);
  }
  std::sort(lengths.begin(), lengths.end());
  lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<double> bases;
  for (long long L : lengths)
    bases.push_back(min_rope_base_for(L, static_cast<int>(head_dim), static_cast<int>(per_decade),
                                      bases.empty() ? 1.0 : bases.back()));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // The paper's numbers are for d = 128 only.
  const bool d128 = head_dim == 128;
  if (ctx.flag("json")) {
    std::printf("[");
    for (size_t i = 0; i < lengths.size(); ++i) {
      const long long L = lengths[i];
      bench::JsonLine j;
      j.integer("length", L).integer("head_dim", head_dim).integer("per_decade", per_decade).num("min_base", bases[i]);
      if (d128) j.num("paper", paper_min_base(L)).num("fit", paper_fit(L)).num("ratio_to_fit", bases[i] / paper_fit(L));
      else j.null("paper").null("fit").null("ratio_to_fit");
      std::printf("%s\n%s", i ? "," : "", j.text().c_str());
    }
    std::printf("\n]\n");
  } else {
    std::printf("RoPE base lower bound (arXiv 2405.14591 eq. 11), head dim %lld: the smallest b = 10^(k/%lld)\n"
                "with sum_i cos(m*b^(-2i/d)) >= 0 for every m = 0..L; the paper's Table 2 and fit 0.0424*L^1.628 (d = 128)\n"
                "%10s %12s %12s %12s %8s\n",
                head_dim, per_decade, "length", "min base", "paper", "paper fit", "ours/fit");
    for (size_t i = 0; i < lengths.size(); ++i) {
      const long long L = lengths[i];
      const double paper = d128 ? paper_min_base(L) : NAN;
      std::printf("%10lld %12.5g", L, bases[i]);
      if (std::isnan(paper)) std::printf(" %12s", "-");
      else std::printf(" %12.2g", paper);
      if (d128) std::printf(" %12.3g %8.2f\n", paper_fit(L), bases[i] / paper_fit(L));
      else std::printf(" %12s %8s\n", "-", "-");
    }
  }
  std::fprintf(stderr, "pelab decay: %zu RoPE base bound(s) in %.1f s\n", lengths.size(), seconds);
  return 0;
}

}  // namespace

int run_decay(Context& ctx) {
  if (ctx.has("min-base-for")) return run_min_base(ctx);
  PELAB_CHECK(!ctx.flag("json"), "--json goes with --min-base-for (the curves go to --out)",
              "add --min-base-for L1,L2,..., or drop --json");
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
