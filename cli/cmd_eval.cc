// `pelab eval`: perplexity of a trained run at lengths far past its training
// length, under the nonoverlap and sliding protocols, with eval-time encoding
// variants; results into the run's run.h5 under /eval/<label>
// (experiments/eval.h; docs/hdf5-schema.md "pelab eval").
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "bench/report.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "cli/plotting.h"
#include "cli/run_inputs.h"
#include "core/error.h"
#include "core/files.h"
#include "core/memory.h"
#include "core/provenance.h"
#include "core/strings.h"
#include "datasets/dataset.h"
#include "datasets/tasks.h"
#include "experiments/eval.h"
#include "experiments/probe.h"
#include "experiments/run_folder.h"

namespace pelab::cli {

void eval_options(po::options_description_easy_init& o) {
  auto s = [](const char* def) { return po::value<std::string>()->default_value(def); };
  o("run", po::value<std::string>(), "run folder written by pelab train (required)")
   ("pe", po::value<std::string>(), "the run's encoding (optional; it cannot change: only --pe.* settings without parameters can)")
   ("lengths", po::value<std::string>(), "evaluation lengths L, a comma list, e.g. 256,1024,4096 (required)")
   ("protocol", s("nonoverlap"), "nonoverlap (chunks of L, every token scored) | sliding (windows advancing by "
                                 "--stride, only new tokens scored) | both")
   ("stride", s("256"), "sliding: tokens each window advances (1 <= S <= the shortest L). S = 1 gives every token L-1 "
                        "tokens of context but runs one window of L tokens per scored token: L times the cost of nonoverlap")
   ("text", po::value<std::string>(), "score the bytes of this file instead of a dataset split")
   ("data.split", s("test"), "split of the dataset to score: val | test (train is allowed, but is not held out)")
   ("eval.max-tokens", s("1048576"), "score at most this many tokens per length (the default cap, 2^20, is more than "
                                     "KJV's whole de-duplicated test split of 256,740; 0: no cap). The text is cut to a multiple of the longest L")
   ("eval.repeat", s("0"), "a positive control for long-context use: follow every block of D tokens of the text by an "
                           "exact copy of itself (a model that reads D tokens back can predict the copy; 0: off). "
                           "Applied before --eval.max-tokens")
   ("batch-tokens", s("16384"), "windows of one length are batched up to this many tokens per forward")
   ("label", po::value<std::string>(), "name of the result group /eval/<label> (default: 'default', or the eval-time "
                                       "encoding's label when --pe.* changes it); an existing label is replaced")
   ("threads", s("0"), "OpenMP threads (0: all)")
   ("json", po::bool_switch(), "print one JSON object per protocol and length instead of a table")
   ("plot", po::value<std::string>(), "also draw perplexity vs length and loss by position into this PNG (with --task: accuracy against length; with --probe: the "
                                      "accuracy heat map, length x depth)")
   ("probe", po::value<std::string>(), "instead of perplexity: retrieval accuracy on synthetic examples, passkey | copy | mqar "
                                       "(teacher-forced greedy: exact = every answer byte is the argmax; byte = the share of "
                                       "answer bytes that are). copy: --lengths are payload bytes n (input 2n + 1)")
   ("task", po::value<std::string>(), "instead of perplexity: accuracy on a task of the length-generalisation suite "
                                      "(docs/tasks.md) by length L (--lengths, as the task counts it), exact match and "
                                      "per-byte, with 95% intervals; --trials examples per length. 'trained': the task the --run trained on")
   ("depths", s("0,0.25,0.5,0.75,1"), "passkey probe: needle depths in [0, 1] of the haystack (the run's train split)")
   ("trials", s("10"), "probe: examples per length and depth")
   ("seed", s("1"), "probe: seed of the examples")
   ("random-positions", s("0"), "with --task or --probe: read each example at a sorted random subset of positions "
                                "[0, M) instead of 0..n-1, as the randomized-positions paper tests (for a run trained "
                                "with --train.random-positions M); 0: off")
   ("examples", po::value<std::string>(), "with --task: print the first N examples of each length as JSON lines (input, "
                                          "answer, length, text) and evaluate nothing (no --run needed). With --probe: print the first N examples of each length and depth as JSON lines "
                                          "(text, answer, answer_offset; passkey: needle_offset, depth, haystack_bytes; copy: "
                                          "payload_length) and evaluate nothing. --lengths: passkey and mqar the model input; "
                                          "copy the payload")
   ("quiet", po::bool_switch(), "no progress line on stderr");
}

namespace {

std::vector<int64_t> parse_lengths(const Context& ctx) {
  PELAB_CHECK(ctx.has("lengths"), "missing --lengths", "e.g. --lengths 256,1024,4096");
  std::vector<int64_t> out;
  for (const auto& item : split(ctx.str("lengths"))) {
    const long long v = parse_int(item, "--lengths");
    PELAB_CHECK(v >= 1 && v <= (1LL << 24), "--lengths must be integers in [1, 16777216], got " << item,
                "e.g. --lengths 256,1024,4096");
    out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<EvalProtocol> parse_protocols(const std::string& s) {
  if (s == "nonoverlap") return {EvalProtocol::NONOVERLAP};
  if (s == "sliding") return {EvalProtocol::SLIDING};
  if (s == "both") return {EvalProtocol::NONOVERLAP, EvalProtocol::SLIDING};
  throw Error("unknown --protocol '" + s + "'", "choose nonoverlap, sliding or both");
}

std::string json_line(const std::string& label, const ProtocolResult& p, const LengthResult& r, const EvalReport& rep) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"label\": \"%s\", \"protocol\": \"%s\", \"length\": %lld, \"ppl\": %.6f, \"nll\": %.6f, "
                "\"bpb\": %.6f, \"tokens\": %lld, \"dropped\": %lld, \"seconds\": %.3f, \"gflops\": %.3f}",
                label.c_str(), to_string(p.protocol), static_cast<long long>(r.length), std::exp(r.nll()), r.nll(),
                r.nll() / std::log(2.0), static_cast<long long>(r.count), static_cast<long long>(rep.dropped),
                r.seconds, r.flops / std::max(r.seconds, 1e-9) / 1e9);
  return buf;
}

// The probe's options from --probe, --lengths, --depths, --trials, --seed;
// its haystack is the train split of `ds`.
// Without a dataset (`ds` null) only a suite task can be built.
ProbeOptions probe_options(const Context& ctx, const std::vector<int64_t>& lengths, const data::Dataset* ds) {
  const char* what = ctx.has("task") ? "--task" : "--probe";
  PELAB_CHECK(!ctx.has("text"), what << " makes its own synthetic texts; --text cannot go with it",
              "drop --text, or drop " << what << " to score the file's perplexity");
  PELAB_CHECK(!(ctx.has("task") && ctx.has("probe")), "--task and --probe both given", "score one per command");
  ProbeOptions opt;
  opt.lengths = lengths;
  opt.trials = ctx.integer("trials");
  PELAB_CHECK(opt.trials >= 1 && opt.trials <= 1000000, "--trials must be in [1, 1000000], got " << opt.trials, "e.g. --trials 10");
  const long long seed = ctx.integer("seed");
  PELAB_CHECK(seed >= 0, "--seed must be >= 0, got " << seed, "e.g. --seed 1");
  opt.seed = static_cast<uint64_t>(seed);
  opt.random_positions = ctx.integer("random-positions");
  PELAB_CHECK(opt.random_positions >= 0, "--random-positions must be >= 0, got " << opt.random_positions,
              "0 reads examples at 0..n-1");
  if (ctx.has("task")) {
    // `trained`: the run's own task, so that one sweep stage scores every point of a task axis.
    opt.suite = data::parse_task(ctx.str("task") == "trained" ? trained_task(open_trained_run(ctx)) : ctx.str("task"));
    probe_columns(opt);
    return opt;
  }
  PELAB_CHECK(ds, "no dataset", "this is a bug in pelab");
  opt.task = data::parse_synthetic_task(ctx.str("probe"));
  PELAB_CHECK(opt.task != data::SyntheticTask::NONE, "--probe none is not a probe", "choose passkey, copy or mqar");
  opt.depths = ctx.numbers("depths");
  PELAB_CHECK(ds->train.num_tokens() > 0, "the dataset's train split is empty: the probes hide needles in it",
              "prepare the dataset again (pelab data prepare)");
  opt.haystack = data::Haystack(ds->train.tokens);
  probe_columns(opt);
  return opt;
}

// `pelab eval --probe TASK --examples N` (or --task): the examples as JSON lines, nothing evaluated.
int print_probe_examples(const Context& ctx, const ProbeOptions& opt) {
  const long long n = ctx.integer("examples");
  PELAB_CHECK(n >= 1 && n <= 100000, "--examples must be in [1, 100000], got " << n, "e.g. --examples 3");
  const std::vector<double> cols = probe_columns(opt);  // cheap: checks and the depth columns
  if (opt.suite) {
    for (int64_t L : opt.lengths)
      for (int64_t k = 0; k < n; ++k) {
        const data::TaskExample ex = probe_task_example(opt, L, k);
        bench::JsonLine j;
        j.str("task", data::task_info(*opt.suite).name).integer("length", L).integer("example", k)
            .str("input", ex.input).str("answer", ex.answer).integer("bytes", static_cast<int64_t>(ex.text().size()))
            .str("text", ex.text());
        std::printf("%s\n", j.text().c_str());
      }
    return 0;
  }
  for (int64_t L : opt.lengths)
    for (size_t c = 0; c < cols.size(); ++c)
      for (int64_t k = 0; k < n; ++k) {
        const data::Example ex = probe_example(opt, L, static_cast<int64_t>(c), cols[c], k);
        bench::JsonLine j;
        j.str("probe", data::to_string(opt.task)).integer("length", L).integer("example", k)
            .integer("bytes", static_cast<int64_t>(ex.tokens.size()));
        if (opt.task == data::SyntheticTask::PASSKEY)
          j.num("depth_asked", cols[c]).num("depth", ex.depth).integer("haystack_bytes", ex.haystack_bytes)
              .integer("needle_offset", ex.needle_offset).integer("passkey", ex.passkey);
        if (opt.task == data::SyntheticTask::COPY) j.integer("payload_length", ex.payload_length);
        j.integer("answer_offset", ex.answer_offset).str("answer", ex.answer_text()).str("text", ex.text());
        std::printf("%s\n", j.text().c_str());
      }
  return 0;
}

// `pelab eval --probe TASK`: accuracy by length and depth into /eval/<label>.
int run_probe_command(const Context& ctx, const EvalOptions& eopt, const TrainedRun& run, const PeSpec& pe,
                      const std::vector<std::string>& changes) {
  const bool suite = ctx.has("task");
  // A suite task needs no haystack; the probes hide theirs in the train split.
  const data::Dataset ds = suite ? data::Dataset{} : data::load_dataset(ctx.given("data.dir") ? ctx.str("data.dir") : run.data_dir);
  ProbeOptions opt = probe_options(ctx, eopt.lengths, &ds);
  opt.quiet = eopt.quiet;
  const std::string name = suite ? data::task_info(*opt.suite).name : data::to_string(opt.task);
  const std::string label =
      ctx.has("label") ? ctx.str("label")
                       : (suite ? "task-" : "probe-") + name + (changes.empty() ? "" : "-" + pe.label()) +
                             (opt.random_positions > 0 ? "-random-positions-" + std::to_string(opt.random_positions) : "");
  check_result_label(label);
  const int64_t longest = probe_input_length(opt, opt.lengths.back());
  check_memory(Model::memory_bytes(run.config, 1, longest, /*training=*/false),
               "probing at " + std::to_string(longest) + " tokens", "probe at shorter --lengths");
  Model model = load_model(run, pe);
  const ProbeResult r = run_probe(model, opt);
  const uint64_t rows = opt.lengths.size(), cols = r.depths.size();
  run.folder.write_result("eval", label, [&](h5::Group& g) {
    write_provenance(g, {"eval", ctx.command_line(), ctx.resolved_ini({"pe"})});
    g.set_attr("probe", suite ? "task:" + name : name);
    if (suite) g.set_attr("task", name);
    g.set_attr("trials", opt.trials);
    g.set_attr("seed", static_cast<int64_t>(opt.seed));
    g.set_attr("random_positions", opt.random_positions);
    g.set_attr("positions", opt.random_positions > 0 ? "a sorted random subset of [0, " +
                                                          std::to_string(opt.random_positions) + ") per example"
                                                    : std::string("0..n-1"));
    g.set_attr("scoring", suite ? "teacher-forced greedy: an example counts when the argmax at every answer byte and "
                                  "the closing newline is that byte"
                                : "teacher-forced greedy: an example counts when the argmax at every answer byte is that byte");
    g.set_attr("lengths_mean", suite ? std::string("L: ") + data::task_info(*opt.suite).length_means
                               : opt.task == data::SyntheticTask::COPY ? "payload bytes n (model input 2n + 1)"
                                                                       : "model input tokens L (example L + 1)");
    g.set_attr("haystack", suite || opt.task == data::SyntheticTask::COPY
                               ? std::string("none")
                               : "train split of " + ds.corpus + " " + ds.train.checksum());
    g.set_attr("pe", pe.label());
    g.set_attr("pe_trained", run.config.pe.label());
    g.set_attr("pe_changes", join(changes, ","));
    g.set_attr("train_len", run.train_len);
    g.set_attr("checkpoint_step", run.checkpoint.step);
    g.write("probe_lengths", opt.lengths);
    g.write("probe_depths", r.depths);
    g.write("probe_accuracy", r.accuracy.data(), {rows, cols});
    g.write("probe_byte_accuracy", r.byte_accuracy.data(), {rows, cols});
    const uint64_t trials = static_cast<uint64_t>(opt.trials);
    g.write("probe_hits", r.hits.data(), {rows, cols, trials});
    g.write("probe_bytes_ok", r.bytes_ok.data(), {rows, cols, trials});
    g.write("probe_bytes", r.bytes.data(), {rows, cols, trials});
  });
  if (ctx.flag("json")) {
    for (uint64_t i = 0; i < rows; ++i)
      for (uint64_t c = 0; c < cols; ++c) {
        bench::JsonLine j;
        j.str("label", label).str(suite ? "task" : "probe", name).integer("length", opt.lengths[i]);
        if (std::isnan(r.depths[c])) j.null("depth");
        else j.num("depth", r.depths[c]);
        const ProbeIntervals ci = probe_intervals(r, opt.trials, i, c);
        j.integer("trials", opt.trials).num("exact", r.accuracy[i * cols + c]).num("exact_lo", ci.exact_lo)
            .num("exact_hi", ci.exact_hi).num("byte", r.byte_accuracy[i * cols + c]).num("byte_lo", ci.byte_lo)
            .num("byte_hi", ci.byte_hi);
        std::printf("%s\n", j.text().c_str());
      }
    if (ctx.has("plot")) run_plot(suite ? "tasks" : "probe", run.folder.file(kRunFile), ctx.str("plot"), {"--label", label});
    return 0;
  }
  if (suite) {
    std::printf("%s: task %s, %lld examples per length, %s (trained at T = %lld)%s; L: %s\n", run.folder.dir().c_str(),
                name.c_str(), static_cast<long long>(opt.trials), pe.label().c_str(), static_cast<long long>(run.train_len),
                opt.random_positions > 0 ? (", positions random in [0, " + std::to_string(opt.random_positions) + ")").c_str()
                                         : "",
                data::task_info(*opt.suite).length_means);
    std::printf("%8s %7s %17s %7s %17s\n", "length", "exact", "95% CI", "byte", "95% CI");
    for (uint64_t i = 0; i < rows; ++i) {
      const ProbeIntervals ci = probe_intervals(r, opt.trials, i, 0);
      std::printf("%8lld %7.3f   [%5.3f, %5.3f] %7.3f   [%5.3f, %5.3f]\n", static_cast<long long>(opt.lengths[i]),
                  r.accuracy[i], ci.exact_lo, ci.exact_hi, r.byte_accuracy[i], ci.byte_lo, ci.byte_hi);
    }
    std::printf("wrote /eval/%s in %s\n", label.c_str(), run.folder.file(kRunFile).c_str());
    if (ctx.has("plot")) run_plot("tasks", run.folder.file(kRunFile), ctx.str("plot"), {"--label", label});
    return 0;
  }
  std::printf("%s: %s probe, %lld trials per cell, %s (trained at T = %lld); exact match / per-byte accuracy%s\n%8s",
              run.folder.dir().c_str(), data::to_string(opt.task).c_str(), static_cast<long long>(opt.trials),
              pe.label().c_str(), static_cast<long long>(run.train_len),
              opt.task == data::SyntheticTask::COPY ? "; lengths are payload bytes" : "", "length");
  for (double d : r.depths) {
    if (std::isnan(d)) std::printf(" %11s", "exact/byte");
    else std::printf("  depth %4.2f", d);
  }
  std::printf("\n");
  for (uint64_t i = 0; i < rows; ++i) {
    std::printf("%8lld", static_cast<long long>(opt.lengths[i]));
    for (uint64_t c = 0; c < cols; ++c) std::printf("   %4.2f/%4.2f", r.accuracy[i * cols + c], r.byte_accuracy[i * cols + c]);
    std::printf("\n");
  }
  std::printf("wrote /eval/%s in %s\n", label.c_str(), run.folder.file(kRunFile).c_str());
  if (ctx.has("plot")) run_plot("probe", run.folder.file(kRunFile), ctx.str("plot"), {"--label", label});
  return 0;
}

}  // namespace

int run_eval(Context& ctx) {
  EvalOptions opt;
  opt.lengths = parse_lengths(ctx);
  opt.protocols = parse_protocols(ctx.str("protocol"));
  opt.stride = ctx.integer("stride");
  opt.max_tokens = ctx.integer("eval.max-tokens");
  opt.batch_tokens = ctx.integer("batch-tokens");
  PELAB_CHECK(opt.batch_tokens >= 1 && opt.batch_tokens <= (1LL << 26),
              "--batch-tokens must be in [1, 67108864], got " << opt.batch_tokens, "e.g. --batch-tokens 16384");
  opt.quiet = ctx.flag("quiet");
  const long long threads = ctx.integer("threads");
  PELAB_CHECK(threads >= 0 && threads <= 4096, "--threads must be in [0, 4096], got " << threads, "0 uses all cores");
  if (threads > 0) omp_set_num_threads(static_cast<int>(threads));
  const bool plot = ctx.has("plot");
  if (plot) check_plot_target(ctx.str("plot"));

  if (ctx.has("examples") && ctx.has("task")) return print_probe_examples(ctx, probe_options(ctx, opt.lengths, nullptr));
  if (ctx.has("examples") && ctx.has("probe")) {
    // Nothing is evaluated: no checkpoint is needed, only a dataset for the haystack.
    const std::string dir = ctx.given("data.dir") ? ctx.str("data.dir") : open_trained_run(ctx).data_dir;
    const data::Dataset ds = data::load_dataset(dir);
    return print_probe_examples(ctx, probe_options(ctx, opt.lengths, &ds));
  }
  const TrainedRun run = open_trained_run(ctx);
  const RunFolder& folder = run.folder;
  const Checkpoint& ck = run.checkpoint;
  const ModelConfig& trained = run.config;
  const int64_t train_len = run.train_len;
  std::vector<std::string> changes;
  const PeSpec pe = eval_time_pe(ctx, trained, train_len, &changes);
  const std::string label = ctx.has("label") ? ctx.str("label") : (changes.empty() ? "default" : pe.label());
  check_result_label(label);
  PELAB_CHECK(trained.pe.kind != PeKind::LEARNED || opt.lengths.back() <= trained.max_len,
              "this run learned absolute positions up to " << trained.max_len << " tokens; --lengths reaches "
                                                           << opt.lengths.back(),
              "learned positions are undefined past the trained table: evaluate at most " << trained.max_len);

  if (ctx.has("probe") || ctx.has("task")) return run_probe_command(ctx, opt, run, pe, changes);
  PELAB_CHECK(!ctx.has("examples"), "--examples shows a probe's or a task's examples", "add --probe passkey|copy|mqar or --task NAME");
  PELAB_CHECK(ctx.integer("random-positions") == 0, "--random-positions reads a probe's or a task's examples at random positions",
              "add --task NAME or --probe passkey|copy|mqar, or drop --random-positions");
  const EvalText text = text_to_score(ctx, run.data_dir);
  const int64_t longest_batch = std::max<int64_t>(1, opt.batch_tokens / opt.lengths.back());
  check_memory(Model::memory_bytes(trained, longest_batch, opt.lengths.back(), /*training=*/false),
               "evaluating at " + std::to_string(opt.lengths.back()) + " tokens",
               "evaluate at shorter --lengths or lower --batch-tokens");
  Model model = load_model(run, pe);

  const EvalReport rep = evaluate_text(model, text, opt);

  double seconds = 0, flops = 0;
  for (const auto& p : rep.protocols)
    for (const auto& r : p.lengths) seconds += r.seconds, flops += r.flops;
  folder.write_result("eval", label, [&](h5::Group& g) {
    write_provenance(g, {"eval", ctx.command_line(), ctx.resolved_ini({"pe"})});
    std::vector<std::string> protocols;
    for (const auto& p : rep.protocols) protocols.push_back(to_string(p.protocol));
    g.set_attr("protocols", join(protocols, ","));
    g.set_attr("stride", opt.stride);
    g.set_attr("pe", pe.label());
    g.set_attr("pe_trained", trained.pe.label());
    g.set_attr("pe_changes", join(changes, ","));
    g.set_attr("train_len", train_len);
    g.set_attr("checkpoint_step", ck.step);
    g.set_attr("data_source", text.source);
    g.set_attr("data_checksum", text.checksum);
    g.set_attr("scored_tokens", rep.scored);
    g.set_attr("dropped_tokens", rep.dropped);
    g.set_attr("seconds", seconds);
    g.set_attr("gflops", flops / std::max(seconds, 1e-9) / 1e9);
    g.set_attr("threads", static_cast<int64_t>(omp_get_max_threads()));
    for (const auto& p : rep.protocols) {
      h5::Group pg = g.create_group(to_string(p.protocol));
      write_protocol_result(pg, p);
    }
  });

  if (ctx.flag("json")) {
    for (const auto& p : rep.protocols)
      for (const auto& r : p.lengths) std::printf("%s\n", json_line(label, p, r, rep).c_str());
  } else {
    std::printf("%s: %s, trained at T = %lld; %s; %lld tokens scored per length (%lld dropped)\n",
                folder.dir().c_str(), pe.label().c_str(), static_cast<long long>(train_len), text.source.c_str(),
                static_cast<long long>(rep.scored), static_cast<long long>(rep.dropped));
    std::printf("%-10s %8s %10s %8s %8s %9s %9s\n", "protocol", "length", "ppl", "nll", "bpb", "seconds", "GFLOP/s");
    for (const auto& p : rep.protocols)
      for (const auto& r : p.lengths)
        std::printf("%-10s %8lld %10.4f %8.4f %8.4f %9.2f %9.1f\n", to_string(p.protocol),
                    static_cast<long long>(r.length), std::exp(r.nll()), r.nll(), r.nll() / std::log(2.0), r.seconds,
                    r.flops / std::max(r.seconds, 1e-9) / 1e9);
    std::printf("wrote /eval/%s in %s\n", label.c_str(), folder.file(kRunFile).c_str());
  }
  if (plot) run_plot("eval", folder.file(kRunFile), ctx.str("plot"), {"--label", label});
  return 0;
}

}  // namespace pelab::cli
