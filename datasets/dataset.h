// A prepared dataset: byte tokens (vocabulary 256) with document boundaries,
// split by document into train / val / test, stored in DIR/dataset.h5
// (layout in docs/hdf5-schema.md, "dataset.h5").
//
// The split rule (split_documents), deterministic given the seed:
//   1. The largest document (the first one on ties) goes to train, so one
//      giant document can never swallow an evaluation split nor leave train
//      empty.
//   2. The other documents are shuffled with Rng::stream(split_seed, 1)
//      (Fisher-Yates).
//   3. test takes documents from the front of that order until it holds
//      >= test_fraction of all tokens (at least one document, and always
//      leaving one for val); then val does the same with val_fraction (at
//      least one document); every remaining document goes to train.
//   4. Inside each split, documents keep their corpus order.
// So val and test each get at least one whole, unseen document; it needs at
// least 3 documents, 0 < val_fraction, 0 < test_fraction, sum < 1.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/provenance.h"
#include "datasets/corpus.h"

namespace pelab::data {

inline constexpr int kVocabSize = 256;
inline constexpr const char* kDatasetFile = "dataset.h5";

struct SplitOptions {
  double val_fraction = 0.05;
  double test_fraction = 0.05;
  uint64_t seed = 1;
};

// One split's tokens and documents. Document i is tokens[offsets[i], offsets[i+1]).
struct Split {
  std::vector<uint8_t> tokens;   // (N) byte tokens
  std::vector<int64_t> offsets;  // (D+1) offsets[0] = 0, offsets[D] = N
  std::vector<std::string> names;  // (D)

  int64_t num_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t num_docs() const { return static_cast<int64_t>(names.size()); }
  int64_t doc_length(int64_t i) const { return offsets[i + 1] - offsets[i]; }
  std::span<const uint8_t> doc(int64_t i) const {
    return {tokens.data() + offsets[i], static_cast<size_t>(doc_length(i))};
  }
  // "fnv1a64:<16 hex digits>" of the tokens.
  std::string checksum() const;
};

struct Dataset {
  std::string corpus;  // "kjv", "gcide", "linux-c", "path"
  std::string source;  // packages + versions, or the path
  std::string recipe;  // what a document is
  SplitOptions split_options;
  Split train, val, test;
  // What dedup.h removed from val and test: the rule ("" for a dataset
  // prepared before it), and lines and bytes removed, {val, test}.
  std::string dedup_rule;
  int64_t dedup_lines_removed[2] = {0, 0}, dedup_bytes_removed[2] = {0, 0};
  // A task dataset (`pelab data prepare --task`, datasets/tasks.h): the task's
  // name ("" for a corpus) and the train range of L its splits were drawn
  // from, which training on it uses.
  std::string task;
  int64_t task_min_length = 0, task_max_length = 0;

  // "train", "val" or "test" (else an error naming them).
  const Split& split(std::string_view name) const;
  int64_t num_tokens() const { return train.num_tokens() + val.num_tokens() + test.num_tokens(); }
  // FNV-1a 64 of train, val and test tokens, in that order, as one stream.
  std::string checksum() const;
};

// FNV-1a 64 over bytes, continuing from `h` (start with kFnvOffset).
inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
uint64_t fnv1a64(const uint8_t* data, size_t n, uint64_t h = kFnvOffset);
std::string fnv1a64_hex(uint64_t h);  // "fnv1a64:0123456789abcdef"

// The split of each document by the rule above: 0 = train, 1 = val, 2 = test.
std::vector<int> split_documents(const std::vector<int64_t>& doc_sizes, const SplitOptions& opt);
// One line describing the rule, stored as the `split_rule` attribute.
std::string split_rule_text();

void validate(const SplitOptions& opt);
Dataset make_dataset(const Corpus& corpus, const SplitOptions& opt);

// Writes the dataset atomically (temporary + rename) with provenance on "/".
void save_dataset(const Dataset& ds, const std::string& path, const Provenance& prov);
// Reads and verifies it: shapes, offsets, names and every checksum. `path` is
// the dataset.h5 file or the folder holding it.
Dataset load_dataset(const std::string& path);
// DIR/dataset.h5 for a folder, the path itself for a file.
std::string dataset_file(const std::string& path);

}  // namespace pelab::data
