#include "datasets/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "core/error.h"

namespace pelab::data {

namespace {

constexpr std::string_view kCopyAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr int64_t kMqarKeySpace = 26 * 26 * 26;  // 3 lowercase letters
constexpr int64_t kMqarPairBytes = 7;             // "abc:42" + one separator

// Appends text to an example; answer marks it as answer tokens.
void put(Example& ex, std::string_view s, bool answer = false) {
  if (answer && ex.answer_offset < 0) ex.answer_offset = static_cast<int64_t>(ex.tokens.size());
  ex.tokens.insert(ex.tokens.end(), s.begin(), s.end());
  ex.answer.insert(ex.answer.end(), s.size(), answer ? 1 : 0);
}

std::string needle_sentence(const std::string& key) {
  return "The pass key is " + key + ". Remember it. " + key + " is the pass key.";
}

void check_length(SyntheticTask t, int64_t length) {
  const int64_t min = synthetic_min_length(t);
  PELAB_CHECK(length >= min, to_string(t) << " examples need at least " << min << " tokens, asked for " << length,
              "use a longer length (e.g. --train.length) or another --data.synthetic task");
  PELAB_CHECK(length <= (int64_t{1} << 34), to_string(t) << " example length " << length << " is too large",
              "use a length below 2^34");
}

void check_haystack(SyntheticTask t, const Haystack& h) {
  PELAB_CHECK(!h.empty(), to_string(t) << " examples need a haystack of real text, and none was given",
              "this is a bug in pelab: the train split is the haystack");
}

std::string payload(int64_t n, Rng& rng) {
  std::string p(static_cast<size_t>(n), ' ');
  for (auto& ch : p) ch = kCopyAlphabet[rng.below(kCopyAlphabet.size())];
  return p;
}

void put_copy(Example& ex, const std::string& p) {
  put(ex, p);
  put(ex, kCopySeparator);
  put(ex, p, /*answer=*/true);
  put(ex, "\n");
}

}  // namespace

std::string Haystack::take(int64_t n, Rng& rng) const {
  PELAB_CHECK(!text_.empty(), "the haystack is empty", "this is a bug in pelab: the train split is the haystack");
  std::string s;
  s.reserve(static_cast<size_t>(std::max<int64_t>(n, 0)));
  const size_t N = text_.size();
  size_t at = static_cast<size_t>(rng.below(N));
  while (static_cast<int64_t>(s.size()) < n) {
    const size_t k = std::min(N - at, static_cast<size_t>(n) - s.size());
    s.append(reinterpret_cast<const char*>(text_.data()) + at, k);
    at = 0;  // a text shorter than n repeats from its start
  }
  return s;
}

SyntheticTask parse_synthetic_task(const std::string& s) {
  if (s == "none") return SyntheticTask::NONE;
  if (s == "passkey") return SyntheticTask::PASSKEY;
  if (s == "copy") return SyntheticTask::COPY;
  if (s == "mqar") return SyntheticTask::MQAR;
  throw Error("unknown synthetic task '" + s + "'", "choose none, passkey, copy or mqar");
}

std::string to_string(SyntheticTask t) {
  switch (t) {
    case SyntheticTask::NONE: return "none";
    case SyntheticTask::PASSKEY: return "passkey";
    case SyntheticTask::COPY: return "copy";
    case SyntheticTask::MQAR: return "mqar";
  }
  return "?";
}

std::string Example::answer_text() const {
  std::string s;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (answer[i]) s += static_cast<char>(tokens[i]);
  return s;
}

int64_t passkey_fixed_bytes(int64_t key_digits) {
  // "\n" needle "\n"  "\n" question key
  const int64_t needle = 16 + key_digits + 15 + key_digits + 17;
  return 3 + needle + static_cast<int64_t>(std::strlen(kPasskeyQuestion)) + key_digits;
}

int64_t synthetic_min_length(SyntheticTask t) {
  switch (t) {
    case SyntheticTask::PASSKEY: return passkey_fixed_bytes(5) + kPasskeyMinHaystack;
    case SyntheticTask::COPY: return 4;                               // "a|a\n"
    case SyntheticTask::MQAR: return 2 * kMqarPairBytes - 1;          // "abc:42\nabc:42"
    case SyntheticTask::NONE: break;
  }
  throw Error("synthetic task 'none' has no examples", "choose passkey, copy or mqar");
}

Example make_passkey(int64_t length, Rng& rng, const Haystack& haystack, double depth) {
  static_assert(kPasskeyMax < 100000, "keys have at most 5 digits");
  check_length(SyntheticTask::PASSKEY, length);
  check_haystack(SyntheticTask::PASSKEY, haystack);
  Example ex;
  ex.passkey = rng.uniform_int(1, kPasskeyMax);
  const std::string key = std::to_string(ex.passkey);
  const int64_t H = length - passkey_fixed_bytes(static_cast<int64_t>(key.size()));
  const int64_t n_prefix = depth < 0 ? rng.uniform_int(0, H) : std::llround(std::min(depth, 1.0) * static_cast<double>(H));
  // One contiguous window, cut at the needle, so the text reads on around it.
  const std::string hay = haystack.take(H, rng);
  ex.haystack_bytes = H;
  ex.depth = static_cast<double>(n_prefix) / static_cast<double>(H);
  ex.tokens.reserve(static_cast<size_t>(length));
  ex.answer.reserve(static_cast<size_t>(length));
  put(ex, std::string_view(hay).substr(0, static_cast<size_t>(n_prefix)));
  put(ex, "\n");
  ex.needle_offset = static_cast<int64_t>(ex.tokens.size());
  put(ex, needle_sentence(key));
  put(ex, "\n");
  put(ex, std::string_view(hay).substr(static_cast<size_t>(n_prefix)));
  put(ex, "\n");
  put(ex, kPasskeyQuestion);
  put(ex, key, /*answer=*/true);
  PELAB_CHECK(static_cast<int64_t>(ex.tokens.size()) == length, "passkey example has " << ex.tokens.size()
                                                                    << " bytes, expected " << length, "this is a bug in pelab");
  return ex;
}

Example make_copy(int64_t n, Rng& rng) {
  PELAB_CHECK(n >= 1 && n <= (int64_t{1} << 33), "a copy payload must have 1 to 2^33 bytes, asked for " << n,
              "e.g. --lengths 16,32,64 (payload bytes)");
  Example ex;
  ex.tokens.reserve(static_cast<size_t>(2 * n + 2));
  ex.answer.reserve(static_cast<size_t>(2 * n + 2));
  ex.payload_length = n;
  put_copy(ex, payload(n, rng));
  return ex;
}

std::pair<int64_t, int64_t> copy_range(int64_t length, int64_t copy_min, int64_t copy_max) {
  check_length(SyntheticTask::COPY, length);
  const int64_t longest = (length - 2) / 2;  // 2n + 2 <= length
  const int64_t hi = copy_max == 0 ? longest : copy_max;
  PELAB_CHECK(copy_min >= 1 && copy_min <= hi, "the copy payload range [" << copy_min << ", " << hi << "] is empty "
                                                                            "or starts below 1",
              "give 1 <= --data.copy-min <= --data.copy-max (0: the longest that fits)");
  PELAB_CHECK(hi <= longest, "copy payloads of up to " << hi << " bytes do not fit rows of " << length << " bytes "
                                                       "(an example of n bytes takes 2n + 2)",
              "lower --data.copy-max to at most " << longest << " or raise --train.length");
  return {copy_min, hi};
}

Example make_copy_row(int64_t length, Rng& rng, int64_t copy_min, int64_t copy_max) {
  const auto [lo, hi] = copy_range(length, copy_min, copy_max);
  Example ex;
  ex.tokens.reserve(static_cast<size_t>(length));
  ex.answer.reserve(static_cast<size_t>(length));
  // Draw, then stop at the first that does not fit: the examples placed keep
  // the uniform length distribution (filling the tail with whatever fits
  // would favour short payloads at row ends).
  for (;;) {
    const int64_t n = rng.uniform_int(lo, hi);
    if (static_cast<int64_t>(ex.tokens.size()) + 2 * n + 2 > length) break;
    if (ex.payload_length == 0) ex.payload_length = n;
    put_copy(ex, payload(n, rng));
  }
  put(ex, std::string(static_cast<size_t>(length) - ex.tokens.size(), '\n'));
  return ex;
}

Example make_mqar(int64_t length, Rng& rng, const Haystack& haystack, int64_t num_pairs) {
  check_length(SyntheticTask::MQAR, length);
  // Pairs, the '\n', and the queries take 2 * 7 * N - 1 bytes; the rest is filler.
  const int64_t fit = (length + 1) / (2 * kMqarPairBytes);
  int64_t N = num_pairs > 0 ? num_pairs : std::min(fit, kMqarKeySpace);
  PELAB_CHECK(N <= fit && N <= kMqarKeySpace,
              "mqar with " << N << " pairs needs at least " << 2 * kMqarPairBytes * N - 1 << " tokens (at most "
                           << kMqarKeySpace << " pairs), asked for length " << length,
              "use fewer pairs or a longer length");
  // N distinct keys: a partial Fisher-Yates over the key space, tracked sparsely.
  std::vector<int64_t> keys(static_cast<size_t>(N));
  {
    std::vector<int64_t> space;
    if (N * 4 > kMqarKeySpace) {
      space.resize(kMqarKeySpace);
      for (int64_t i = 0; i < kMqarKeySpace; ++i) space[i] = i;
      for (int64_t i = 0; i < N; ++i) {
        std::swap(space[i], space[i + rng.below(kMqarKeySpace - i)]);
        keys[i] = space[i];
      }
    } else {
      // Rejection for small N: expected draws stay below 4/3 per key.
      std::vector<uint8_t> used(kMqarKeySpace, 0);
      for (int64_t i = 0; i < N; ++i) {
        int64_t k;
        do k = static_cast<int64_t>(rng.below(kMqarKeySpace));
        while (used[k]);
        used[k] = 1;
        keys[i] = k;
      }
    }
  }
  std::vector<int> values(static_cast<size_t>(N));
  for (auto& v : values) v = static_cast<int>(rng.below(100));
  std::vector<int64_t> order(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) order[i] = i;
  for (int64_t i = N; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);

  auto key_text = [&](int64_t i) {
    const int64_t k = keys[i];
    return std::string{static_cast<char>('a' + k / 676), static_cast<char>('a' + k / 26 % 26), static_cast<char>('a' + k % 26), ':'};
  };
  auto value_text = [&](int64_t i) {
    return std::string{static_cast<char>('0' + values[i] / 10), static_cast<char>('0' + values[i] % 10)};
  };
  Example ex;
  ex.tokens.reserve(static_cast<size_t>(length));
  ex.answer.reserve(static_cast<size_t>(length));
  for (int64_t i = 0; i < N; ++i) {
    if (i) put(ex, " ");
    put(ex, key_text(i) + value_text(i));
  }
  put(ex, "\n");
  const int64_t filler = length - (2 * kMqarPairBytes * N - 1);
  if (filler > 0) {
    check_haystack(SyntheticTask::MQAR, haystack);
    put(ex, haystack.take(filler - 1, rng));
    put(ex, "\n");
  }
  for (int64_t q = 0; q < N; ++q) {
    if (q) put(ex, " ");
    put(ex, key_text(order[q]));
    put(ex, value_text(order[q]), /*answer=*/true);
  }
  PELAB_CHECK(static_cast<int64_t>(ex.tokens.size()) == length, "mqar example has " << ex.tokens.size()
                                                                    << " bytes, expected " << length, "this is a bug in pelab");
  return ex;
}

Example make_synthetic(SyntheticTask t, int64_t length, Rng& rng, const SyntheticOptions& opt) {
  switch (t) {
    case SyntheticTask::PASSKEY: return make_passkey(length, rng, opt.haystack);
    case SyntheticTask::COPY: return make_copy_row(length, rng, opt.copy_min, opt.copy_max);
    case SyntheticTask::MQAR: return make_mqar(length, rng, opt.haystack, 0);
    case SyntheticTask::NONE: break;
  }
  throw Error("synthetic task 'none' has no examples", "choose passkey, copy or mqar");
}

}  // namespace pelab::data
