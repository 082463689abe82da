#include "cli/run_inputs.h"

#include <algorithm>
#include <filesystem>

#include "cli/options.h"
#include "core/error.h"
#include "core/files.h"
#include "core/ini.h"
#include "core/strings.h"
#include "datasets/dataset.h"

namespace pelab::cli {

TrainedRun open_trained_run(const Context& ctx) {
  PELAB_CHECK(ctx.has("run"), "missing --run", "give a run folder written by pelab train, e.g. --run runs/tiny-rope");
  return open_trained_run(ctx.str("run"), "--run");
}

TrainedRun open_trained_run(const std::string& dir, const std::string& option) {
  TrainedRun r{RunFolder::open(dir, option), {}, {}, 0, {}, {}};
  r.checkpoint = r.folder.read_checkpoint(/*optimizer_state=*/false);
  const std::string source = "the configuration in " + r.folder.file(kCheckpointFile);
  r.config = model_config_from_ini(r.checkpoint.config_ini, source);
  const auto saved = ini_map(parse_ini(r.checkpoint.config_ini, source));
  if (saved.count("train.length")) r.train_len = parse_int(saved.at("train.length"), "train.length in " + source);
  if (saved.count("data.task")) r.task = saved.at("data.task");
  // A run on --data.task never read its --data.dir (the base config's corpus, say).
  if (saved.count("data.dir") && r.task.empty()) r.data_dir = saved.at("data.dir");
  return r;
}

std::string trained_task(const TrainedRun& run) {
  if (!run.task.empty()) return run.task;
  const std::string task = run.data_dir.empty() ? std::string() : data::load_dataset(run.data_dir).task;
  PELAB_CHECK(!task.empty(),
              "--task trained: " << run.folder.dir() << " trained on "
                                 << (run.data_dir.empty() ? std::string("no recorded data") : "the corpus in " + run.data_dir)
                                 << ", not a task of the suite",
              "name the task (--task reverse; pelab help eval lists them)");
  return task;
}

Model load_model(const TrainedRun& run, const PeSpec& pe) {
  Model model(run.config);
  PELAB_CHECK(static_cast<int64_t>(run.checkpoint.params.size()) == model.num_params(),
              "the checkpoint holds " << run.checkpoint.params.size() << " parameters, its configuration describes "
                                      << model.num_params(),
              "the run folder is damaged: restore checkpoint.h5");
  std::copy(run.checkpoint.params.begin(), run.checkpoint.params.end(), model.params());
  model.set_pe(pe);
  return model;
}

EvalText text_to_score(const Context& ctx, const std::string& run_data_dir) {
  EvalText t;
  if (ctx.has("text")) {
    const std::string path = ctx.str("text");
    std::error_code ec;
    PELAB_CHECK(std::filesystem::is_regular_file(path, ec), "--text '" << path << "' is not a readable file",
                "give a text file to score (its bytes are the tokens, as in training)");
    const std::string bytes = read_text(path, "--text file");
    t.tokens.assign(bytes.begin(), bytes.end());
    t.source = "file " + path;
  } else {
    const std::string dir = ctx.given("data.dir") ? ctx.str("data.dir") : run_data_dir;
    PELAB_CHECK(!dir.empty(), "no data to score", "give --data.dir DIR (a prepared dataset) or --text FILE");
    const std::string split_name = ctx.str("data.split");
    PELAB_CHECK(split_name == "val" || split_name == "test" || split_name == "train",
                "unknown --data.split '" << split_name << "'", "choose val or test");
    const data::Dataset ds = data::load_dataset(dir);
    t.tokens = ds.split(split_name).tokens;
    t.source = "dataset " + dir + " split " + split_name;
  }
  const long long D = ctx.has("eval.repeat") ? ctx.integer("eval.repeat") : 0;
  PELAB_CHECK(D >= 0 && D <= (1LL << 30), "--eval.repeat must be in [0, 2^30], got " << D, "e.g. --eval.repeat 256 (0: off)");
  if (D > 0) {
    // A positive control for long-context use: every block of D tokens is
    // followed by an exact copy of itself, so a model that reads D tokens
    // back can predict the copy (docs/claims.md, claim 2).
    std::vector<uint8_t> out;
    out.reserve(2 * t.tokens.size());
    for (size_t b = 0; b < t.tokens.size(); b += static_cast<size_t>(D)) {
      const size_t e = std::min(t.tokens.size(), b + static_cast<size_t>(D));
      out.insert(out.end(), t.tokens.begin() + static_cast<std::ptrdiff_t>(b), t.tokens.begin() + static_cast<std::ptrdiff_t>(e));
      out.insert(out.end(), t.tokens.begin() + static_cast<std::ptrdiff_t>(b), t.tokens.begin() + static_cast<std::ptrdiff_t>(e));
    }
    t.tokens = std::move(out);
    t.source += ", every " + std::to_string(D) + " tokens repeated once";
  }
  t.checksum = data::fnv1a64_hex(data::fnv1a64(t.tokens.data(), t.tokens.size()));
  return t;
}

}  // namespace pelab::cli
