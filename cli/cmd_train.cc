// `pelab train`: options, the configuration of a resumed run or of a
// fine-tune (--init-from), and a call into the training loop
// (experiments/train_loop.h) on a run folder (experiments/run_folder.h;
// docs/hdf5-schema.md "pelab train").
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>

#include "cli/cli.h"
#include "cli/options.h"
#include "cli/run_inputs.h"
#include "core/error.h"
#include "core/files.h"
#include "core/memory.h"
#include "core/strings.h"
#include "datasets/dataset.h"
#include "datasets/tasks.h"
#include "experiments/run_folder.h"
#include "experiments/train_loop.h"
#include "model/transformer.h"

namespace pelab::cli {

void train_command_options(po::options_description_easy_init& o) {
  o("pe", po::value<std::string>()->default_value("rope"),
    "positional encoding: rope|xpos|alibi|sinusoidal|learned|t5|kerple|none (one; settings in --pe.*)")
   ("out", po::value<std::string>(), "run folder to create (missing or empty); holds config.ini, run.h5, checkpoint.h5, log.txt")
   ("resume", po::value<std::string>(), "run folder to continue from its checkpoint.h5 (may raise --train.steps)")
   ("init-from", po::value<std::string>(),
    "trained run folder whose checkpoint's parameters start a new run (--out): a fine-tune; its config.ini is the base "
    "configuration, --config and the command line override it")
   ("data.task", po::value<std::string>()->default_value(""),
    "train on a task of the length-generalisation suite (docs/tasks.md) instead of --data.dir: its dataset is built in "
    "memory as pelab data prepare --task writes it, rows of fresh examples, answers only scored")
   ("data.task-min-length", po::value<std::string>()->default_value("0"), "--data.task: shortest L trained on (0: the task's, e.g. 1)")
   ("data.task-max-length", po::value<std::string>()->default_value("0"), "--data.task: longest L trained on (0: the task's, e.g. 20)")
   ("train.random-positions", po::value<std::string>()->default_value("0"),
    "randomized positions (arXiv 2305.16843): each training row's positions are a sorted random subset of [0, M) "
    "instead of 0..T-1 (M >= --train.length; 0: off); validation and pelab eval use 0..L-1. RoPE, xPos, sinusoidal, "
    "learned and none; the score biases are refused")
   ("quiet", po::bool_switch(), "no progress line on stderr")
   ("print-config", po::bool_switch(),
    "print the configuration a fresh run would save as config.ini and exit without training (a sweep compares it "
    "with existing runs to train each model once)");
}

namespace {

// Options that a resume may change: length of the run, logging cadence,
// threads (results then differ in the last bits), the data folder's path (the
// data itself is checked by checksum), and per-invocation switches.
const std::set<std::string> kResumeMayChange = {
    "train.steps", "train.tokens", "train.log-every", "train.eval-every", "train.checkpoint-every",
    "train.stop-at", "train.threads", "data.dir", "quiet", "resume", "out", "config", "help", "print-config"};
// Not carried over from the saved configuration into a resumed run.
const std::set<std::string> kNotInherited = {"train.stop-at", "quiet", "resume", "out"};

std::string any_to_string(const boost::any& v) {
  if (auto* s = boost::any_cast<std::string>(&v)) return *s;
  if (auto* b = boost::any_cast<bool>(&v)) return *b ? "true" : "false";
  return {};
}

// The options given on the command line and in its --config file (not the
// defaults), as strings; the command line wins over the file.
std::map<std::string, std::string> given_options(const Context& outer, const po::options_description& desc) {
  const std::vector<std::string>& argv = outer.argv();
  std::vector<std::string> rest(argv.begin() + 2, argv.end());
  po::variables_map vm;
  po::store(po::command_line_parser(rest).options(desc).run(), vm);
  if (vm.count("config")) {
    const std::string path = vm["config"].as<std::string>();
    const std::string source = "config file '" + path + "'";
    store_ini(parse_ini(read_text(path, "config file"), source), source, desc, vm);
  }
  std::map<std::string, std::string> given;
  for (const auto& [key, value] : vm)
    if (!value.defaulted()) given[key] = any_to_string(value.value());
  given.erase("config");  // read above; not a setting (and refused inside the INI it goes into)
  return given;
}

// `values` as the options of `desc`, defaults filled in; keys `desc` does not
// know (a configuration from another pelab version) are skipped.
po::variables_map options_from(const std::map<std::string, std::string>& values, const std::string& source,
                               const po::options_description& desc) {
  po::variables_map vm;
  store_ini(parse_ini(to_ini(values), source), source, desc, vm, /*allow_unknown=*/true);
  po::notify(vm);
  return vm;
}

int set_threads(const TrainOptions& t) {
  const int n = t.threads > 0 ? t.threads : omp_get_max_threads();
  omp_set_num_threads(n);
  return n;
}

// What a run trains on: with --data.task the task's dataset, built in memory
// as `pelab data prepare --task` would write it (so a sweep can make the task
// an axis without preparing folders; --data.dir is then not read), else the
// dataset in --data.dir.
struct TrainingData {
  data::Dataset ds;
  std::string dir;  // "" for --data.task
};

TrainingData training_data(const Context& ctx) {
  const std::string task = ctx.str("data.task");
  if (!task.empty()) {
    const data::TaskKind t = data::parse_task(task);
    const data::TaskInfo& info = data::task_info(t);
    const int64_t lo = ctx.integer("data.task-min-length"), hi = ctx.integer("data.task-max-length");
    PELAB_CHECK(lo >= 0 && hi >= 0, "--data.task-min-length and --data.task-max-length must be >= 0, got " << lo << " and " << hi,
                "0 takes the task's own range (docs/tasks.md)");
    // The range is checked (against the task and the row) by check_task_options in make_job.
    return {data::make_task_dataset(t, lo > 0 ? lo : info.train_min, hi > 0 ? hi : info.train_max, data::kTaskDocs,
                                    text_options(ctx).doc_bytes, split_options(ctx)),
            ""};
  }
  PELAB_CHECK(ctx.str("data.task-min-length") == "0" && ctx.str("data.task-max-length") == "0",
              "--data.task-min-length or --data.task-max-length without --data.task",
              "add --data.task NAME, or set the range of a prepared task with pelab data prepare --task.min-length");
  const std::string d = ctx.str("data.dir");
  PELAB_CHECK(!d.empty(), "missing --data.dir",
              "prepare data with pelab data prepare --corpus kjv --out data/kjv, then pass --data.dir data/kjv "
              "(or train on a task: --data.task reverse)");
  return {data::load_dataset(d), d};
}

// A run started with --init-from keeps the source's model: every --model.*
// option, --pe and each --pe.* setting that shapes or gives meaning to trained
// parameters (T5 buckets, the KERPLE kernel, the RoPE pair layout, ...) must
// equal the source's. Encoding settings without parameters may change, the
// same ones pelab eval may change (pe_setting_without_parameters): a fine-tune
// with Position Interpolation changes --pe.scaling and --pe.factor.
void check_same_model(const po::variables_map& source, const po::variables_map& now, PeKind kind,
                      const po::options_description& desc, const std::string& src_dir) {
  for (const auto& opt : desc.options()) {
    const std::string& key = opt->long_name();
    const bool model_key = key.rfind("model.", 0) == 0 || key == "pe" || key.rfind("pe.", 0) == 0;
    if (!model_key || pe_setting_without_parameters(key, kind)) continue;
    const std::string was = source.count(key) ? any_to_string(source[key].value()) : std::string("(unset)");
    const std::string is = now.count(key) ? any_to_string(now[key].value()) : std::string("(unset)");
    PELAB_CHECK(same_text_or_number(was, is),
                "--" << key << " " << is << " differs from the --init-from run's " << key << " = " << was << " ("
                     << src_dir << ")",
                "a fine-tune keeps the source's model (--model.*, --pe and encoding settings with trained parameters; "
                "--train.*, --data.* and settings like --pe.base/--pe.scaling/--pe.factor may change): drop --"
                    << key << " or train a new model without --init-from");
  }
}

// The source's parameters fit the configured model: check_same_model ensures
// it unless the source's checkpoint and its configuration disagree.
void check_source_parameters(const TrainedRun& source, const ModelConfig& model) {
  const int64_t n = ParameterLayout(model).total();
  PELAB_CHECK(static_cast<int64_t>(source.checkpoint.params.size()) == n,
              "the --init-from checkpoint " << source.folder.file(kCheckpointFile) << " holds "
                                            << source.checkpoint.params.size()
                                            << " parameters, the configured model has " << n,
              "the source run folder is damaged: restore its checkpoint.h5");
}

// Everything the training loop needs from the options and the data, checked
// before the run folder is touched.
TrainJob make_job(const Context& ctx, const data::Dataset& ds, const std::string& data_dir) {
  TrainJob job;
  RunDescription& r = job.run;
  r.model = model_config(ctx);
  r.train = train_options(ctx);
  r.command_line = ctx.command_line();
  r.config_ini = ctx.resolved_ini();
  r.dataset_dir = data_dir;
  r.dataset_checksum = ds.checksum();
  r.dataset_corpus = ds.corpus;
  if (ctx.has("init-from")) r.init_from = ctx.str("init-from");
  r.parameters = ParameterLayout(r.model).total();
  r.threads = set_threads(r.train);
  job.batcher = batcher_options(ctx, r.train.length, r.train.seed);
  if (!ds.task.empty()) {
    job.batcher.has_task = true;
    job.batcher.task = data::parse_task(ds.task);
    job.batcher.task_min = ds.task_min_length;
    job.batcher.task_max = ds.task_max_length;
    data::check_task_options(job.batcher);  // before a run folder exists
  }
  const long long M = ctx.integer("train.random-positions");
  PELAB_CHECK(M == 0 || (M >= r.train.length && M <= (1LL << 30)),
              "--train.random-positions " << M << " must be 0 (off) or in [--train.length = " << r.train.length << ", 2^30]",
              "M must cover the longest length you will evaluate, e.g. --train.random-positions " << 8 * r.train.length);
  job.batcher.random_positions = M;
  if (M > 0) check_given_positions(r.model, static_cast<double>(M - 1));  // before a run folder exists
  job.quiet = ctx.flag("quiet");
  check_memory(Model::memory_bytes(r.model, r.train.batch, r.train.length, /*training=*/true),
               "training this model (" + std::to_string(r.parameters) + " parameters, " +
                   std::to_string(r.train.batch) + " x " + std::to_string(r.train.length) + " tokens per step)",
               "lower --model.d-model, --model.n-layers, --train.batch or --train.length");
  // The batcher needs T + 1 training tokens (it checks, but name the option here).
  PELAB_CHECK(ds.train.num_tokens() >= r.train.length + 1,
              "the training split has " << ds.train.num_tokens() << " tokens, fewer than --train.length + 1 = "
                                        << r.train.length + 1,
              "shorten --train.length or use a larger corpus");
  return job;
}

int run_fresh(Context& ctx) {
  PELAB_CHECK(ctx.has("out"), "missing --out", "name the run folder to create, e.g. --out runs/tiny-rope");
  const TrainingData data = training_data(ctx);
  const data::Dataset& ds = data.ds;
  const TrainJob job = make_job(ctx, ds, data.dir);
  const RunFolder folder = RunFolder::create(ctx.str("out"));
  const auto training = folder.lock_training();
  folder.write_config(job.run.config_ini);
  return run_training(folder, job, ds, TrainStart{});
}

// The resumed configuration: the command line (and --config), then the saved
// configuration for everything else; an option that would change the model or
// its training is refused.
int run_resume(Context& outer) {
  PELAB_CHECK(!outer.has("out"), "--resume and --out both given",
              "--resume continues the run in its own folder; drop --out");
  const RunFolder folder = RunFolder::open(outer.str("resume"), "--resume");
  const auto training = folder.lock_training();
  const std::string& dir = folder.dir();
  // Killed before its first checkpoint: start again from config.ini.
  const bool restart = !folder.has(kCheckpointFile);
  Checkpoint ck;
  std::string saved_ini;
  if (restart) {
    saved_ini = folder.read_config();
  } else {
    ck = folder.read_checkpoint();
    saved_ini = ck.config_ini;
  }

  std::unique_ptr<CommandOptions> desc = command_options("train");
  const std::map<std::string, std::string> given = given_options(outer, desc->all);
  const std::string saved_source = restart ? "'" + folder.file(kConfigFile) + "'" : "the checkpoint's configuration";
  std::map<std::string, std::string> saved = ini_map(parse_ini(saved_ini, saved_source));
  for (const auto& [key, value] : given) {
    if (kResumeMayChange.count(key)) continue;
    auto it = saved.find(key);
    const std::string old = it == saved.end() ? std::string("(unset)") : it->second;
    PELAB_CHECK(it != saved.end() && same_text_or_number(old, value),
                "--" << key << " " << value << " differs from the checkpoint's " << key << " = " << old << " in " << dir,
                "a resumed run keeps its configuration (only --train.steps/--train.tokens, logging cadence, threads and "
                "--data.dir may change); drop --"
                    << key << " or start a new run with another --out");
  }
  // New --train.steps replaces the saved --train.tokens (which would win otherwise).
  if (given.count("train.steps") && !given.count("train.tokens")) saved["train.tokens"] = "0";
  for (const auto& k : kNotInherited) saved.erase(k);
  for (const auto& [key, value] : given) saved[key] = value;  // given values win
  saved["resume"] = dir;
  Context ctx(outer.argv(), options_from(saved, saved_source, desc->all), &desc->all);

  const TrainingData data = training_data(ctx);
  const data::Dataset& ds = data.ds;
  const std::string& data_dir = data.dir;
  PELAB_CHECK(restart || ds.checksum() == ck.dataset_checksum,
              "dataset '" << (data_dir.empty() ? "task:" + ds.task : data_dir) << "' has checksum " << ds.checksum() << ", the checkpoint was trained on "
                          << ck.dataset_checksum,
              "pass the data folder the run was trained on with --data.dir");
  TrainJob job = make_job(ctx, ds, data_dir);
  TrainStart start;
  start.log_text = folder.read_log();
  // A run started with --init-from that stopped before its first checkpoint
  // starts again from the source's parameters; after it, the checkpoint holds them.
  std::optional<TrainedRun> source;
  if (restart) {
    start.log_text += "no checkpoint (the run stopped before its first one): starting again from step 0\n";
    std::fprintf(stderr, "pelab train: note: %s has no checkpoint yet; training starts again from step 0\n", dir.c_str());
    if (!job.run.init_from.empty()) {
      source = open_trained_run(job.run.init_from, "init-from in " + folder.file(kConfigFile));
      check_source_parameters(*source, job.run.model);
      job.run.init_from_step = source->checkpoint.step;
      start.init_params = &source->checkpoint.params;
    }
  } else {
    job.run.init_from_step = ck.init_from_step;
    start.checkpoint = &ck;
    start.logs = folder.read_train_logs();
    start.logs.truncate(ck.step);
    start.seconds = ck.seconds;
  }
  folder.write_config(job.run.config_ini);
  return run_training(folder, job, ds, std::move(start));
}

// A new run whose parameters start from RUN's checkpoint (a fine-tune, e.g.
// Position Interpolation at a longer --train.length): RUN's saved
// configuration, then --config, then the command line. The model must stay
// RUN's (check_same_model); the AdamW moments, step, schedule and batcher
// start fresh, the batcher with this run's --train.seed.
int run_init_from(Context& outer) {
  PELAB_CHECK(outer.has("out"), "missing --out",
              "--init-from starts a new run: name its folder, e.g. --out runs/small-rope-ft");
  const std::string src_dir = outer.str("init-from");
  const TrainedRun source = open_trained_run(src_dir, "--init-from");
  const std::string saved_source = "the configuration in " + source.folder.file(kCheckpointFile);

  std::unique_ptr<CommandOptions> desc = command_options("train");
  const std::map<std::string, std::string> given = given_options(outer, desc->all);
  const std::map<std::string, std::string> source_ini = ini_map(parse_ini(source.checkpoint.config_ini, saved_source));
  std::map<std::string, std::string> merged = source_ini;
  // New --train.steps replaces the saved --train.tokens (which would win otherwise).
  if (given.count("train.steps") && !given.count("train.tokens")) merged["train.tokens"] = "0";
  for (const auto& k : kNotInherited) merged.erase(k);
  merged.erase("init-from");  // RUN itself may be a fine-tune of another run
  for (const auto& [key, value] : given) merged[key] = value;  // given values win
  check_same_model(options_from(source_ini, saved_source, desc->all), options_from(merged, saved_source, desc->all),
                   source.config.pe.kind, desc->all, src_dir);
  // A scaling names its original length; as pelab eval does, that is RUN's --train.length.
  auto it = merged.find("pe.original-length");
  if (source.config.pe.family() == PeFamily::QK_TRANSFORM && merged.count("pe.scaling") &&
      merged.at("pe.scaling") != "none" && (it == merged.end() || same_text_or_number(it->second, "0")) && source.train_len > 0)
    merged["pe.original-length"] = std::to_string(source.train_len);
  Context ctx(outer.argv(), options_from(merged, saved_source, desc->all), &desc->all);

  const TrainingData data = training_data(ctx);
  const data::Dataset& ds = data.ds;
  TrainJob job = make_job(ctx, ds, data.dir);
  check_source_parameters(source, job.run.model);
  job.run.init_from_step = source.checkpoint.step;
  const RunFolder folder = RunFolder::create(ctx.str("out"));
  const auto training = folder.lock_training();
  folder.write_config(job.run.config_ini);
  TrainStart start;
  start.init_params = &source.checkpoint.params;
  return run_training(folder, job, ds, std::move(start));
}

}  // namespace

int run_train(Context& ctx) {
  if (ctx.has("resume")) {
    PELAB_CHECK(!ctx.has("init-from"), "--init-from and --resume both given",
                "--resume continues a run (one started with --init-from remembers it); --init-from starts a new one "
                "with --out: drop one of them");
    return run_resume(ctx);
  }
  PELAB_CHECK(!(ctx.flag("print-config") && ctx.has("init-from")), "--print-config with --init-from",
              "--print-config shows a fresh run's configuration; drop --init-from");
  if (ctx.has("init-from")) return run_init_from(ctx);
  if (ctx.flag("print-config")) {
    std::fputs(ctx.resolved_ini().c_str(), stdout);
    return 0;
  }
  return run_fresh(ctx);
}

}  // namespace pelab::cli
