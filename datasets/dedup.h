// Held-out text that the model has in effect seen: parallel passages (in KJV,
// Samuel/Kings against Chronicles, the synoptic gospels, Psalms 14 and 53,
// Isaiah 36-39 against 2 Kings 18-20) put near-copies of training text into
// val and test, so "held out" perplexity there measures recall. The rule,
// applied by `pelab data prepare` after the split:
//   a line of a val or test document is removed when any run of N
//   consecutive words of it (words: bytes between ASCII whitespace) also
//   occurs as N consecutive words anywhere in the train split.
// N = 13 by default, the n-gram length of GPT-3's contamination check
// (Brown et al. 2020, Appendix C). Lines with fewer than N words are never
// removed. A document left empty is dropped. N = 0 turns the rule off.
#pragma once

#include <cstdint>
#include <string>

#include "datasets/dataset.h"

namespace pelab::data {

inline constexpr int kDefaultDedupWords = 13;

struct DedupReport {
  int64_t words = 0;                  // N (0: off)
  int64_t lines_checked[2] = {0, 0};  // val, test
  int64_t lines_removed[2] = {0, 0};
  int64_t bytes_removed[2] = {0, 0};
  int64_t docs_dropped[2] = {0, 0};
};

// Applies the rule to ds.val and ds.test in place. An error names a split the
// rule would empty.
DedupReport remove_train_overlap(Dataset& ds, int64_t ngram_words);

// One line describing the rule (stored as the `dedup_rule` attribute).
std::string dedup_rule_text(int64_t ngram_words);

}  // namespace pelab::data
