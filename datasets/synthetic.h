// Synthetic tasks for length generalization, in bytes. Each generator makes one
// example of exactly `length` bytes from an Rng, plus a per-token answer mask:
// answer[i] = 1 when token i belongs to the answer, i.e. a probe scores the
// model's prediction of token i (made at position i - 1). Deterministic given
// the Rng state; the same generators serve training mixes (batcher.h) and
// evaluation probes.
//
//   passkey  the PI / landmark-attention prompt (positional-encodings.md §6.4)
//            in bytes: intro, garbage prefix, "The pass key is K. Remember it.
//            K is the pass key.", garbage suffix, "What is the pass key? The
//            pass key is " and then the answer K (1..50000, uniform). Parts
//            are joined with '\n'. The garbage is "The grass is green. ...
//            There and back again." repeated and joined by spaces; prefix and
//            suffix are the first n_prefix and n_garbage - n_prefix bytes of
//            it, n_prefix uniform in [0, n_garbage] (uniform depth), and
//            n_garbage makes the example exactly `length` bytes. The answer
//            is the digits of K at the very end. When `length` cannot hold
//            the intro line it is left out (kPasskeyMinLengthIntro).
//   copy     n random alphanumeric bytes, '|', the same n bytes (the answer),
//            and a trailing '\n' when length - 1 is odd; n = (length - 1) / 2.
//   mqar     associative recall (Zoology, arXiv 2312.04927) in bytes: N pairs
//            "key:vv" (key: 3 lowercase letters, distinct; vv: 2 digits),
//            space-separated, then '\n', filler, then every pair again in a
//            random order as queries "key:vv" where the two digits are the
//            answer. N is as many as fit (num_pairs = 0, at most 26^3) or
//            fixed; the filler is the passkey garbage text ending in '\n'
//            (empty when nothing is left over). Unlike Zoology, queries come
//            after all pairs in a uniformly random order (no power law).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/rng.h"

namespace pelab::data {

enum class SyntheticTask { NONE, PASSKEY, COPY, MQAR };

SyntheticTask parse_synthetic_task(const std::string& s);  // none|passkey|copy|mqar
std::string to_string(SyntheticTask t);

struct Example {
  std::vector<uint8_t> tokens;  // (length)
  std::vector<uint8_t> answer;  // (length) 1 where the token is part of the answer
  // passkey only: the key and where the needle sits (n_prefix / n_garbage, 0..1).
  int64_t passkey = 0;
  double depth = 0;

  std::string text() const { return std::string(tokens.begin(), tokens.end()); }
  std::string answer_text() const;  // the answer tokens, in order
};

inline constexpr const char* kPasskeyIntro =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. "
    "I will quiz you about the important information there.";
inline constexpr const char* kPasskeyGarbage =
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
inline constexpr const char* kPasskeyQuestion = "What is the pass key? The pass key is ";
inline constexpr int64_t kPasskeyMax = 50000;

// Shortest lengths each task can fill (passkey: with the longest key).
int64_t synthetic_min_length(SyntheticTask t);
inline constexpr int64_t kPasskeyMinLengthIntro = 253;  // from here on the intro line is included

// depth in [0, 1] places the needle at n_prefix = round(depth·n_garbage) (a
// probe's fixed depths); a negative depth draws it uniformly (training).
Example make_passkey(int64_t length, Rng& rng, double depth = -1);
Example make_copy(int64_t length, Rng& rng);
Example make_mqar(int64_t length, Rng& rng, int64_t num_pairs = 0);
// Dispatch (mqar with num_pairs = 0). NONE is an error.
Example make_synthetic(SyntheticTask t, int64_t length, Rng& rng);

}  // namespace pelab::data
