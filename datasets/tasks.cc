#include "datasets/tasks.h"

#include <algorithm>

#include "core/error.h"

namespace pelab::data {

namespace {

std::string symbols(int64_t n, const char* alphabet, int64_t size, Rng& rng) {
  std::string s(static_cast<size_t>(n), ' ');
  for (auto& c : s) c = alphabet[rng.below(static_cast<uint64_t>(size))];
  return s;
}
std::string bits(int64_t n, Rng& rng) { return symbols(n, "01", 2, rng); }

// A little-endian binary number of exactly n bits, uniform in [1, 2^n - 1]
// (the reference draws randint(1, 2^n - 1) and writes it zero-filled to n bits).
std::string nonzero_bits(int64_t n, Rng& rng) {
  for (;;) {
    std::string s = bits(n, rng);
    if (s.find('1') != std::string::npos) return s;
  }
}

// Little-endian binary strings, as vectors of 0/1, without high zeros.
std::string strip_high_zeros(std::string s) {
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  return s;
}
std::string add_binary(const std::string& a, const std::string& b) {
  std::string s;
  int carry = 0;
  for (size_t i = 0; i < std::max(a.size(), b.size()) || carry; ++i) {
    const int v = (i < a.size() ? a[i] - '0' : 0) + (i < b.size() ? b[i] - '0' : 0) + carry;
    s.push_back(static_cast<char>('0' + (v & 1)));
    carry = v >> 1;
  }
  return strip_high_zeros(s);
}
std::string multiply_binary(const std::string& a, const std::string& b) {
  std::vector<int> acc(a.size() + b.size() + 1, 0);
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != '1') continue;
    int carry = 0;
    for (size_t j = 0; j < b.size() || carry; ++j) {
      const int v = acc[i + j] + (j < b.size() ? b[j] - '0' : 0) + carry;
      acc[i + j] = v & 1;
      carry = v >> 1;
    }
  }
  std::string s;
  for (int v : acc) s.push_back(static_cast<char>('0' + v));
  return strip_high_zeros(s);
}
// Decimal strings, most significant digit first.
std::string add_decimal(const std::string& a, const std::string& b) {
  std::string s;
  int carry = 0;
  for (size_t i = 0; i < std::max(a.size(), b.size()) || carry; ++i) {
    const int x = i < a.size() ? a[a.size() - 1 - i] - '0' : 0;
    const int y = i < b.size() ? b[b.size() - 1 - i] - '0' : 0;
    const int v = x + y + carry;
    s.push_back(static_cast<char>('0' + v % 10));
    carry = v / 10;
  }
  std::reverse(s.begin(), s.end());
  return s;
}
std::string decimal(int64_t n, Rng& rng) {
  std::string s = symbols(n, "0123456789", 10, rng);
  if (n > 1 && s[0] == '0') s[0] = static_cast<char>('1' + rng.below(9));  // no leading zero: n digits exactly
  return s;
}

// numbers (0-4) at even positions, operators at odd ones; products bind first
// and a '-' negates the term after it, as in the reference.
int64_t evaluate_mod5(const std::string& e) {
  int64_t sum = 0, term = e[0] - '0';
  for (size_t i = 1; i + 1 < e.size(); i += 2) {
    const int64_t v = e[i + 1] - '0';
    switch (e[i]) {
      case '*': term = term * v % 5; break;
      case '+': sum += term, term = v; break;
      case '-': sum += term, term = 5 - v; break;  // + (-v) mod 5
      default: throw Error("bad operator in a modular-arithmetic expression", "this is a bug in pelab");
    }
  }
  return (sum + term) % 5;
}

// The index hints of index-hint-addition: one symbol per digit place, a run
// of consecutive ones from a random start, the same run for both operands and
// the sum (arXiv 2402.09371 after Zhou et al., arXiv 2310.16028).
constexpr char kHints[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr int64_t kHintCount = sizeof(kHints) - 1;  // 52: L <= 51 leaves one for the carry
constexpr int64_t kLegoVariables = kHintCount;      // LEGO names its variables with the same 52 letters

// k distinct positions of [0, n), ascending, by a partial Fisher-Yates shuffle.
std::vector<int64_t> distinct_positions(int64_t k, int64_t n, Rng& rng) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  for (int64_t i = 0; i < k; ++i)
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(rng.uniform_int(i, n - 1))]);
  idx.resize(static_cast<size_t>(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}

template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

// Counting after facebookresearch/RAM projects/cope/scripts/count_data_gen.py:
// each statement draws set (weight 1), pass (50) or increment (7); a set
// zeroes a variable of a-c, an increment picks a variable already set and is
// redrawn when none is or when it would pass 10; the query names a set
// variable, and an example with none is drawn again. Two bytes a statement.
void make_counting(int64_t L, Rng& rng, std::string& in, std::string& out) {
  constexpr int kVars = 3, kMax = 10;
  for (;;) {
    in.clear();
    int value[kVars] = {-1, -1, -1};  // -1: not set
    // A variable already set, uniformly; -1 when none is (nothing drawn then).
    auto pick_set = [&] {
      int set[kVars], n = 0;
      for (int v = 0; v < kVars; ++v)
        if (value[v] >= 0) set[n++] = v;
      return n == 0 ? -1 : set[rng.below(static_cast<uint64_t>(n))];
    };
    for (int64_t s = 0; s < L; ++s) {
      for (;;) {
        const uint64_t u = rng.below(58);
        if (u < 1) {
          const int v = static_cast<int>(rng.below(kVars));
          value[v] = 0;
          in += static_cast<char>('a' + v), in += '0';
          break;
        }
        if (u < 51) {
          in += "..";
          break;
        }
        const int v = pick_set();
        if (v < 0 || value[v] + 1 > kMax) continue;
        ++value[v];
        in += static_cast<char>('a' + v), in += '+';
        break;
      }
    }
    const int v = pick_set();
    if (v < 0) continue;
    in += '?', in += static_cast<char>('a' + v);
    out = std::to_string(value[v]);
    return;
  }
}

// RULER's "noise" haystack (arXiv 2404.06654): five sentences repeated, which
// RULER uses for its variable-tracking task and as one of its needle
// haystacks; it needs no corpus, so these tasks draw from a seed alone.
constexpr const char* kNoise[] = {"The grass is green. ", "The sky is blue. ", "The sun is yellow. ", "Here we go. ",
                                  "There and back again. "};
constexpr int64_t kNoiseMaxBytes = 22;
constexpr int kNeedles = 4;

// n distinct three-letter lowercase names.
std::vector<std::string> distinct_names(int n, Rng& rng) {
  std::vector<std::string> names;
  while (static_cast<int>(names.size()) < n) {
    const std::string s = symbols(3, "abcdefghijklmnopqrstuvwxyz", 26, rng);
    if (std::find(names.begin(), names.end(), s) == names.end()) names.push_back(s);
  }
  return names;
}

// n distinct integers of [lo, hi], as decimal strings.
std::vector<std::string> distinct_numbers(int n, int64_t lo, int64_t hi, Rng& rng) {
  std::vector<std::string> v;
  while (static_cast<int>(v.size()) < n) {
    const std::string s = std::to_string(rng.uniform_int(lo, hi));
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
  }
  return v;
}

// L noise sentences with each insert placed before sentence `position`
// (0..L, L: after the last); inserts at one boundary keep their order.
std::string haystack_with(int64_t L, std::vector<std::pair<int64_t, std::string>> inserts) {
  std::stable_sort(inserts.begin(), inserts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string s;
  size_t j = 0;
  for (int64_t i = 0; i <= L; ++i) {
    while (j < inserts.size() && inserts[j].first == i) s += inserts[j++].second;
    if (i < L) s += kNoise[i % 5];
  }
  return s;
}

// n boundaries of L noise sentences, uniform over 0..L, ascending.
std::vector<int64_t> boundaries(int n, int64_t L, Rng& rng) {
  std::vector<int64_t> at(static_cast<size_t>(n));
  for (auto& a : at) a = rng.uniform_int(0, L);
  std::sort(at.begin(), at.end());
  return at;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string needle(const std::string& key, const std::string& code) { return "The code of " + key + " is " + code + ". "; }

// The three needle tasks share their haystack and needles; they differ in
// which keys and codes the needles carry and what is asked.
void make_niah(TaskKind t, int64_t L, Rng& rng, std::string& in, std::string& out) {
  const std::vector<std::string> codes = distinct_numbers(kNeedles, 1000, 9999, rng);
  std::vector<std::string> keys = distinct_names(kNeedles, rng);
  if (t == TaskKind::NIAH_MULTIVALUE) keys.assign(kNeedles, keys[0]);
  const std::vector<int64_t> at = boundaries(kNeedles, L, rng);
  std::vector<std::pair<int64_t, std::string>> inserts;
  for (int i = 0; i < kNeedles; ++i) inserts.emplace_back(at[static_cast<size_t>(i)], needle(keys[static_cast<size_t>(i)], codes[static_cast<size_t>(i)]));
  in = haystack_with(L, inserts);
  if (t == TaskKind::NIAH_MULTIVALUE) {
    in += "Codes of " + keys[0] + "?";
    out = join(codes, ",");  // the needles appear in code order: their boundaries ascend
    return;
  }
  const size_t q = rng.below(kNeedles);
  if (t == TaskKind::NIAH_MULTIKEY) {
    in += "Code of " + keys[q] + "?";
    out = codes[q];
    return;
  }
  size_t r = rng.below(kNeedles - 1);
  if (r >= q) ++r;  // a second, different key
  in += "Codes of " + keys[q] + "," + keys[r] + "?";
  out = codes[q] + "," + codes[r];
}

// Two chains VAR x0: V, VAR x1: VAR x0, ... (4 hops each), each in order,
// interleaved at random boundaries; the question names one chain's value.
void make_variable_tracking(int64_t L, Rng& rng, std::string& in, std::string& out) {
  constexpr int kChains = 2, kHops = 4;
  const std::vector<std::string> names = distinct_names(kChains * (kHops + 1), rng);
  const std::vector<std::string> values = distinct_numbers(kChains, 10000, 99999, rng);
  std::vector<std::pair<int64_t, std::string>> inserts;
  for (int c = 0; c < kChains; ++c) {
    const std::vector<int64_t> at = boundaries(kHops + 1, L, rng);
    for (int h = 0; h <= kHops; ++h) {
      const std::string& x = names[static_cast<size_t>(c * (kHops + 1) + h)];
      inserts.emplace_back(at[static_cast<size_t>(h)],
                           "VAR " + x + ": " + (h == 0 ? values[static_cast<size_t>(c)] : "VAR " + names[static_cast<size_t>(c * (kHops + 1) + h - 1)]) + ". ");
    }
  }
  in = haystack_with(L, inserts);
  const size_t q = rng.below(kChains);
  in += "Vars with " + values[q] + "?";
  out = join(std::vector<std::string>(names.begin() + static_cast<std::ptrdiff_t>(q * (kHops + 1)),
                                      names.begin() + static_cast<std::ptrdiff_t>((q + 1) * (kHops + 1))),
             ",");
}

// L uncommon words once each and three common ones four times each, shuffled;
// four-letter pseudo-words (consonant, vowel, consonant, vowel).
void make_common_words(int64_t L, Rng& rng, std::string& in, std::string& out) {
  constexpr int kCommon = 3, kRepeats = 4;
  std::vector<std::string> words;
  while (static_cast<int64_t>(words.size()) < L + kCommon) {
    std::string w;
    for (int i = 0; i < 2; ++i) w += "bdfgklmnprstvz"[rng.below(14)], w += "aeiou"[rng.below(5)];
    if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
  }
  std::vector<std::string> list(words.begin() + kCommon, words.end());
  for (int c = 0; c < kCommon; ++c)
    for (int r = 0; r < kRepeats; ++r) list.push_back(words[static_cast<size_t>(c)]);
  shuffle(list, rng);
  std::vector<std::string> first;  // the common words in order of first appearance
  for (const auto& w : list)
    if (std::find(words.begin(), words.begin() + kCommon, w) != words.begin() + kCommon &&
        std::find(first.begin(), first.end(), w) == first.end())
      first.push_back(w);
  in = join(list, " ") + " Most common?";
  out = join(first, ",");
}

int64_t max_length(TaskKind t) {
  switch (t) {
    case TaskKind::LEGO: return kLegoVariables;
    case TaskKind::INDEX_HINT_ADDITION: return kHintCount - 1;
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
    case TaskKind::ADDITION:
    case TaskKind::SUMMATION:
    case TaskKind::SORT:
    case TaskKind::FLIP_FLOP:
    case TaskKind::COUNTING:
    case TaskKind::SELECTIVE_COPY:
    case TaskKind::NIAH_MULTIKEY:
    case TaskKind::NIAH_MULTIVALUE:
    case TaskKind::NIAH_MULTIQUERY:
    case TaskKind::VARIABLE_TRACKING:
    case TaskKind::COMMON_WORDS: return int64_t{1} << 20;
  }
  return 0;
}

int64_t min_length(TaskKind t) {
  switch (t) {
    case TaskKind::COUNTING: return 3;  // the reference draws 3 or more statements
    case TaskKind::MISSING_DUPLICATE:
    case TaskKind::FLIP_FLOP: return 2;
    case TaskKind::BINARY_ADDITION:
    case TaskKind::BINARY_MULTIPLICATION: return 3;
    case TaskKind::PARITY:
    case TaskKind::MODULAR_ARITHMETIC:
    case TaskKind::REVERSE_STRING:
    case TaskKind::DUPLICATE_STRING:
    case TaskKind::BUCKET_SORT:
    case TaskKind::COPY:
    case TaskKind::REVERSE:
    case TaskKind::ADDITION:
    case TaskKind::SUMMATION:
    case TaskKind::SORT:
    case TaskKind::SELECTIVE_COPY:
    case TaskKind::LEGO:
    case TaskKind::INDEX_HINT_ADDITION:
    case TaskKind::NIAH_MULTIKEY:
    case TaskKind::NIAH_MULTIVALUE:
    case TaskKind::NIAH_MULTIQUERY:
    case TaskKind::VARIABLE_TRACKING:
    case TaskKind::COMMON_WORDS: return 1;
  }
  return 1;
}

bool odd_only(TaskKind t) { return t == TaskKind::MODULAR_ARITHMETIC; }

// L uniform over the buildable lengths of [lo, hi] (check_task_range first).
int64_t draw_length(TaskKind t, int64_t lo, int64_t hi, Rng& rng) {
  int64_t L = rng.uniform_int(lo, hi);
  while (odd_only(t) && L % 2 == 0) L = rng.uniform_int(lo, hi);
  return L;
}

}  // namespace

const std::vector<TaskInfo>& all_tasks() {
  static const std::vector<TaskInfo> tasks = {
#define PELAB_TASK_INFO(id, name, source, lo, hi, test, length_means, answer_means) \
  {TaskKind::id, name, source, lo, hi, test, length_means, answer_means},
      PELAB_TASKS(PELAB_TASK_INFO)
#undef PELAB_TASK_INFO
  };
  return tasks;
}

const TaskInfo& task_info(TaskKind t) { return all_tasks()[static_cast<size_t>(t)]; }

std::string task_names() {
  std::string s;
  for (const auto& t : all_tasks()) s += (s.empty() ? "" : ", ") + std::string(t.name);
  return s;
}

TaskKind parse_task(const std::string& name) {
  for (const auto& t : all_tasks())
    if (name == t.name) return t.kind;
  throw Error("unknown task '" + name + "'", "choose one of: " + task_names());
}

std::string task_length_problem(TaskKind t, int64_t L) {
  const std::string name = task_info(t).name;
  if (L < min_length(t))
    return name + " needs L >= " + std::to_string(min_length(t)) + " (" + task_info(t).length_means + "), got " +
           std::to_string(L);
  if (odd_only(t) && L % 2 == 0)
    return name + " inputs alternate numbers and operators, so L is odd; got " + std::to_string(L);
  if (L > max_length(t)) {
    const std::string why = t == TaskKind::LEGO ? " (the variables are the 52 letters a-z, A-Z)"
                            : t == TaskKind::INDEX_HINT_ADDITION
                                ? " (the index hints are the 52 letters a-z, A-Z, one left for the carry)"
                                : "";
    return name + ": L must be at most " + std::to_string(max_length(t)) + why + ", got " + std::to_string(L);
  }
  return "";
}

int64_t task_max_bytes(TaskKind t, int64_t L) {
  // input + '=' + the longest answer + '\n'
  switch (t) {
    case TaskKind::PARITY:
    case TaskKind::MODULAR_ARITHMETIC:
    case TaskKind::MISSING_DUPLICATE:
    case TaskKind::SUMMATION: return L + 3;
    case TaskKind::REVERSE_STRING:
    case TaskKind::BUCKET_SORT:
    case TaskKind::COPY:
    case TaskKind::REVERSE:
    case TaskKind::SORT: return 2 * L + 2;
    case TaskKind::DUPLICATE_STRING: return 3 * L + 2;
    // the operands' bits total L - 1, and so do a sum's or product's at most
    case TaskKind::BINARY_ADDITION:
    case TaskKind::BINARY_MULTIPLICATION: return 2 * L + 1;
    case TaskKind::ADDITION: return (2 * L + 1) + 1 + (L + 1) + 1;
    case TaskKind::FLIP_FLOP: return (2 * L - 1) + 3;
    case TaskKind::COUNTING: return (2 * L + 2) + 1 + 2 + 1;
    case TaskKind::SELECTIVE_COPY: return L + 1 + (L + 3) / 4 + 1;
    case TaskKind::LEGO: return (5 * L - 1) + 1 + 2 * L + 1;
    case TaskKind::INDEX_HINT_ADDITION: return (4 * L + 1) + 1 + 2 * (L + 1) + 1;
    // the haystack, four needles of 25 bytes, the question, '=', the answer, '\n'
    case TaskKind::NIAH_MULTIKEY: return kNoiseMaxBytes * L + 100 + 12 + 1 + 4 + 1;
    case TaskKind::NIAH_MULTIVALUE: return kNoiseMaxBytes * L + 100 + 13 + 1 + 19 + 1;
    case TaskKind::NIAH_MULTIQUERY: return kNoiseMaxBytes * L + 100 + 17 + 1 + 9 + 1;
    // two chains of 16 + 4 x 18 bytes, the question (16), the answer (19)
    case TaskKind::VARIABLE_TRACKING: return kNoiseMaxBytes * L + 176 + 16 + 1 + 19 + 1;
    // L + 12 words of 4 letters and a space, the question (13), the answer (14)
    case TaskKind::COMMON_WORDS: return 5 * (L + 12) - 1 + 13 + 1 + 14 + 1;
  }
  return 0;
}

TaskExample make_task_example(TaskKind t, int64_t L, Rng& rng) {
  const std::string problem = task_length_problem(t, L);
  PELAB_CHECK(problem.empty(), problem, "choose lengths the task can build (docs/tasks.md)");
  TaskExample ex;
  ex.task = t;
  ex.length = L;
  std::string& in = ex.input;
  std::string& out = ex.answer;
  switch (t) {
    case TaskKind::PARITY:
      in = bits(L, rng);
      out = std::count(in.begin(), in.end(), '1') % 2 ? "1" : "0";
      break;
    case TaskKind::MODULAR_ARITHMETIC:
      for (int64_t i = 0; i < L; ++i)
        in.push_back(i % 2 == 0 ? static_cast<char>('0' + rng.below(5)) : "+-*"[rng.below(3)]);
      out = std::string(1, static_cast<char>('0' + evaluate_mod5(in)));
      break;
    case TaskKind::REVERSE_STRING:
      in = bits(L, rng);
      out.assign(in.rbegin(), in.rend());
      break;
    case TaskKind::DUPLICATE_STRING:
      in = bits(L, rng);
      out = in + in;
      break;
    case TaskKind::MISSING_DUPLICATE: {
      const std::string w = bits(L / 2, rng);
      in = w + w;
      const size_t at = rng.below(in.size());
      out = std::string(1, in[at]);
      in[at] = '_';
      if (L % 2) in.push_back('.');
      break;
    }
    case TaskKind::BINARY_ADDITION:
    case TaskKind::BINARY_MULTIPLICATION: {
      const int64_t n = rng.uniform_int(1, L - 2), m = L - 1 - n;
      const std::string a = nonzero_bits(n, rng), b = nonzero_bits(m, rng);
      const bool add = t == TaskKind::BINARY_ADDITION;
      in = a + (add ? '+' : '*') + b;
      out = add ? add_binary(a, b) : multiply_binary(a, b);
      break;
    }
    case TaskKind::BUCKET_SORT:
    case TaskKind::SORT:  // the same task over 5 symbols (arXiv 2305.16843) or 10 digits (arXiv 2305.19466)
      in = t == TaskKind::BUCKET_SORT ? symbols(L, "01234", 5, rng) : symbols(L, "0123456789", 10, rng);
      out = in;
      std::sort(out.begin(), out.end());
      break;
    case TaskKind::COPY:
      in = symbols(L, "abcdefghijklmnopqrstuvwxyz", 26, rng);
      out = in;
      break;
    case TaskKind::REVERSE:
      in = symbols(L, "abcdefghijklmnopqrstuvwxyz", 26, rng);
      out.assign(in.rbegin(), in.rend());
      break;
    case TaskKind::ADDITION: {
      const std::string a = decimal(L, rng), b = decimal(L, rng);
      in = a + '+' + b;
      out = add_decimal(a, b);
      break;
    }
    case TaskKind::SUMMATION: {
      in = symbols(L, "0123456789", 10, rng);
      int64_t s = 0;
      for (char c : in) s += c - '0';
      out = std::string(1, static_cast<char>('0' + s % 10));
      break;
    }
    case TaskKind::FLIP_FLOP: {
      char last = "01"[rng.below(2)];
      in = std::string("w") + last;
      for (int64_t i = 1; i + 1 < L; ++i) {
        const double u = rng.uniform();
        if (u < 0.8) in += std::string("i") + "01"[rng.below(2)];
        else if (u < 0.9) last = "01"[rng.below(2)], in += std::string("w") + last;
        else in += std::string("r") + last;
      }
      in += 'r';
      out = std::string(1, last);
      break;
    }
    case TaskKind::COUNTING: make_counting(L, rng, in, out); break;
    case TaskKind::SELECTIVE_COPY: {
      in.assign(static_cast<size_t>(L), '.');
      for (int64_t at : distinct_positions((L + 3) / 4, L, rng)) {
        in[static_cast<size_t>(at)] = static_cast<char>('a' + rng.below(26));
        out += in[static_cast<size_t>(at)];
      }
      break;
    }
    case TaskKind::LEGO: {
      // A chain x1 = +-1, x_k = +-x_(k-1) over L distinct letters; the clauses
      // are shown shuffled, the answer resolves them in chain order.
      std::vector<char> names(kHints, kHints + kHintCount);
      shuffle(names, rng);
      std::vector<std::string> clauses;
      int value = 1;
      for (int64_t k = 0; k < L; ++k) {
        const char sign = "+-"[rng.below(2)];
        const char x = names[static_cast<size_t>(k)];
        clauses.push_back(std::string{x, ':', sign} + (k == 0 ? '1' : names[static_cast<size_t>(k - 1)]));
        value = k == 0 ? (sign == '+' ? 1 : -1) : (sign == '+' ? value : -value);
        out += x, out += value > 0 ? '+' : '-';
      }
      shuffle(clauses, rng);
      for (size_t k = 0; k < clauses.size(); ++k) in += (k ? ";" : "") + clauses[k];
      break;
    }
    case TaskKind::INDEX_HINT_ADDITION: {
      const int64_t start = rng.uniform_int(0, kHintCount - (L + 1));
      const std::string a = decimal(L, rng), b = decimal(L, rng), sum = add_decimal(a, b);
      auto hinted = [&](const std::string& msd_first) {
        std::string s;
        for (size_t i = 0; i < msd_first.size(); ++i)
          s += kHints[start + static_cast<int64_t>(i)], s += msd_first[msd_first.size() - 1 - i];
        return s;
      };
      in = hinted(a) + '+' + hinted(b);
      out = hinted(sum);
      break;
    }
    case TaskKind::NIAH_MULTIKEY:
    case TaskKind::NIAH_MULTIVALUE:
    case TaskKind::NIAH_MULTIQUERY: make_niah(t, L, rng, in, out); break;
    case TaskKind::VARIABLE_TRACKING: make_variable_tracking(L, rng, in, out); break;
    case TaskKind::COMMON_WORDS: make_common_words(L, rng, in, out); break;
  }
  return ex;
}

Example task_tokens(const TaskExample& ex) {
  Example e;
  const std::string text = ex.text();
  e.tokens.assign(text.begin(), text.end());
  e.answer.assign(text.size(), 0);
  e.answer_offset = static_cast<int64_t>(ex.input.size()) + 1;
  for (size_t i = static_cast<size_t>(e.answer_offset); i < text.size(); ++i) e.answer[i] = 1;
  e.payload_length = ex.length;
  return e;
}

void check_task_range(TaskKind t, int64_t lo, int64_t hi, int64_t row_bytes) {
  const std::string name = task_info(t).name;
  PELAB_CHECK(lo <= hi, name << ": the train range " << lo << ".." << hi << " is empty",
              "give --task.min-length <= --task.max-length (pelab train: --data.task-min-length, --data.task-max-length)");
  PELAB_CHECK(lo >= min_length(t), task_length_problem(t, lo), "raise --task.min-length (pelab train: --data.task-min-length) to " << min_length(t));
  PELAB_CHECK(!(odd_only(t) && lo == hi && lo % 2 == 0), task_length_problem(t, lo), "use an odd length or a range");
  PELAB_CHECK(hi <= max_length(t), task_length_problem(t, hi), "lower --task.max-length (pelab train: --data.task-max-length)");
  const int64_t need = task_max_bytes(t, hi);
  PELAB_CHECK(need <= row_bytes,
              name << " examples of length " << hi << " take up to " << need << " bytes; a training row holds "
                   << row_bytes << " (--train.length + 1)",
              "raise --train.length to " << need - 1 << " or lower --task.max-length (pelab train: --data.task-max-length)");
}

Example make_task_row(TaskKind t, int64_t row_bytes, Rng& rng, int64_t lo, int64_t hi) {
  check_task_range(t, lo, hi, row_bytes);
  Example row;
  row.tokens.reserve(static_cast<size_t>(row_bytes));
  row.answer.reserve(static_cast<size_t>(row_bytes));
  for (;;) {
    const int64_t L = draw_length(t, lo, hi, rng);
    const Example e = task_tokens(make_task_example(t, L, rng));
    if (row.tokens.size() + e.tokens.size() > static_cast<size_t>(row_bytes)) break;
    if (row.answer_offset < 0) row.answer_offset = e.answer_offset, row.payload_length = L;
    row.tokens.insert(row.tokens.end(), e.tokens.begin(), e.tokens.end());
    row.answer.insert(row.answer.end(), e.answer.begin(), e.answer.end());
  }
  row.tokens.resize(static_cast<size_t>(row_bytes), static_cast<uint8_t>(kTaskEnd));
  row.answer.resize(static_cast<size_t>(row_bytes), 0);
  return row;
}

Corpus task_corpus(TaskKind t, int64_t lo, int64_t hi, int64_t docs, int64_t doc_bytes, uint64_t seed) {
  check_task_range(t, lo, hi, doc_bytes);
  PELAB_CHECK(docs >= 3 && docs <= 100000, "--task.docs must be in [3, 100000], got " << docs,
              "a train/val/test split by document needs at least 3, e.g. --task.docs 40");
  const TaskInfo& info = task_info(t);
  Corpus c;
  c.name = std::string("task:") + info.name;
  c.source = std::string("pelab's generator (datasets/tasks.cc) after ") + info.source;
  c.recipe = "one document is " + std::to_string(doc_bytes) + " bytes or less of whole examples 'input=answer\\n', L uniform in " +
             std::to_string(lo) + ".." + std::to_string(hi) + " (L: " + info.length_means + "; answer: " +
             info.answer_means + ")";
  Rng rng = Rng::stream(seed, 4);
  for (int64_t d = 0; d < docs; ++d) {
    Document doc;
    doc.name = std::string(info.name) + "@" + std::to_string(d);
    for (;;) {
      const int64_t L = draw_length(t, lo, hi, rng);
      const std::string text = make_task_example(t, L, rng).text();
      if (static_cast<int64_t>(doc.text.size() + text.size()) > doc_bytes) break;
      doc.text += text;
    }
    c.docs.push_back(std::move(doc));
  }
  return c;
}

Dataset make_task_dataset(TaskKind t, int64_t lo, int64_t hi, int64_t docs, int64_t doc_bytes, const SplitOptions& split) {
  Dataset ds = make_dataset(task_corpus(t, lo, hi, docs, doc_bytes, split.seed), split);
  ds.dedup_rule = "none: the examples are drawn independently, and training draws fresh ones";
  ds.task = task_info(t).name;
  ds.task_min_length = lo;
  ds.task_max_length = hi;
  return ds;
}

}  // namespace pelab::data
