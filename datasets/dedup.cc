#include "datasets/dedup.h"

#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/error.h"

namespace pelab::data {

namespace {

bool is_space(uint8_t c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// The words of bytes [b, e) as (begin, end) offsets.
void words_of(const uint8_t* p, size_t n, std::vector<std::pair<size_t, size_t>>& out) {
  out.clear();
  size_t i = 0;
  while (i < n) {
    while (i < n && is_space(p[i])) ++i;
    const size_t b = i;
    while (i < n && !is_space(p[i])) ++i;
    if (i > b) out.emplace_back(b, i);
  }
}

// FNV-1a over the words [k, k + N) joined by one space: the same words hash
// the same whatever whitespace separated them.
uint64_t ngram_hash(const uint8_t* p, const std::vector<std::pair<size_t, size_t>>& w, size_t k, size_t N) {
  uint64_t h = kFnvOffset;
  for (size_t j = k; j < k + N; ++j) {
    if (j > k) h = fnv1a64(reinterpret_cast<const uint8_t*>(" "), 1, h);
    h = fnv1a64(p + w[j].first, w[j].second - w[j].first, h);
  }
  return h;
}

}  // namespace

std::string dedup_rule_text(int64_t ngram_words) {
  if (ngram_words == 0) return "none: val and test are kept whole";
  return "a val or test line is removed when any " + std::to_string(ngram_words) +
         " consecutive words of it occur consecutively in the train split (words: bytes between ASCII whitespace); "
         "documents left empty are dropped";
}

DedupReport remove_train_overlap(Dataset& ds, int64_t ngram_words) {
  PELAB_CHECK(ngram_words >= 0 && ngram_words <= 1000, "--data.dedup-words must be in [0, 1000], got " << ngram_words,
              "e.g. --data.dedup-words 13 (0: keep val and test whole)");
  DedupReport rep;
  rep.words = ngram_words;
  if (ngram_words == 0) return rep;
  const size_t N = static_cast<size_t>(ngram_words);
  std::vector<std::pair<size_t, size_t>> w;
  // Every train n-gram, across line and document ends (a parallel passage
  // may wrap differently).
  std::unordered_set<uint64_t> seen;
  words_of(ds.train.tokens.data(), ds.train.tokens.size(), w);
  if (w.size() >= N) {
    seen.reserve(w.size() - N + 1);
    for (size_t k = 0; k + N <= w.size(); ++k) seen.insert(ngram_hash(ds.train.tokens.data(), w, k, N));
  }
  Split* held[2] = {&ds.val, &ds.test};
  const char* names[2] = {"val", "test"};
  for (int s = 0; s < 2; ++s) {
    const Split& in = *held[s];
    Split out;
    out.offsets = {0};
    for (int64_t d = 0; d < in.num_docs(); ++d) {
      const auto doc = in.doc(d);
      const size_t before = out.tokens.size();
      size_t b = 0;
      while (b < doc.size()) {
        size_t e = b;
        while (e < doc.size() && doc[e] != '\n') ++e;
        if (e < doc.size()) ++e;  // the line keeps its newline
        words_of(doc.data() + b, e - b, w);
        bool overlap = false;
        for (size_t k = 0; !overlap && k + N <= w.size(); ++k) overlap = seen.count(ngram_hash(doc.data() + b, w, k, N)) > 0;
        ++rep.lines_checked[s];
        if (overlap) {
          ++rep.lines_removed[s];
          rep.bytes_removed[s] += static_cast<int64_t>(e - b);
        } else {
          out.tokens.insert(out.tokens.end(), doc.begin() + static_cast<std::ptrdiff_t>(b),
                            doc.begin() + static_cast<std::ptrdiff_t>(e));
        }
        b = e;
      }
      if (out.tokens.size() == before) {
        ++rep.docs_dropped[s];
        continue;
      }
      out.offsets.push_back(static_cast<int64_t>(out.tokens.size()));
      out.names.push_back(in.names[d]);
    }
    PELAB_CHECK(out.num_docs() > 0, "removing " << ngram_words << "-word overlaps with train would leave the " << names[s]
                                                << " split empty",
                "use a longer --data.dedup-words, or 0 to keep val and test whole");
    *held[s] = std::move(out);
  }
  return rep;
}

}  // namespace pelab::data
