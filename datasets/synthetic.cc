#include "datasets/synthetic.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "core/error.h"

namespace pelab::data {

namespace {

constexpr std::string_view kCopyAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
constexpr char kCopySeparator = '|';
constexpr int64_t kMqarKeySpace = 26 * 26 * 26;  // 3 lowercase letters
constexpr int64_t kMqarPairBytes = 7;             // "abc:42" + one separator

// Appends text to an example; answer marks it as answer tokens.
void put(Example& ex, std::string_view s, bool answer = false) {
  ex.tokens.insert(ex.tokens.end(), s.begin(), s.end());
  ex.answer.insert(ex.answer.end(), s.size(), answer ? 1 : 0);
}

// The first n bytes of the garbage sentence repeated and joined by spaces.
std::string garbage(int64_t n) {
  std::string g;
  g.reserve(static_cast<size_t>(n) + 128);
  while (static_cast<int64_t>(g.size()) < n) {
    if (!g.empty()) g += ' ';
    g += kPasskeyGarbage;
  }
  g.resize(static_cast<size_t>(n));
  return g;
}

int64_t passkey_fixed_bytes(bool intro, int64_t key_digits) {
  // intro "\n"  prefix "\n"  needle "\n"  suffix "\n"  question key
  const int64_t needle = 16 + key_digits + 15 + key_digits + 17;
  return (intro ? static_cast<int64_t>(std::strlen(kPasskeyIntro)) + 1 : 0) + 3 + needle +
         static_cast<int64_t>(std::strlen(kPasskeyQuestion)) + key_digits;
}

void check_length(SyntheticTask t, int64_t length) {
  const int64_t min = synthetic_min_length(t);
  PELAB_CHECK(length >= min, to_string(t) << " examples need at least " << min << " tokens, asked for " << length,
              "use a longer length (e.g. --train.length) or another --data.synthetic task");
  PELAB_CHECK(length <= (int64_t{1} << 34), to_string(t) << " example length " << length << " is too large",
              "use a length below 2^34");
}

}  // namespace

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

int64_t synthetic_min_length(SyntheticTask t) {
  switch (t) {
    case SyntheticTask::PASSKEY: return passkey_fixed_bytes(false, 5);
    case SyntheticTask::COPY: return 3;                              // "a|a"
    case SyntheticTask::MQAR: return 2 * kMqarPairBytes - 1;          // "abc:42\nabc:42"
    case SyntheticTask::NONE: break;
  }
  throw Error("synthetic task 'none' has no examples", "choose passkey, copy or mqar");
}

Example make_passkey(int64_t length, Rng& rng, double depth) {
  static_assert(kPasskeyMax < 100000, "keys have at most 5 digits");
  check_length(SyntheticTask::PASSKEY, length);
  const bool intro = length >= passkey_fixed_bytes(true, 5);
  Example ex;
  ex.passkey = rng.uniform_int(1, kPasskeyMax);
  const std::string key = std::to_string(ex.passkey);
  const int64_t n_garbage = length - passkey_fixed_bytes(intro, static_cast<int64_t>(key.size()));
  const int64_t n_prefix = depth < 0 ? rng.uniform_int(0, n_garbage)
                                     : std::llround(std::min(depth, 1.0) * static_cast<double>(n_garbage));
  ex.depth = n_garbage > 0 ? static_cast<double>(n_prefix) / static_cast<double>(n_garbage) : 0.0;
  ex.tokens.reserve(static_cast<size_t>(length));
  ex.answer.reserve(static_cast<size_t>(length));
  if (intro) {
    put(ex, kPasskeyIntro);
    put(ex, "\n");
  }
  const std::string g = garbage(std::max(n_prefix, n_garbage - n_prefix));
  put(ex, std::string_view(g).substr(0, static_cast<size_t>(n_prefix)));
  put(ex, "\n");
  put(ex, "The pass key is " + key + ". Remember it. " + key + " is the pass key.");
  put(ex, "\n");
  put(ex, std::string_view(g).substr(0, static_cast<size_t>(n_garbage - n_prefix)));
  put(ex, "\n");
  put(ex, kPasskeyQuestion);
  put(ex, key, /*answer=*/true);
  PELAB_CHECK(static_cast<int64_t>(ex.tokens.size()) == length, "passkey example has " << ex.tokens.size()
                                                                    << " bytes, expected " << length, "this is a bug in pelab");
  return ex;
}

Example make_copy(int64_t length, Rng& rng) {
  check_length(SyntheticTask::COPY, length);
  const int64_t n = (length - 1) / 2;
  std::string payload(static_cast<size_t>(n), ' ');
  for (auto& ch : payload) ch = kCopyAlphabet[rng.below(kCopyAlphabet.size())];
  Example ex;
  ex.tokens.reserve(static_cast<size_t>(length));
  ex.answer.reserve(static_cast<size_t>(length));
  put(ex, payload);
  put(ex, std::string_view(&kCopySeparator, 1));
  put(ex, payload, /*answer=*/true);
  if (2 * n + 1 < length) put(ex, "\n");
  return ex;
}

Example make_mqar(int64_t length, Rng& rng, int64_t num_pairs) {
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
    put(ex, garbage(filler - 1));
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

Example make_synthetic(SyntheticTask t, int64_t length, Rng& rng) {
  switch (t) {
    case SyntheticTask::PASSKEY: return make_passkey(length, rng);
    case SyntheticTask::COPY: return make_copy(length, rng);
    case SyntheticTask::MQAR: return make_mqar(length, rng, 0);
    case SyntheticTask::NONE: break;
  }
  throw Error("synthetic task 'none' has no examples", "choose passkey, copy or mqar");
}

}  // namespace pelab::data
