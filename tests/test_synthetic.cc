// Synthetic tasks (datasets/synthetic.h) and the Rng (core/rng.h): every
// example has exactly the asked length and the promised structure, and the
// answer mask marks exactly the answer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <span>
#include <string>
#include <utility>

#include "core/error.h"
#include "core/rng.h"
#include "datasets/synthetic.h"

namespace pelab::data {
namespace {

TEST(SyntheticRng, SplitMix64ReferenceAndState) {
  // SplitMix64 from state 0 (Vigna's splitmix64.c).
  Rng r(0);
  EXPECT_EQ(r.next_u64(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(r.next_u64(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(r.next_u64(), 0x06c45d188009454fULL);
  // Saving and restoring the one-integer state continues the same stream.
  Rng a(123);
  for (int i = 0; i < 10; ++i) a.next_u64();
  Rng b(0);
  b.set_state(a.state());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  // below(n) stays in range and hits every value; streams differ.
  Rng c(7);
  std::vector<int> hits(10, 0);
  for (int i = 0; i < 10000; ++i) ++hits[c.below(10)];
  for (int h : hits) EXPECT_NEAR(h, 1000, 150);
  for (int i = 0; i < 1000; ++i) {
    const int64_t v = c.uniform_int(-3, 3);
    EXPECT_TRUE(v >= -3 && v <= 3);
    const double u = c.uniform();
    EXPECT_TRUE(u >= 0 && u < 1);
  }
  EXPECT_NE(Rng::stream(1, 1).next_u64(), Rng::stream(1, 2).next_u64());
  EXPECT_NE(Rng::stream(1, 1).next_u64(), Rng::stream(2, 1).next_u64());
}

// A stand-in for the train split: numbered lines, so any window of it is
// recognisably a window (and where it starts).
std::string haystack_text() {
  std::string t;
  for (int i = 0; i < 400; ++i) t += "verse " + std::to_string(i) + " and the words of it.\n";
  return t;
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// `window` is a run of consecutive bytes of `text`, read cyclically.
bool is_window_of(const std::string& window, const std::string& text) {
  std::string t = text;
  while (t.size() < window.size() + text.size()) t += text;
  return t.find(window) != std::string::npos;
}

void expect_mask_shape(const Example& ex, int64_t length) {
  ASSERT_EQ(static_cast<int64_t>(ex.tokens.size()), length);
  ASSERT_EQ(static_cast<int64_t>(ex.answer.size()), length);
  for (uint8_t a : ex.answer) EXPECT_TRUE(a == 0 || a == 1);
}

TEST(SyntheticHaystack, WindowsOfTheTextRepeatingWhenShort) {
  const std::string text = haystack_text();
  const Haystack h(bytes_of(text));
  Rng rng(4);
  std::set<size_t> starts;
  for (int i = 0; i < 50; ++i) {
    const std::string w = h.take(300, rng);
    ASSERT_EQ(w.size(), 300u);
    EXPECT_TRUE(is_window_of(w, text));
    starts.insert((text + text).find(w));  // 300 bytes hold a line number: the start is unique
  }
  EXPECT_GT(starts.size(), 45u) << "starts are uniform, not fixed";
  const std::string small = "abc";
  EXPECT_EQ(Haystack(bytes_of(small)).take(8, rng).size(), 8u);
  EXPECT_TRUE(is_window_of(Haystack(bytes_of(small)).take(8, rng), "abcabcabcabc"));
  EXPECT_THROW(Haystack().take(3, rng), Error);
}

// The geometry a reader relies on: the needle sits at the stated depth of
// the haystack, the haystack is one window of real text, and the answer
// comes after all of it, right after the question.
TEST(SyntheticPasskey, NeedleAtTheStatedDepthOfARealHaystack) {
  const std::string text = haystack_text();
  const Haystack h(bytes_of(text));
  Rng rng(1);
  for (int64_t length : {120, 200, 257, 1000, 4097, 20000}) {
    for (double depth : {0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0}) {
      const Example ex = make_passkey(length, rng, h, depth);
      expect_mask_shape(ex, length);
      const std::string s = ex.text();
      const std::string key = std::to_string(ex.passkey);
      EXPECT_GE(ex.passkey, 1);
      EXPECT_LE(ex.passkey, kPasskeyMax);
      // Answer: the key's digits at the very end, right after the question.
      EXPECT_EQ(ex.answer_text(), key);
      EXPECT_EQ(ex.answer_offset, length - static_cast<int64_t>(key.size()));
      EXPECT_EQ(s.substr(ex.answer_offset - 38, 38), kPasskeyQuestion);
      // The needle: once, where needle_offset says, alone on its line.
      const std::string needle = "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
      EXPECT_EQ(s.find(needle), static_cast<size_t>(ex.needle_offset));
      EXPECT_EQ(s.find(needle, ex.needle_offset + 1), std::string::npos);
      EXPECT_EQ(s[ex.needle_offset - 1], '\n');
      EXPECT_EQ(s[ex.needle_offset + needle.size()], '\n');
      // The haystack: everything but the needle, question and answer, one window of the text.
      const int64_t H = ex.haystack_bytes;
      EXPECT_EQ(H, length - passkey_fixed_bytes(static_cast<int64_t>(key.size())));
      EXPECT_GE(H, kPasskeyMinHaystack - 4);  // shorter keys leave more haystack
      const std::string prefix = s.substr(0, ex.needle_offset - 1);
      const size_t suffix_at = ex.needle_offset + needle.size() + 1;
      const std::string suffix = s.substr(suffix_at, ex.answer_offset - 38 - 1 - suffix_at);
      EXPECT_EQ(static_cast<int64_t>(prefix.size() + suffix.size()), H);
      EXPECT_TRUE(is_window_of(prefix + suffix, text)) << "the haystack reads on around the needle";
      // Depth: the share of haystack bytes before the needle, to one byte.
      EXPECT_NEAR(static_cast<double>(prefix.size()) / static_cast<double>(H), depth, 0.5 / static_cast<double>(H) + 1e-12);
      EXPECT_DOUBLE_EQ(ex.depth, static_cast<double>(prefix.size()) / static_cast<double>(H));
      // The answer comes after the whole haystack.
      EXPECT_GT(ex.answer_offset, static_cast<int64_t>(suffix_at + suffix.size()));
    }
  }
}

TEST(SyntheticPasskey, UniformDepthAndDeterminism) {
  const std::string text = haystack_text();
  const Haystack h(bytes_of(text));
  Rng rng(5);
  double lo = 1, hi = 0, sum = 0;
  std::set<int64_t> keys;
  const int n = 400;
  for (int i = 0; i < n; ++i) {
    const Example ex = make_passkey(2000, rng, h);
    lo = std::min(lo, ex.depth);
    hi = std::max(hi, ex.depth);
    sum += ex.depth;
    keys.insert(ex.passkey);
  }
  EXPECT_LT(lo, 0.05);
  EXPECT_GT(hi, 0.95);
  EXPECT_NEAR(sum / n, 0.5, 0.06);
  EXPECT_GT(keys.size(), 390u);
  Rng a(77), b(77);
  EXPECT_EQ(make_passkey(3000, a, h).tokens, make_passkey(3000, b, h).tokens);
  Rng c(1);
  EXPECT_THROW(make_passkey(synthetic_min_length(SyntheticTask::PASSKEY) - 1, c, h), Error);
  EXPECT_THROW(make_passkey(500, c, Haystack()), Error);
}

TEST(SyntheticCopy, OneExampleOfTheStatedPayload) {
  Rng rng(2);
  for (int64_t n : {1, 2, 7, 64, 500}) {
    const Example ex = make_copy(n, rng);
    expect_mask_shape(ex, 2 * n + 2);
    EXPECT_EQ(ex.payload_length, n);
    EXPECT_EQ(ex.answer_offset, n + 1);
    EXPECT_EQ(ex.tokens[n], '|');
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(ex.tokens[n + 1 + i], ex.tokens[i]);
      EXPECT_TRUE(std::isalnum(ex.tokens[i]));
      EXPECT_EQ(ex.answer[i], 0);
      EXPECT_EQ(ex.answer[n + 1 + i], 1);
    }
    EXPECT_EQ(ex.answer[n], 0);
    EXPECT_EQ(ex.tokens.back(), '\n');
    EXPECT_EQ(ex.answer.back(), 0);
  }
  Rng r(1);
  EXPECT_THROW(make_copy(0, r), Error);
}

// Parses a packed copy row "P|P\n P|P\n ... \n\n": every example copies its
// payload, and the payload lengths seen.
std::vector<int64_t> parse_copy_row(const Example& ex) {
  const std::string s = ex.text();
  std::vector<int64_t> lengths;
  size_t at = 0;
  while (at < s.size() && s[at] != '\n') {
    const size_t bar = s.find('|', at);
    EXPECT_NE(bar, std::string::npos);
    if (bar == std::string::npos) break;
    const size_t n = bar - at;
    EXPECT_EQ(s.substr(bar + 1, n), s.substr(at, n));
    EXPECT_EQ(s[bar + 1 + n], '\n');
    for (size_t i = at; i <= bar; ++i) EXPECT_EQ(ex.answer[i], 0);
    for (size_t i = bar + 1; i < bar + 1 + n; ++i) EXPECT_EQ(ex.answer[i], 1);
    EXPECT_EQ(ex.answer[bar + 1 + n], 0);
    lengths.push_back(static_cast<int64_t>(n));
    at = bar + n + 2;
  }
  for (size_t i = at; i < s.size(); ++i) {
    EXPECT_EQ(s[i], '\n') << "the tail after the last example is newlines";
    EXPECT_EQ(ex.answer[i], 0);
  }
  return lengths;
}

TEST(SyntheticCopy, PackedRowsDrawPayloadsFromTheRange) {
  Rng rng(6);
  std::map<int64_t, int> seen;
  int64_t examples = 0;
  for (int row = 0; row < 2000; ++row) {
    const Example ex = make_copy_row(257, rng, 8, 40);
    expect_mask_shape(ex, 257);
    for (int64_t n : parse_copy_row(ex)) {
      EXPECT_GE(n, 8);
      EXPECT_LE(n, 40);
      ++seen[n];
      ++examples;
    }
  }
  // Every length of the range occurs, about uniformly (33 values).
  EXPECT_EQ(seen.size(), 33u);
  for (const auto& [n, c] : seen) EXPECT_NEAR(c, examples / 33.0, 0.25 * examples / 33.0) << "payload " << n;
  EXPECT_GT(examples, 2000 * 3) << "rows hold several examples";
  // The default range: up to what one row holds, so the longest fills the row.
  EXPECT_EQ(copy_range(257, 1, 0), std::make_pair(int64_t{1}, int64_t{127}));
  EXPECT_THROW(copy_range(257, 1, 128), Error);
  EXPECT_THROW(copy_range(257, 0, 10), Error);
  EXPECT_THROW(copy_range(257, 20, 10), Error);
  EXPECT_THROW(copy_range(3, 1, 0), Error);
}

// Parses "key:vv key:vv ...\n[filler\n]key:vv ..." and checks every query's
// answer digits against its key's value.
void check_mqar(const Example& ex, int64_t expect_pairs) {
  const std::string text = ex.text();
  const size_t nl = text.find('\n');
  ASSERT_NE(nl, std::string::npos);
  std::map<std::string, std::string> kv;
  for (size_t p = 0; p < nl; p += 7) {
    const std::string pair = text.substr(p, 6);
    ASSERT_EQ(pair[3], ':') << pair;
    EXPECT_TRUE(kv.emplace(pair.substr(0, 3), pair.substr(4, 2)).second) << "duplicate key " << pair;
    for (size_t i = p; i < p + 6; ++i) EXPECT_EQ(ex.answer[i], 0);
  }
  EXPECT_EQ(static_cast<int64_t>(kv.size()), expect_pairs);
  // Queries: the last 7N - 1 bytes.
  const size_t qstart = text.size() - (7 * kv.size() - 1);
  std::set<std::string> queried;
  for (size_t p = qstart; p < text.size(); p += 7) {
    const std::string key = text.substr(p, 3);
    ASSERT_TRUE(kv.count(key)) << "query for unknown key " << key;
    EXPECT_EQ(text[p + 3], ':');
    EXPECT_EQ(text.substr(p + 4, 2), kv[key]);
    EXPECT_EQ(ex.answer[p + 3], 0);
    EXPECT_EQ(ex.answer[p + 4], 1);
    EXPECT_EQ(ex.answer[p + 5], 1);
    queried.insert(key);
  }
  EXPECT_EQ(queried.size(), kv.size()) << "every key is queried once";
  EXPECT_EQ(std::count(ex.answer.begin(), ex.answer.end(), 1), 2 * expect_pairs);
}

TEST(SyntheticMqar, AnswersMatchTheirKeys) {
  const std::string text = haystack_text();
  const Haystack h(bytes_of(text));
  Rng rng(3);
  for (int64_t length : {13, 14, 27, 28, 100, 257, 4096}) {
    const Example ex = make_mqar(length, rng, h);
    expect_mask_shape(ex, length);
    check_mqar(ex, (length + 1) / 14);
  }
  // A fixed number of pairs: the rest is filler between pairs and queries.
  const Example far = make_mqar(3000, rng, h, 8);
  expect_mask_shape(far, 3000);
  check_mqar(far, 8);
  // The filler is one window of the haystack text, ending in '\n'.
  const std::string s = far.text();
  const size_t filler_at = s.find('\n') + 1, filler_end = s.size() - (7 * 8 - 1) - 1;
  EXPECT_TRUE(is_window_of(s.substr(filler_at, filler_end - filler_at), text));
  Rng r(1);
  EXPECT_THROW(make_mqar(12, r, h), Error);
  EXPECT_THROW(make_mqar(100, r, h, 8), Error);  // 8 pairs need 111 tokens
}

TEST(SyntheticTasks, NamesAndDispatch) {
  for (const char* name : {"none", "passkey", "copy", "mqar"}) EXPECT_EQ(to_string(parse_synthetic_task(name)), name);
  EXPECT_THROW(parse_synthetic_task("sort"), Error);
  const std::string text = haystack_text();
  const SyntheticOptions opt{Haystack(bytes_of(text)), 2, 9};
  Rng a(9), b(9);
  EXPECT_EQ(make_synthetic(SyntheticTask::MQAR, 500, a, opt).tokens, make_mqar(500, b, opt.haystack).tokens);
  EXPECT_EQ(make_synthetic(SyntheticTask::PASSKEY, 500, a, opt).tokens, make_passkey(500, b, opt.haystack).tokens);
  EXPECT_EQ(make_synthetic(SyntheticTask::COPY, 500, a, opt).tokens, make_copy_row(500, b, 2, 9).tokens);
  EXPECT_THROW(make_synthetic(SyntheticTask::NONE, 500, a, opt), Error);
  EXPECT_EQ(passkey_fixed_bytes(5), 104);
  EXPECT_EQ(synthetic_min_length(SyntheticTask::PASSKEY), 104 + kPasskeyMinHaystack);
  EXPECT_EQ(synthetic_min_length(SyntheticTask::COPY), 4);
  EXPECT_EQ(synthetic_min_length(SyntheticTask::MQAR), 13);
}

}  // namespace
}  // namespace pelab::data
