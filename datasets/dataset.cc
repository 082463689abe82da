#include "datasets/dataset.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/rng.h"
#include "core/strings.h"

namespace pelab::data {

namespace fs = std::filesystem;

namespace {
const char* const kSplitNames[3] = {"train", "val", "test"};
}

uint64_t fnv1a64(const uint8_t* data, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; ++i) {
    h ^= data[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string fnv1a64_hex(uint64_t h) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "fnv1a64:%016" PRIx64, h);
  return buf;
}

std::string Split::checksum() const { return fnv1a64_hex(fnv1a64(tokens.data(), tokens.size())); }

const Split& Dataset::split(std::string_view name) const {
  if (name == "train") return train;
  if (name == "val") return val;
  if (name == "test") return test;
  throw Error("no split '" + std::string(name) + "' in a dataset", "choose train, val or test");
}

std::string Dataset::checksum() const {
  uint64_t h = kFnvOffset;
  for (const Split* s : {&train, &val, &test}) h = fnv1a64(s->tokens.data(), s->tokens.size(), h);
  return fnv1a64_hex(h);
}

void validate(const SplitOptions& opt) {
  PELAB_CHECK(opt.val_fraction > 0 && opt.val_fraction < 1, "--data.val-fraction must be in (0, 1), got " << opt.val_fraction,
              "e.g. --data.val-fraction 0.05 (val always gets at least one document)");
  PELAB_CHECK(opt.test_fraction > 0 && opt.test_fraction < 1, "--data.test-fraction must be in (0, 1), got " << opt.test_fraction,
              "e.g. --data.test-fraction 0.05 (test always gets at least one document)");
  PELAB_CHECK(opt.val_fraction + opt.test_fraction < 1,
              "--data.val-fraction + --data.test-fraction must be < 1, got " << opt.val_fraction + opt.test_fraction,
              "leave a share for training");
}

std::string split_rule_text() {
  return "largest document -> train; the others shuffled (Fisher-Yates, SplitMix64 stream 1 of split_seed); test takes "
         "documents from the front until it holds >= test_fraction of all tokens (at least 1, leaving 1 for val), then "
         "val likewise with val_fraction (at least 1); the rest -> train; corpus order kept inside each split";
}

std::vector<int> split_documents(const std::vector<int64_t>& sizes, const SplitOptions& opt) {
  validate(opt);
  const size_t D = sizes.size();
  PELAB_CHECK(D >= 3, "the corpus has " << D << " document(s); a train/val/test split by document needs at least 3",
              "give more text, or for a single file a smaller --data.doc-bytes");
  const double total = static_cast<double>(std::accumulate(sizes.begin(), sizes.end(), int64_t{0}));
  std::vector<int> where(D, 0);
  const size_t largest = static_cast<size_t>(std::max_element(sizes.begin(), sizes.end()) - sizes.begin());
  std::vector<size_t> order;
  for (size_t i = 0; i < D; ++i)
    if (i != largest) order.push_back(i);
  Rng rng = Rng::stream(opt.seed, 1);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);

  size_t next = 0;
  auto take = [&](int split, double fraction, size_t keep) {
    const double target = fraction * total;
    double got = 0;
    size_t count = 0;
    while (next + keep < order.size() && (count == 0 || got < target)) {
      where[order[next]] = split;
      got += static_cast<double>(sizes[order[next]]);
      ++count;
      ++next;
    }
  };
  take(2, opt.test_fraction, 1);  // leave one for val
  take(1, opt.val_fraction, 0);
  return where;
}

Dataset make_dataset(const Corpus& corpus, const SplitOptions& opt) {
  std::vector<int64_t> sizes;
  for (const auto& d : corpus.docs) sizes.push_back(static_cast<int64_t>(d.text.size()));
  const std::vector<int> where = split_documents(sizes, opt);
  Dataset ds;
  ds.corpus = corpus.name;
  ds.source = corpus.source;
  ds.recipe = corpus.recipe;
  ds.split_options = opt;
  Split* splits[3] = {&ds.train, &ds.val, &ds.test};
  for (Split* s : splits) s->offsets = {0};
  for (size_t i = 0; i < corpus.docs.size(); ++i) {
    Split& s = *splits[where[i]];
    const std::string& t = corpus.docs[i].text;
    s.tokens.insert(s.tokens.end(), t.begin(), t.end());
    s.offsets.push_back(static_cast<int64_t>(s.tokens.size()));
    s.names.push_back(corpus.docs[i].name);
  }
  return ds;
}

std::string dataset_file(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return (fs::path(path) / kDatasetFile).string();
  return path;
}

namespace {

std::string join_names(const std::vector<std::string>& names) {
  for (const auto& n : names)
    PELAB_CHECK(n.find('\n') == std::string::npos, "document name '" << n << "' contains a newline",
                "rename the file (names are stored newline-separated)");
  return join(names, "\n");
}

void write_split(h5::Group& root, const char* name, const Split& s) {
  h5::Group g = root.create_group(name);
  g.write("tokens", s.tokens);
  g.write("doc_offsets", s.offsets);
  const std::string names = join_names(s.names);
  g.write("doc_names", std::vector<uint8_t>(names.begin(), names.end()));
  g.set_attr("num_tokens", s.num_tokens());
  g.set_attr("num_docs", s.num_docs());
  g.set_attr("checksum", s.checksum());
}

Split read_split(const h5::Group& root, const char* name, const std::string& file) {
  h5::Group g = root.open_group(name);
  Split s;
  s.tokens = g.read<uint8_t>("tokens");
  s.offsets = g.read<int64_t>("doc_offsets");
  const auto raw = g.read<uint8_t>("doc_names");
  const std::string names(raw.begin(), raw.end());
  s.names = {};
  size_t b = 0;
  while (true) {
    size_t nl = names.find('\n', b);
    s.names.push_back(names.substr(b, nl == std::string::npos ? std::string::npos : nl - b));
    if (nl == std::string::npos) break;
    b = nl + 1;
  }
  const std::string where = "'" + file + "' /" + name;
  const std::string hint = "the file is damaged; prepare it again with pelab data prepare";
  PELAB_CHECK(s.offsets.size() == s.names.size() + 1 && s.offsets.front() == 0 &&
                  s.offsets.back() == s.num_tokens() && std::is_sorted(s.offsets.begin(), s.offsets.end()),
              "dataset " << where << ": document offsets and names do not match its tokens", hint);
  PELAB_CHECK(g.attr_int("num_tokens") == s.num_tokens() && g.attr_int("num_docs") == s.num_docs(),
              "dataset " << where << ": token or document count differs from its attributes", hint);
  PELAB_CHECK(g.attr_string("checksum") == s.checksum(),
              "dataset " << where << ": tokens do not match their checksum (" << g.attr_string("checksum") << ")", hint);
  return s;
}

}  // namespace

void save_dataset(const Dataset& ds, const std::string& path, const Provenance& prov) {
  h5::File f = h5::File::create(path);
  write_provenance(f, prov);
  f.set_attr("corpus", ds.corpus);
  f.set_attr("source", ds.source);
  f.set_attr("recipe", ds.recipe);
  f.set_attr("vocab_size", static_cast<int64_t>(kVocabSize));
  f.set_attr("split_rule", split_rule_text());
  f.set_attr("val_fraction", ds.split_options.val_fraction);
  f.set_attr("test_fraction", ds.split_options.test_fraction);
  f.set_attr("split_seed", static_cast<int64_t>(ds.split_options.seed));
  f.set_attr("num_tokens", ds.num_tokens());
  f.set_attr("num_docs", ds.train.num_docs() + ds.val.num_docs() + ds.test.num_docs());
  f.set_attr("checksum", ds.checksum());
  f.set_attr("dedup_rule", ds.dedup_rule);
  for (int i = 0; i < 2; ++i) {
    f.set_attr(std::string(kSplitNames[i + 1]) + "_dedup_lines_removed", ds.dedup_lines_removed[i]);
    f.set_attr(std::string(kSplitNames[i + 1]) + "_dedup_bytes_removed", ds.dedup_bytes_removed[i]);
  }
  if (!ds.task.empty()) {
    f.set_attr("task", ds.task);
    f.set_attr("task_min_length", ds.task_min_length);
    f.set_attr("task_max_length", ds.task_max_length);
  }
  write_split(f, "train", ds.train);
  write_split(f, "val", ds.val);
  write_split(f, "test", ds.test);
  f.commit();
}

Dataset load_dataset(const std::string& path_in) {
  const std::string path = dataset_file(path_in);
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (fs::exists(path_in, ec))  // a folder without dataset.h5
      throw Error("no " + std::string(kDatasetFile) + " in '" + path_in + "'",
                  "prepare one with: pelab data prepare --corpus kjv --out " + path_in);
    throw Error("data folder '" + path_in + "' does not exist", "prepare one with: pelab data prepare --corpus kjv --out DIR");
  }
  h5::File f = h5::File::open_read(path);
  PELAB_CHECK(f.has_attr("corpus") && f.has("train") && f.has("val") && f.has("test"),
              "'" << path << "' is not a pelab dataset (no corpus attribute or train/val/test groups)",
              "pass the folder written by pelab data prepare");
  const int64_t version = f.attr_int("schema_version");
  PELAB_CHECK(version <= kSchemaVersion, "'" << path << "' has schema version " << version << ", newer than this pelab ("
                                              << kSchemaVersion << ")", "update pelab or prepare the data again");
  Dataset ds;
  ds.corpus = f.attr_string("corpus");
  ds.source = f.attr_string("source");
  ds.recipe = f.attr_string("recipe");
  ds.split_options.val_fraction = f.attr_double("val_fraction");
  ds.split_options.test_fraction = f.attr_double("test_fraction");
  ds.split_options.seed = static_cast<uint64_t>(f.attr_int("split_seed"));
  if (f.has_attr("dedup_rule")) {
    ds.dedup_rule = f.attr_string("dedup_rule");
    for (int i = 0; i < 2; ++i) {
      ds.dedup_lines_removed[i] = f.attr_int(std::string(kSplitNames[i + 1]) + "_dedup_lines_removed");
      ds.dedup_bytes_removed[i] = f.attr_int(std::string(kSplitNames[i + 1]) + "_dedup_bytes_removed");
    }
  }
  if (f.has_attr("task")) {
    ds.task = f.attr_string("task");
    ds.task_min_length = f.attr_int("task_min_length");
    ds.task_max_length = f.attr_int("task_max_length");
  }
  ds.train = read_split(f, kSplitNames[0], path);
  ds.val = read_split(f, kSplitNames[1], path);
  ds.test = read_split(f, kSplitNames[2], path);
  PELAB_CHECK(f.attr_string("checksum") == ds.checksum(), "dataset '" << path << "': checksum mismatch",
              "the file is damaged; prepare it again with pelab data prepare");
  return ds;
}

}  // namespace pelab::data
