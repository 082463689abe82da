// The length-generalisation tasks (datasets/tasks.h): every answer is checked
// by an independent computation from the input, lengths mean what the task
// says, seeds reproduce, packed rows mark exactly the answers, training rows
// and the batcher score only answers, and bad lengths fail with one clear line.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "core/error.h"
#include "core/rng.h"
#include "datasets/batcher.h"
#include "datasets/dataset.h"
#include "datasets/tasks.h"

namespace pelab::data {
namespace {

using u128 = unsigned __int128;

// Little-endian binary to an integer (at most 127 bits), and back.
u128 from_le(const std::string& s) {
  u128 v = 0;
  for (size_t i = s.size(); i-- > 0;) v = v * 2 + static_cast<u128>(s[i] - '0');
  return v;
}
std::string to_le(u128 v) {
  std::string s;
  do s.push_back(static_cast<char>('0' + static_cast<int>(v % 2))), v /= 2;
  while (v);
  return s;
}
std::string to_dec(u128 v) {
  std::string s;
  do s.push_back(static_cast<char>('0' + static_cast<int>(v % 10))), v /= 10;
  while (v);
  return {s.rbegin(), s.rend()};
}

// Modular arithmetic by a two-stack shunting-yard parse, a different method
// from the generator's single pass.
int mod5(const std::string& e) {
  std::vector<int> vals;
  std::vector<char> ops;
  auto prec = [](char c) { return c == '*' ? 2 : 1; };
  auto apply = [&] {
    const int b = vals.back();
    vals.pop_back();
    const int a = vals.back();
    vals.pop_back();
    const char op = ops.back();
    ops.pop_back();
    vals.push_back(op == '*' ? a * b % 5 : op == '+' ? (a + b) % 5 : ((a - b) % 5 + 5) % 5);
  };
  for (char c : e) {
    if (c >= '0' && c <= '9') {
      vals.push_back(c - '0');
      continue;
    }
    while (!ops.empty() && prec(ops.back()) >= prec(c)) apply();
    ops.push_back(c);
  }
  while (!ops.empty()) apply();
  return vals.back();
}

// RULER's noise haystack: what is left of a haystack task's input once its
// needles, statements and question are cut out must be exactly L of these.
std::string noise(int64_t L) {
  static const char* kNoise[] = {"The grass is green. ", "The sky is blue. ", "The sun is yellow. ", "Here we go. ",
                                 "There and back again. "};
  std::string s;
  for (int64_t i = 0; i < L; ++i) s += kNoise[i % 5];
  return s;
}
const std::regex kNeedle("The code of ([a-z]{3}) is ([0-9]{4})\\. ");
const std::regex kVar("VAR ([a-z]{3}): (VAR ([a-z]{3})|([0-9]{5}))\\. ");

// The answer an independent solver gives; "" when it cannot (too many bits).
std::string solve(TaskKind t, const std::string& in) {
  switch (t) {
    case TaskKind::PARITY: return std::count(in.begin(), in.end(), '1') % 2 ? "1" : "0";
    case TaskKind::MODULAR_ARITHMETIC: return std::to_string(mod5(in));
    case TaskKind::REVERSE_STRING:
    case TaskKind::REVERSE: return {in.rbegin(), in.rend()};
    case TaskKind::DUPLICATE_STRING: return in + in;
    case TaskKind::MISSING_DUPLICATE: {
      const std::string s = in.size() % 2 ? in.substr(0, in.size() - 1) : in;
      const size_t at = s.find('_'), n = s.size() / 2;
      return std::string(1, s[at < n ? at + n : at - n]);
    }
    case TaskKind::BINARY_ADDITION:
    case TaskKind::BINARY_MULTIPLICATION: {
      const size_t op = in.find_first_of("+*");
      const std::string a = in.substr(0, op), b = in.substr(op + 1);
      if (a.size() + b.size() > 120) return "";
      return to_le(in[op] == '+' ? from_le(a) + from_le(b) : from_le(a) * from_le(b));
    }
    case TaskKind::BUCKET_SORT:
    case TaskKind::SORT: {
      std::string s = in;
      std::stable_sort(s.begin(), s.end());
      return s;
    }
    case TaskKind::COPY: return in;
    case TaskKind::ADDITION: {
      const size_t op = in.find('+');
      if (op > 36) return "";
      u128 a = 0, b = 0;
      for (size_t i = 0; i < op; ++i) a = a * 10 + static_cast<u128>(in[i] - '0');
      for (size_t i = op + 1; i < in.size(); ++i) b = b * 10 + static_cast<u128>(in[i] - '0');
      return to_dec(a + b);
    }
    case TaskKind::SUMMATION: {
      int s = 0;
      for (char c : in) s += c - '0';
      return std::to_string(s % 10);
    }
    case TaskKind::FLIP_FLOP: {
      char last = 0;
      for (size_t i = 0; i + 1 < in.size(); i += 2) {
        if (in[i] == 'w') last = in[i + 1];
        if (in[i] == 'r') {
          EXPECT_EQ(in[i + 1], last) << "a middle read shows the last written bit: " << in;
        }
      }
      return std::string(1, last);
    }
    case TaskKind::COUNTING: {
      std::map<char, int> value;
      for (size_t i = 0; i + 2 < in.size(); i += 2) {
        const char x = in[i], op = in[i + 1];
        if (x == '.') continue;
        if (op == '0') value[x] = 0;
        else {
          EXPECT_TRUE(value.count(x)) << "an increment of an unset variable: " << in;
          EXPECT_LT(value[x], 10) << "a value past 10: " << in;
          ++value[x];
        }
      }
      EXPECT_EQ(in[in.size() - 2], '?');
      EXPECT_TRUE(value.count(in.back())) << "the query names a set variable: " << in;
      return std::to_string(value[in.back()]);
    }
    case TaskKind::SELECTIVE_COPY: {
      std::string s;
      std::copy_if(in.begin(), in.end(), std::back_inserter(s), [](char c) { return c != '.'; });
      EXPECT_EQ(s.size(), (in.size() + 3) / 4) << in;
      return s;
    }
    case TaskKind::LEGO: {
      // clause by clause into a map; then walk the chain from the clause on 1
      std::map<char, std::pair<char, char>> rule;  // x -> (sign, operand)
      for (size_t i = 0; i < in.size(); i += 5) rule[in[i]] = {in[i + 2], in[i + 3]};
      std::map<char, char> next;
      char x = 0;
      for (const auto& [y, r] : rule) (r.second == '1' ? x : next[r.second]) = y;
      std::string s;
      int v = 1;
      for (size_t k = 0; k < rule.size(); ++k, x = next[x]) {
        v = rule[x].first == '+' ? v : -v;
        s += x, s += v > 0 ? '+' : '-';
      }
      return s;
    }
    case TaskKind::INDEX_HINT_ADDITION: {
      const size_t op = in.find('+');
      const std::string a = in.substr(0, op), b = in.substr(op + 1);
      if (a.size() / 2 > 36) return "";
      EXPECT_EQ(a.size(), b.size());
      u128 x = 0, y = 0;
      std::string hints;
      for (size_t i = a.size(); i >= 2; i -= 2) {  // least significant first: read from the back
        x = x * 10 + static_cast<u128>(a[i - 1] - '0'), y = y * 10 + static_cast<u128>(b[i - 1] - '0');
        EXPECT_EQ(a[i - 2], b[i - 2]) << "both operands carry the same hints";
      }
      for (size_t i = 0; i < a.size(); i += 2) hints += a[i];
      const std::string sum = to_dec(x + y);
      const std::string all = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
      const size_t start = all.find(hints);
      EXPECT_NE(start, std::string::npos) << "the hints are a run of consecutive letters: " << in;
      std::string s;
      for (size_t i = 0; i < sum.size(); ++i) s += all[start + i], s += sum[sum.size() - 1 - i];
      return s;
    }
    case TaskKind::NIAH_MULTIKEY:
    case TaskKind::NIAH_MULTIVALUE:
    case TaskKind::NIAH_MULTIQUERY: {
      std::vector<std::pair<std::string, std::string>> needles;  // (key, code) in order of appearance
      for (std::sregex_iterator m(in.begin(), in.end(), kNeedle), end; m != end; ++m)
        needles.emplace_back((*m)[1].str(), (*m)[2].str());
      EXPECT_EQ(needles.size(), 4u) << in;
      std::smatch q;
      const std::string question = in.substr(in.rfind(". ") + 2);
      EXPECT_TRUE(std::regex_match(question, q, std::regex("Codes? of ([a-z]{3})(,([a-z]{3}))?\\?"))) << question;
      auto code_of = [&](const std::string& key) {
        std::string codes;
        for (const auto& [k, c] : needles)
          if (k == key) codes += (codes.empty() ? "" : ",") + c;
        return codes;
      };
      return q[3].matched ? code_of(q[1]) + "," + code_of(q[3]) : code_of(q[1]);
    }
    case TaskKind::VARIABLE_TRACKING: {
      std::map<std::string, std::string> value;
      std::vector<std::string> order;
      for (std::sregex_iterator m(in.begin(), in.end(), kVar), end; m != end; ++m) {
        const std::string x = (*m)[1];
        EXPECT_TRUE((*m)[4].matched || value.count((*m)[3])) << "a hop after the statement it reads: " << in;
        value[x] = (*m)[4].matched ? (*m)[4].str() : value[(*m)[3]];
        order.push_back(x);
      }
      EXPECT_EQ(order.size(), 10u) << in;
      const std::string v = in.substr(in.rfind("Vars with ") + 10, 5);
      std::string s;
      for (const auto& x : order)
        if (value[x] == v) s += (s.empty() ? "" : ",") + x;
      return s;
    }
    case TaskKind::COMMON_WORDS: {
      std::map<std::string, int> count;
      std::vector<std::string> first;
      const std::string words = in.substr(0, in.size() - std::string(" Most common?").size());
      for (size_t i = 0; i < words.size(); i += 5) {
        const std::string w = words.substr(i, 4);
        if (count[w]++ == 0) first.push_back(w);
      }
      std::string s;
      for (const auto& w : first) {
        EXPECT_TRUE(count[w] == 1 || count[w] == 4) << w;
        if (count[w] == 4) s += (s.empty() ? "" : ",") + w;
      }
      return s;
    }
  }
  return "";
}

// L as the input shows it, for the tasks whose input length varies.
int64_t shown_length(TaskKind t, const std::string& in) {
  if (t == TaskKind::COMMON_WORDS) return static_cast<int64_t>(in.size() - 12) / 5 - 12;
  std::string hay = std::regex_replace(in, t == TaskKind::VARIABLE_TRACKING ? kVar : kNeedle, "");
  hay = hay.substr(0, hay.rfind(". ") + 2);  // the question goes
  int64_t L = 0;
  for (size_t at = hay.find(". "); at != std::string::npos; at = hay.find(". ", at + 1)) ++L;
  EXPECT_EQ(hay, noise(L)) << "the haystack is not RULER's noise sentences";
  return L;
}

// The input length the task's L implies, and its alphabet.
size_t input_bytes(TaskKind t, int64_t L) {
  switch (t) {
    case TaskKind::ADDITION: return static_cast<size_t>(2 * L + 1);
    case TaskKind::FLIP_FLOP: return static_cast<size_t>(2 * L - 1);
    case TaskKind::COUNTING: return static_cast<size_t>(2 * L + 2);
    case TaskKind::LEGO: return static_cast<size_t>(5 * L - 1);
    case TaskKind::INDEX_HINT_ADDITION: return static_cast<size_t>(4 * L + 1);
    case TaskKind::NIAH_MULTIKEY:
    case TaskKind::NIAH_MULTIVALUE:
    case TaskKind::NIAH_MULTIQUERY:
    case TaskKind::VARIABLE_TRACKING:
    case TaskKind::COMMON_WORDS: return 0;  // varies: shown_length() reads L back
    case TaskKind::SELECTIVE_COPY:
    case TaskKind::PARITY:
    case TaskKind::MODULAR_ARITHMETIC:
    case TaskKind::REVERSE_STRING:
    case TaskKind::DUPLICATE_STRING:
    case TaskKind::MISSING_DUPLICATE:
    case TaskKind::BINARY_ADDITION:
    case TaskKind::BINARY_MULTIPLICATION:
    case TaskKind::BUCKET_SORT:
    case TaskKind::COPY:
    case TaskKind::REVERSE:
    case TaskKind::SUMMATION:
    case TaskKind::SORT: return static_cast<size_t>(L);
  }
  return 0;
}

TEST(Tasks, EveryAnswerIsRightAndEveryLengthMeansWhatItSays) {
  for (const TaskInfo& info : all_tasks()) {
    SCOPED_TRACE(info.name);
    EXPECT_EQ(parse_task(info.name), info.kind);
    std::vector<int64_t> lengths;
    for (int64_t L = info.train_min; L <= info.train_max; ++L) lengths.push_back(L);
    for (int64_t L = info.train_max + 1; L <= info.train_max + 10; ++L) lengths.push_back(L);  // just past the range
    for (int64_t L : {100, 501}) lengths.push_back(L);
    Rng rng(11);
    int64_t checked = 0;
    for (int64_t L : lengths) {
      if (!task_length_problem(info.kind, L).empty()) continue;
      for (int k = 0; k < 20; ++k) {
        const TaskExample ex = make_task_example(info.kind, L, rng);
        if (input_bytes(info.kind, L) > 0) {
          ASSERT_EQ(ex.input.size(), input_bytes(info.kind, L)) << ex.input;
        } else {
          ASSERT_EQ(shown_length(info.kind, ex.input), L) << ex.input;
        }
        EXPECT_EQ(ex.length, L);
        EXPECT_LE(static_cast<int64_t>(ex.text().size()), task_max_bytes(info.kind, L)) << ex.text();
        EXPECT_EQ(ex.input.find_first_of("=\n"), std::string::npos) << "the input holds no separator";
        EXPECT_EQ(ex.answer.find_first_of("=\n"), std::string::npos);
        ASSERT_FALSE(ex.answer.empty());
        const std::string want = solve(info.kind, ex.input);
        if (want.empty()) continue;
        EXPECT_EQ(ex.answer, want) << "input " << ex.input;
        ++checked;
      }
    }
    EXPECT_GT(checked, 200) << "the solver checked too few examples";
  }
}

TEST(Tasks, BinaryOperandsAreNonzeroAndAnswersHaveNoHighZeros) {
  Rng rng(3);
  for (TaskKind t : {TaskKind::BINARY_ADDITION, TaskKind::BINARY_MULTIPLICATION}) {
    std::set<size_t> split_points;
    for (int k = 0; k < 500; ++k) {
      const TaskExample ex = make_task_example(t, 12, rng);
      const size_t op = ex.input.find_first_of("+*");
      split_points.insert(op);
      EXPECT_NE(ex.input.substr(0, op).find('1'), std::string::npos);
      EXPECT_NE(ex.input.substr(op + 1).find('1'), std::string::npos);
      EXPECT_EQ(ex.answer.back(), '1') << "little-endian without high zeros";
    }
    EXPECT_EQ(split_points.size(), 10u) << "the first operand's length is uniform in 1..L-2";
  }
}

TEST(Tasks, SeedsReproduceAndDiffer) {
  for (const TaskInfo& info : all_tasks()) {
    Rng a(5), b(5), c(6);
    const int64_t L = info.train_max | 1;  // odd: every task builds it
    const TaskExample x = make_task_example(info.kind, L, a), y = make_task_example(info.kind, L, b);
    EXPECT_EQ(x.text(), y.text()) << info.name;
    std::set<std::string> seen;
    for (int k = 0; k < 20; ++k) seen.insert(make_task_example(info.kind, L, c).text());
    EXPECT_GT(seen.size(), 1u) << info.name << ": the examples do not vary";
  }
}

TEST(Tasks, TokensMarkTheAnswerAndItsNewline) {
  Rng rng(1);
  const TaskExample ex = make_task_example(TaskKind::DUPLICATE_STRING, 7, rng);
  const Example e = task_tokens(ex);
  ASSERT_EQ(e.tokens.size(), 7u + 1 + 14 + 1);
  EXPECT_EQ(e.answer_offset, 8);
  EXPECT_EQ(e.tokens[7], '=');
  for (size_t i = 0; i < e.tokens.size(); ++i) EXPECT_EQ(e.answer[i], i >= 8 ? 1 : 0) << i;
  EXPECT_EQ(e.answer_text(), ex.answer + "\n");
}

TEST(Tasks, RowsArePackedWithWholeExamplesOfUniformLength) {
  for (TaskKind t : {TaskKind::PARITY, TaskKind::MODULAR_ARITHMETIC, TaskKind::ADDITION, TaskKind::FLIP_FLOP}) {
    const TaskInfo& info = task_info(t);
    SCOPED_TRACE(info.name);
    Rng rng(9);
    std::map<int64_t, int64_t> count;
    const int64_t row = 4 * task_max_bytes(t, info.train_max);
    for (int r = 0; r < 300; ++r) {
      const Example e = make_task_row(t, row, rng, info.train_min, info.train_max);
      ASSERT_EQ(static_cast<int64_t>(e.tokens.size()), row);
      ASSERT_EQ(e.answer.size(), e.tokens.size());
      // Walk the row: examples 'input=answer\n' until the unscored '\n' tail.
      const std::string s(e.tokens.begin(), e.tokens.end());
      size_t at = 0;
      while (at < s.size() && s[at] != '\n') {
        const size_t eq = s.find('=', at), nl = s.find('\n', eq);
        ASSERT_NE(nl, std::string::npos);
        for (size_t i = at; i <= nl; ++i) ASSERT_EQ(e.answer[i], i > eq ? 1 : 0) << s;
        const std::string in = s.substr(at, eq - at);
        EXPECT_EQ(s.substr(eq + 1, nl - eq - 1), solve(t, in));
        const int64_t L = t == TaskKind::ADDITION ? static_cast<int64_t>(in.find('+'))
                          : t == TaskKind::FLIP_FLOP ? static_cast<int64_t>(in.size() + 1) / 2
                                                     : static_cast<int64_t>(in.size());
        ++count[L];
        at = nl + 1;
      }
      for (size_t i = at; i < s.size(); ++i) ASSERT_TRUE(s[i] == '\n' && e.answer[i] == 0) << "tail: " << s;
    }
    int64_t total = 0, lo = 1 << 30, hi = 0;
    for (auto [L, c] : count) total += c, lo = std::min(lo, c), hi = std::max(hi, c);
    const int64_t buildable = t == TaskKind::MODULAR_ARITHMETIC ? 20 : info.train_max - info.train_min + 1;
    EXPECT_EQ(static_cast<int64_t>(count.size()), buildable) << "every buildable length appears";
    if (t == TaskKind::MODULAR_ARITHMETIC) {
      for (auto [L, c] : count) EXPECT_EQ(L % 2, 1);
    }
    const double mean = static_cast<double>(total) / static_cast<double>(buildable);
    EXPECT_GT(static_cast<double>(lo), 0.5 * mean) << "lengths are drawn uniformly";
    EXPECT_LT(static_cast<double>(hi), 1.6 * mean);
  }
}

TEST(Tasks, BadLengthsFailWithOneClearLine) {
  Rng rng(1);
  EXPECT_THROW(parse_task("parity-check"), Error);
  try {
    parse_task("nope");
  } catch (const Error& e) {
    EXPECT_NE(e.hint().find("bucket-sort"), std::string::npos) << "the error lists the tasks";
  }
  EXPECT_THROW(make_task_example(TaskKind::BINARY_ADDITION, 2, rng), Error);
  EXPECT_THROW(make_task_example(TaskKind::MODULAR_ARITHMETIC, 8, rng), Error);
  EXPECT_NE(task_length_problem(TaskKind::MODULAR_ARITHMETIC, 8).find("odd"), std::string::npos);
  EXPECT_THROW(make_task_example(TaskKind::PARITY, 0, rng), Error);
  EXPECT_THROW(check_task_range(TaskKind::PARITY, 5, 4, 100), Error);
  EXPECT_THROW(check_task_range(TaskKind::DUPLICATE_STRING, 1, 40, 100), Error) << "122 bytes do not fit 100";
  EXPECT_NO_THROW(check_task_range(TaskKind::DUPLICATE_STRING, 1, 40, 122));
  EXPECT_THROW(check_task_range(TaskKind::MODULAR_ARITHMETIC, 4, 4, 100), Error);
  EXPECT_NO_THROW(check_task_range(TaskKind::MODULAR_ARITHMETIC, 4, 5, 100));
  EXPECT_THROW(make_task_example(TaskKind::COUNTING, 2, rng), Error);
  EXPECT_THROW(make_task_example(TaskKind::LEGO, 53, rng), Error);
  EXPECT_NE(task_length_problem(TaskKind::LEGO, 53).find("52 letters"), std::string::npos);
  EXPECT_NO_THROW(make_task_example(TaskKind::LEGO, 52, rng));
  EXPECT_THROW(make_task_example(TaskKind::INDEX_HINT_ADDITION, 52, rng), Error);
  EXPECT_NO_THROW(make_task_example(TaskKind::INDEX_HINT_ADDITION, 51, rng));
  EXPECT_THROW(check_task_range(TaskKind::LEGO, 1, 60, 1000), Error);
}

// What the exact-answer check cannot see: that the examples vary the way the
// task means them to, so that a model cannot pass with a shortcut.
TEST(Tasks, NewerTasksVaryWhereTheyMust) {
  Rng rng(17);
  std::set<std::string> counts;
  int nonzero = 0;
  for (int k = 0; k < 400; ++k) {
    const TaskExample ex = make_task_example(TaskKind::COUNTING, 64, rng);
    counts.insert(ex.answer);
    nonzero += ex.answer != "0";
  }
  EXPECT_GE(counts.size(), 6u) << "counting answers spread over 0..10";
  EXPECT_GT(nonzero, 200) << "most queried variables were incremented";

  int shuffled = 0;
  for (int k = 0; k < 100; ++k) {
    const TaskExample ex = make_task_example(TaskKind::LEGO, 6, rng);
    shuffled += ex.input.rfind(ex.answer.substr(0, 1) + ":", 0) != 0;  // the chain's root is not shown first
  }
  EXPECT_GT(shuffled, 60) << "the chain's first clause is not always shown first";

  std::set<char> starts;
  for (int k = 0; k < 200; ++k) starts.insert(make_task_example(TaskKind::INDEX_HINT_ADDITION, 5, rng).input[0]);
  EXPECT_GT(starts.size(), 30u) << "the hints start anywhere in a-z, A-Z (47 starts for L = 5)";
  EXPECT_FALSE(starts.count('Z')) << "a run of 6 hints (carry included) cannot start at the last letter";

  std::set<size_t> places;
  for (int k = 0; k < 200; ++k) places.insert(make_task_example(TaskKind::SELECTIVE_COPY, 40, rng).input.find_first_not_of('.'));
  EXPECT_GT(places.size(), 5u) << "the letters sit at random places";

  // The queried needle sits at any depth of the haystack, and either chain is asked for.
  bool shallow = false, deep = false;
  std::set<std::string> firsts;
  for (int k = 0; k < 200; ++k) {
    const TaskExample ex = make_task_example(TaskKind::NIAH_MULTIKEY, 32, rng);
    const std::string key = ex.input.substr(ex.input.rfind("Code of ") + 8, 3);
    const double depth = static_cast<double>(ex.input.find("The code of " + key)) / static_cast<double>(ex.input.size());
    shallow |= depth < 0.2, deep |= depth > 0.8;
    const TaskExample vt = make_task_example(TaskKind::VARIABLE_TRACKING, 32, rng);
    firsts.insert(vt.input.find("VAR " + vt.answer.substr(0, 3)) == vt.input.find("VAR ") ? "first" : "second");
  }
  EXPECT_TRUE(shallow && deep) << "the queried needle is found near both ends";
  EXPECT_EQ(firsts.size(), 2u) << "the queried chain starts first in some examples, second in others";
}

TEST(Tasks, BatcherTrainsOnAnswersOnly) {
  Split train;
  train.tokens.assign(1000, 'x');
  train.offsets = {0, 1000};
  train.names = {"unused"};
  BatcherOptions o;
  o.length = 127;
  o.seed = 4;
  o.has_task = true;
  o.task = TaskKind::REVERSE_STRING;
  o.task_min = 1, o.task_max = 40;
  Batcher b(train, o);
  const Batch batch = b.next(8);
  int64_t scored = 0;
  for (int64_t i = 0; i < batch.B * batch.T; ++i) {
    if (batch.answer[i]) {
      EXPECT_GE(batch.targets[i], 0);
      ++scored;
    } else {
      EXPECT_EQ(batch.targets[i], -1) << "only answers are scored";
    }
    if (i % batch.T + 1 < batch.T && batch.targets[i] >= 0) {
      EXPECT_EQ(batch.targets[i], batch.inputs[i + 1]);
    }
    EXPECT_NE(batch.inputs[i], 'x') << "a task row reads no split text";
  }
  EXPECT_GT(scored, 8 * 20);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(batch.synthetic[i], 1);
  o.task_max = 64;  // 130 bytes > 128
  EXPECT_THROW(Batcher(train, o), Error);
  o.task_max = 40;
  o.synthetic = SyntheticTask::COPY, o.synthetic_rate = 0.5;
  EXPECT_THROW(Batcher(train, o), Error) << "a task dataset trains on the task alone";
}

TEST(Tasks, CorpusSplitsWholeExamples) {
  const Corpus c = task_corpus(TaskKind::PARITY, 1, 40, 10, 2000, 1);
  ASSERT_EQ(c.docs.size(), 10u);
  EXPECT_EQ(c.name, "task:parity");
  for (const auto& d : c.docs) {
    EXPECT_LE(d.text.size(), 2000u);
    EXPECT_GT(d.text.size(), 1900u);
    EXPECT_EQ(d.text.back(), '\n');
  }
  const Dataset ds = make_dataset(c, {});
  EXPECT_EQ(ds.train.num_docs() + ds.val.num_docs() + ds.test.num_docs(), 10);
  EXPECT_THROW(task_corpus(TaskKind::PARITY, 1, 40, 2, 2000, 1), Error);
}

}  // namespace
}  // namespace pelab::data
