// Synthetic tasks (datasets/synthetic.h) and the Rng (core/rng.h): every
// example has exactly the asked length and the promised structure, and the
// answer mask marks exactly the answer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

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

// The garbage sentence repeated, joined by spaces, cut to n bytes.
std::string garbage_text(size_t n) {
  std::string g;
  while (g.size() < n) g += (g.empty() ? "" : " ") + std::string(kPasskeyGarbage);
  return g.substr(0, n);
}

void expect_mask_shape(const Example& ex, int64_t length) {
  ASSERT_EQ(static_cast<int64_t>(ex.tokens.size()), length);
  ASSERT_EQ(static_cast<int64_t>(ex.answer.size()), length);
  for (uint8_t a : ex.answer) EXPECT_TRUE(a == 0 || a == 1);
}

TEST(SyntheticPasskey, PromptStructureAndAnswer) {
  Rng rng(1);
  for (int64_t length : {104, 105, 200, 252, 253, 400, 1000, 4096, 20000}) {
    for (int rep = 0; rep < 5; ++rep) {
      const Example ex = make_passkey(length, rng);
      expect_mask_shape(ex, length);
      const std::string text = ex.text();
      const std::string key = std::to_string(ex.passkey);
      EXPECT_GE(ex.passkey, 1);
      EXPECT_LE(ex.passkey, kPasskeyMax);
      // The answer is the key's digits, at the very end, right after the question.
      EXPECT_EQ(ex.answer_text(), key);
      const size_t first_answer = std::find(ex.answer.begin(), ex.answer.end(), 1) - ex.answer.begin();
      EXPECT_EQ(first_answer, text.size() - key.size());
      EXPECT_EQ(text.substr(first_answer - 38, 38), kPasskeyQuestion);
      // The needle, once, with the key twice.
      const std::string needle = "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
      const size_t at = text.find(needle);
      ASSERT_NE(at, std::string::npos) << text;
      EXPECT_EQ(text.find(needle, at + 1), std::string::npos);
      // The intro is there exactly when it fits.
      EXPECT_EQ(text.rfind(kPasskeyIntro, 0) == 0, length >= kPasskeyMinLengthIntro) << length;
      // Garbage before and after the needle is a prefix of the repeated sentence.
      const size_t start = length >= kPasskeyMinLengthIntro ? std::string(kPasskeyIntro).size() + 1 : 0;
      const std::string prefix = text.substr(start, at - 1 - start);
      const size_t suffix_at = at + needle.size() + 1;
      const std::string suffix = text.substr(suffix_at, first_answer - 38 - 1 - suffix_at);
      EXPECT_EQ(prefix, garbage_text(prefix.size()));
      EXPECT_EQ(suffix, garbage_text(suffix.size()));
      EXPECT_EQ(static_cast<int64_t>(prefix.size()), std::llround(ex.depth * (prefix.size() + suffix.size())));
      EXPECT_EQ(text[at - 1], '\n');
      EXPECT_EQ(text[at + needle.size()], '\n');
    }
  }
}

TEST(SyntheticPasskey, UniformDepthAndDeterminism) {
  Rng rng(5);
  double lo = 1, hi = 0, sum = 0;
  std::set<int64_t> keys;
  const int n = 400;
  for (int i = 0; i < n; ++i) {
    const Example ex = make_passkey(2000, rng);
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
  EXPECT_EQ(make_passkey(3000, a).tokens, make_passkey(3000, b).tokens);
  Rng c(1);
  EXPECT_THROW(make_passkey(103, c), Error);
}

TEST(SyntheticCopy, SecondHalfEqualsTheFirst) {
  Rng rng(2);
  for (int64_t length : {3, 4, 11, 64, 257, 1000}) {
    const Example ex = make_copy(length, rng);
    expect_mask_shape(ex, length);
    const int64_t n = (length - 1) / 2;
    EXPECT_EQ(ex.tokens[n], '|');
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(ex.tokens[n + 1 + i], ex.tokens[i]);
      EXPECT_TRUE(std::isalnum(ex.tokens[i]));
      EXPECT_EQ(ex.answer[i], 0);
      EXPECT_EQ(ex.answer[n + 1 + i], 1);
    }
    EXPECT_EQ(ex.answer[n], 0);
    if (length % 2 == 0) {
      EXPECT_EQ(ex.tokens.back(), '\n');
      EXPECT_EQ(ex.answer.back(), 0);
    }
  }
  Rng r(1);
  EXPECT_THROW(make_copy(2, r), Error);
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
  Rng rng(3);
  for (int64_t length : {13, 14, 27, 28, 100, 257, 4096}) {
    const Example ex = make_mqar(length, rng);
    expect_mask_shape(ex, length);
    check_mqar(ex, (length + 1) / 14);
  }
  // A fixed number of pairs: the rest is filler between pairs and queries.
  const Example far = make_mqar(3000, rng, 8);
  expect_mask_shape(far, 3000);
  check_mqar(far, 8);
  EXPECT_NE(far.text().find("The grass is green."), std::string::npos);
  Rng r(1);
  EXPECT_THROW(make_mqar(12, r), Error);
  EXPECT_THROW(make_mqar(100, r, 8), Error);  // 8 pairs need 111 tokens
}

TEST(SyntheticTasks, NamesAndDispatch) {
  for (const char* name : {"none", "passkey", "copy", "mqar"}) EXPECT_EQ(to_string(parse_synthetic_task(name)), name);
  EXPECT_THROW(parse_synthetic_task("sort"), Error);
  Rng a(9), b(9);
  EXPECT_EQ(make_synthetic(SyntheticTask::MQAR, 500, a).tokens, make_mqar(500, b).tokens);
  EXPECT_THROW(make_synthetic(SyntheticTask::NONE, 500, a), Error);
  EXPECT_EQ(synthetic_min_length(SyntheticTask::PASSKEY), 104);
  EXPECT_EQ(synthetic_min_length(SyntheticTask::COPY), 3);
  EXPECT_EQ(synthetic_min_length(SyntheticTask::MQAR), 13);
}

}  // namespace
}  // namespace pelab::data
