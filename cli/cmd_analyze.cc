// `pelab analyze`: the attention of a trained run on real text at one length,
// through the statistics pass (experiments/analyze.h), into run.h5 under
// /analyze/<label> (docs/hdf5-schema.md "pelab analyze").
#include <omp.h>

#include <cmath>
#include <cstdio>

#include "cli/cli.h"
#include "cli/options.h"
#include "cli/plotting.h"
#include "cli/run_inputs.h"
#include "core/error.h"
#include "core/memory.h"
#include "core/provenance.h"
#include "core/strings.h"
#include "experiments/analyze.h"

namespace pelab::cli {

void analyze_options(po::options_description_easy_init& o) {
  auto s = [](const char* def) { return po::value<std::string>()->default_value(def); };
  o("run", po::value<std::string>(), "run folder written by pelab train (required)")
   ("pe", po::value<std::string>(), "the run's encoding (optional; it cannot change: only --pe.* settings without parameters can)")
   ("length", po::value<std::string>(), "window length L in tokens (required), e.g. 4096")
   ("windows", s("4"), "windows of L tokens, evenly spread over the text, averaged")
   ("pairs", s("4096"), "sampled (i, j) pairs per head and window for the score asymmetry")
   ("text", po::value<std::string>(), "analyze the bytes of this file instead of a dataset split")
   ("data.split", s("test"), "split of the dataset: val | test")
   ("label", s("default"), "name of the result group /analyze/<label>; an existing label is replaced")
   ("threads", s("0"), "OpenMP threads (0: all)")
   ("plot", po::value<std::string>(), "also draw measured vs theoretical decay and attention mass into this PNG")
   ("quiet", po::bool_switch(), "no progress line on stderr");
}

int run_analyze(Context& ctx) {
  PELAB_CHECK(ctx.has("length"), "missing --length", "e.g. --length 4096");
  AnalyzeOptions opt;
  opt.length = ctx.integer("length");
  PELAB_CHECK(opt.length >= 2 && opt.length <= (1LL << 24), "--length must be in [2, 16777216], got " << opt.length,
              "e.g. --length 4096");
  opt.windows = ctx.integer("windows");
  PELAB_CHECK(opt.windows >= 1 && opt.windows <= 100000, "--windows must be in [1, 100000], got " << opt.windows, "e.g. --windows 4");
  opt.pairs = ctx.integer("pairs");
  PELAB_CHECK(opt.pairs >= 0 && opt.pairs <= 10000000, "--pairs must be in [0, 10000000], got " << opt.pairs, "e.g. --pairs 4096");
  opt.quiet = ctx.flag("quiet");
  const long long threads = ctx.integer("threads");
  PELAB_CHECK(threads >= 0 && threads <= 4096, "--threads must be in [0, 4096], got " << threads, "0 uses all cores");
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
  const std::string label = ctx.str("label");
  check_result_label(label);
  const bool plot = ctx.has("plot");
  if (plot) check_plot_target(ctx.str("plot"));

  const TrainedRun run = open_trained_run(ctx);
  std::vector<std::string> changes;
  const PeSpec pe = eval_time_pe(ctx, run.config, run.train_len, &changes);
  PELAB_CHECK(run.config.pe.kind != PeKind::LEARNED || opt.length <= run.config.max_len,
              "this run learned absolute positions up to " << run.config.max_len << " tokens; --length is " << opt.length,
              "analyze at most " << run.config.max_len << " tokens");
  const EvalText text = text_to_score(ctx, run.data_dir);
  // Activations of one window plus the statistics: (H, L) sums per layer.
  check_memory(Model::memory_bytes(run.config, 1, opt.length, /*training=*/false) +
                   6.0 * 8 * run.config.n_layers * run.config.n_heads * static_cast<double>(opt.length),
               "analyzing at " + std::to_string(opt.length) + " tokens", "analyze at a shorter --length");
  Model model = load_model(run, pe);
  const AnalyzeReport rep = analyze_text(model, text, opt);
  ModelConfig cfg = run.config;
  cfg.pe = pe;
  run.folder.write_result("analyze", label, [&](h5::Group& g) {
    write_provenance(g, {"analyze", ctx.command_line(), ctx.resolved_ini({"pe"})});
    g.set_attr("pe_trained", run.config.pe.label());
    g.set_attr("pe_changes", join(changes, ","));
    g.set_attr("checkpoint_step", run.checkpoint.step);
    g.set_attr("data_source", text.source);
    g.set_attr("data_checksum", text.checksum);
    write_analysis(g, rep, cfg, run.train_len);
  });

  std::printf("%s: %s, trained at T = %lld; %s; %lld window(s) of %lld tokens\n", run.folder.dir().c_str(),
              pe.label().c_str(), static_cast<long long>(run.train_len), text.source.c_str(),
              static_cast<long long>(rep.windows), static_cast<long long>(rep.length));
  std::printf("%-6s %12s %12s %14s %14s\n", "layer", "R(s) at T", "R(s) at L", "diag mass", "asymmetry");
  for (size_t l = 0; l < rep.layers.size(); ++l) {
    const LayerAttention& la = rep.layers[l];
    std::vector<double> head_mean(rep.length, 0.0);
    double diag = 0, asym_d = 0, asym_a = 0;
    for (int64_t h = 0; h < rep.heads; ++h) {
      for (int64_t n = 0; n < rep.length; ++n) {
        const int64_t c = la.count[h * rep.length + n];
        if (c) head_mean[n] += la.score_sum[h * rep.length + n] / static_cast<double>(c) / static_cast<double>(rep.heads);
      }
      diag += la.prob_sum[h * rep.length] / std::max<double>(1.0, static_cast<double>(la.count[h * rep.length])) /
              static_cast<double>(rep.heads);
      asym_d += la.asym_diff[h];
      asym_a += la.asym_abs[h];
    }
    const int64_t T = std::clamp<int64_t>(run.train_len > 0 ? run.train_len : rep.length, 1, rep.length);
    std::printf("%-6zu %12.4f %12.4f %14.4f %14.4f\n", l, attention_resolution(head_mean.data(), T),
                attention_resolution(head_mean.data(), rep.length), diag, asym_a > 0 ? asym_d / asym_a : 0.0);
  }
  std::printf("wrote /analyze/%s in %s\n", label.c_str(), run.folder.file(kRunFile).c_str());
  if (plot) run_plot("analyze", run.folder.file(kRunFile), ctx.str("plot"), {"--label", label});
  return 0;
}

}  // namespace pelab::cli
