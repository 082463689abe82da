// `pelab data prepare|info`: build DIR/dataset.h5 from a corpus recipe
// (datasets/corpus.h) and print what a prepared folder holds.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "core/provenance.h"
#include "datasets/dataset.h"
#include "datasets/dedup.h"
#include "datasets/tasks.h"
#include "cli/cli.h"
#include "cli/options.h"

namespace pelab::cli {

namespace fs = std::filesystem;

void data_options(po::options_description_easy_init& o) {
  o("corpus", po::value<std::string>(), "prepare: kjv | linux-c | gcide | PATH (a text file or a folder of text files)")
   ("out", po::value<std::string>(), "prepare: folder to write dataset.h5 into (created if missing)")
   ("dir", po::value<std::string>(), "info: prepared folder (or its dataset.h5); --data.dir works too")
   ("task", po::value<std::string>(), "prepare: instead of --corpus, a task of the length-generalisation suite "
                                      "(docs/tasks.md); training on it draws fresh examples, answers only scored")
   ("task.min-length", po::value<std::string>(), "prepare --task: shortest L trained on (default: the task's, e.g. 1)")
   ("task.max-length", po::value<std::string>(), "prepare --task: longest L trained on (default: the task's, e.g. 40)")
   ("task.docs", po::value<std::string>()->default_value(std::to_string(data::kTaskDocs)), "prepare --task: documents of examples to split (>= 3)");
}

namespace {

// `pelab data prepare --task NAME`: the task's examples as a dataset.
int run_prepare_task(Context& ctx, const std::string& out) {
  PELAB_CHECK(!ctx.has("corpus"), "--task and --corpus both given", "prepare a task or a corpus, one per folder");
  const data::TaskKind t = data::parse_task(ctx.str("task"));
  const data::TaskInfo& info = data::task_info(t);
  const int64_t lo = ctx.has("task.min-length") ? ctx.integer("task.min-length") : info.train_min;
  const int64_t hi = ctx.has("task.max-length") ? ctx.integer("task.max-length") : info.train_max;
  const data::SplitOptions split = split_options(ctx);
  const data::TextOptions text = text_options(ctx);
  const data::Dataset ds = data::make_task_dataset(t, lo, hi, ctx.integer("task.docs"), text.doc_bytes, split);
  std::error_code ec;
  PELAB_CHECK(!fs::exists(out, ec) || fs::is_directory(out, ec), "--out '" << out << "' exists and is not a folder",
              "give a folder name; dataset.h5 is written inside it");
  fs::create_directories(out, ec);
  PELAB_CHECK(!ec, "cannot create folder '" << out << "': " << ec.message(), "check the path and its permissions");
  const std::string file = (fs::path(out) / data::kDatasetFile).string();
  data::save_dataset(ds, file, {"data", ctx.command_line(), ctx.resolved_ini()});
  std::printf("task %s: L in %lld..%lld (%s), %zu documents, %lld tokens\n", info.name, static_cast<long long>(lo),
              static_cast<long long>(hi), info.length_means, static_cast<size_t>(ds.train.num_docs() + ds.val.num_docs() + ds.test.num_docs()),
              static_cast<long long>(ds.num_tokens()));
  std::printf("wrote %s\n", file.c_str());
  return 0;
}

int run_prepare(Context& ctx) {
  if (ctx.has("task")) {
    PELAB_CHECK(ctx.has("out"), "missing --out", "name the folder to write, e.g. --out data/parity");
    return run_prepare_task(ctx, ctx.str("out"));
  }
  PELAB_CHECK(ctx.has("corpus"), "missing --corpus", "e.g. pelab data prepare --corpus kjv --out data/kjv (or --task parity)");
  PELAB_CHECK(ctx.has("out"), "missing --out", "name the folder to write, e.g. --out data/kjv");
  const std::string out = ctx.str("out");
  PELAB_CHECK(!out.empty(), "--out is empty", "name the folder to write, e.g. --out data/kjv");
  const data::SplitOptions split = split_options(ctx);
  const data::TextOptions text = text_options(ctx);
  std::error_code ec;
  PELAB_CHECK(!fs::exists(out, ec) || fs::is_directory(out, ec), "--out '" << out << "' exists and is not a folder",
              "give a folder name; dataset.h5 is written inside it");

  const std::string spec = ctx.str("corpus");
  const data::Corpus corpus = data::load_corpus(spec, text);
  data::Dataset ds = data::make_dataset(corpus, split);
  const data::DedupReport dedup = data::remove_train_overlap(ds, ctx.integer("data.dedup-words"));
  ds.dedup_rule = data::dedup_rule_text(dedup.words);
  for (int i = 0; i < 2; ++i) ds.dedup_lines_removed[i] = dedup.lines_removed[i], ds.dedup_bytes_removed[i] = dedup.bytes_removed[i];

  fs::create_directories(out, ec);
  PELAB_CHECK(!ec, "cannot create folder '" << out << "': " << ec.message(), "check the path and its permissions");
  const std::string file = (fs::path(out) / data::kDatasetFile).string();
  data::save_dataset(ds, file, {"data", ctx.command_line(), ctx.resolved_ini()});

  std::printf("corpus %s: %zu documents, %lld tokens", corpus.name.c_str(), corpus.docs.size(),
              static_cast<long long>(ds.num_tokens()));
  if (corpus.skipped_files) std::printf(" (%lld empty or binary files skipped)", static_cast<long long>(corpus.skipped_files));
  std::printf("\n");
  for (const char* name : {"train", "val", "test"}) {
    const data::Split& s = ds.split(name);
    std::printf("  %-5s %6lld docs %11lld tokens  %s\n", name, static_cast<long long>(s.num_docs()),
                static_cast<long long>(s.num_tokens()), s.checksum().c_str());
  }
  if (dedup.words > 0)
    std::printf("  removed from val %lld of %lld lines (%lld bytes), from test %lld of %lld lines (%lld bytes): "
                "%lld consecutive words also in train\n",
                static_cast<long long>(dedup.lines_removed[0]), static_cast<long long>(dedup.lines_checked[0]),
                static_cast<long long>(dedup.bytes_removed[0]), static_cast<long long>(dedup.lines_removed[1]),
                static_cast<long long>(dedup.lines_checked[1]), static_cast<long long>(dedup.bytes_removed[1]),
                static_cast<long long>(dedup.words));
  std::printf("wrote %s\n", file.c_str());
  return 0;
}

int run_info(Context& ctx) {
  std::string dir;
  if (ctx.has("dir")) dir = ctx.str("dir");
  else if (ctx.has("data.dir")) dir = ctx.str("data.dir");
  PELAB_CHECK(!dir.empty(), "missing --dir", "e.g. pelab data info --dir data/kjv");
  const data::Dataset ds = data::load_dataset(dir);
  std::printf("dataset   %s\n", data::dataset_file(dir).c_str());
  std::printf("corpus    %s\nsource    %s\nrecipe    %s\n", ds.corpus.c_str(), ds.source.c_str(), ds.recipe.c_str());
  std::printf("split     val %.4g, test %.4g of tokens, seed %llu\n", ds.split_options.val_fraction,
              ds.split_options.test_fraction, static_cast<unsigned long long>(ds.split_options.seed));
  if (!ds.task.empty())
    std::printf("task      %s, trained on L in %lld..%lld\n", ds.task.c_str(), static_cast<long long>(ds.task_min_length),
                static_cast<long long>(ds.task_max_length));
  std::printf("dedup     %s\n", ds.dedup_rule.empty() ? "(prepared before de-duplication)" : ds.dedup_rule.c_str());
  if (!ds.dedup_rule.empty())
    std::printf("          removed val %lld lines (%lld bytes), test %lld lines (%lld bytes)\n",
                static_cast<long long>(ds.dedup_lines_removed[0]), static_cast<long long>(ds.dedup_bytes_removed[0]),
                static_cast<long long>(ds.dedup_lines_removed[1]), static_cast<long long>(ds.dedup_bytes_removed[1]));
  std::printf("tokens    %lld (vocabulary %d), checksum %s (verified)\n", static_cast<long long>(ds.num_tokens()),
              data::kVocabSize, ds.checksum().c_str());
  std::printf("%-5s %6s %11s %10s %10s %10s  %s\n", "split", "docs", "tokens", "min doc", "median", "max doc", "checksum");
  for (const char* name : {"train", "val", "test"}) {
    const data::Split& s = ds.split(name);
    std::vector<int64_t> len;
    for (int64_t i = 0; i < s.num_docs(); ++i) len.push_back(s.doc_length(i));
    std::sort(len.begin(), len.end());
    std::printf("%-5s %6lld %11lld %10lld %10lld %10lld  %s\n", name, static_cast<long long>(s.num_docs()),
                static_cast<long long>(s.num_tokens()), static_cast<long long>(len.front()),
                static_cast<long long>(len[len.size() / 2]), static_cast<long long>(len.back()), s.checksum().c_str());
  }
  return 0;
}

}  // namespace

int run_data(Context& ctx) {
  PELAB_CHECK(ctx.has("action"), "missing action for 'pelab data'", "write pelab data prepare ... or pelab data info ...");
  const std::string action = ctx.str("action");
  if (action == "prepare") return run_prepare(ctx);
  if (action == "info") return run_info(ctx);
  throw Error("unknown action '" + action + "' for 'pelab data'", "choose prepare or info (pelab help data)");
}

}  // namespace pelab::cli
