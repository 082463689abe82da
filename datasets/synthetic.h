// Synthetic tasks for retrieval and length generalization, in bytes. Each
// generator makes one example (or one packed row) from an Rng plus a per-token
// answer mask: answer[i] = 1 when token i belongs to the answer, i.e. a probe
// scores the model's prediction of token i (made at position i - 1).
// Deterministic given the Rng state and the haystack; the same generators
// serve training mixes (batcher.h) and evaluation probes (experiments/probe.h).
//
//   passkey  the PI / landmark-attention needle (positional-encodings.md §6.4)
//            in a haystack of real text: H haystack bytes with the needle line
//            "\nThe pass key is K. Remember it. K is the pass key.\n" inserted
//            after the first round(depth·H) of them, then "\nWhat is the pass
//            key? The pass key is " and the answer K (1..50000, uniform). H
//            makes the example exactly `length` bytes, so the needle's offset
//            divided by the haystack H is the depth (to one byte), and the
//            answer comes after the whole haystack. The haystack is one random
//            window of the Haystack text (the train split: never the text
//            being scored). The paper's intro line ("There is an important
//            info hidden...") is left out: it is an instruction to a chat
//            model, and at T = 256 bytes it would take most of the context.
//   copy     "P|P\n": a payload P of n random alphanumeric bytes, '|', the
//            same n bytes (the answer), '\n' (arXiv 2305.19466's copy task in
//            bytes). One example is 2n + 2 bytes. Training rows are packed
//            with examples whose n is uniform in [copy_min, copy_max], from
//            the row's first byte; the tail that no further example fits is
//            '\n' (not an answer). A probe scores one example of a stated n.
//   mqar     associative recall (Zoology, arXiv 2312.04927) in bytes: N pairs
//            "key:vv" (key: 3 lowercase letters, distinct; vv: 2 digits),
//            space-separated, then '\n', haystack filler ending in '\n', then
//            every pair again in a random order as queries "key:vv" where the
//            two digits are the answer. N is as many as fit (num_pairs = 0, at
//            most 26^3) or fixed. Unlike Zoology, queries come after all pairs
//            in a uniformly random order (no power law).
#pragma once

#include <cstdint>
#include <span>
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
  int64_t answer_offset = -1;   // the answer's first byte (the first answer of a packed row)
  // passkey: the key, the needle sentence's first byte, the haystack's bytes H
  // and the depth the needle sits at (needle bytes before it / H, 0..1).
  int64_t passkey = 0;
  int64_t needle_offset = -1;
  int64_t haystack_bytes = 0;
  double depth = 0;
  int64_t payload_length = 0;   // copy: n of a single example

  std::string text() const { return std::string(tokens.begin(), tokens.end()); }
  std::string answer_text() const;  // the answer tokens, in order
};

// Real text to hide needles in and to fill with: windows of a byte stream (a
// prepared dataset's train split). The bytes are not copied; they must outlive
// the Haystack.
class Haystack {
 public:
  Haystack() = default;
  explicit Haystack(std::span<const uint8_t> text) : text_(text) {}
  bool empty() const { return text_.empty(); }
  int64_t size() const { return static_cast<int64_t>(text_.size()); }
  // n consecutive bytes from a uniform start; a text shorter than n repeats.
  std::string take(int64_t n, Rng& rng) const;

 private:
  std::span<const uint8_t> text_;
};

inline constexpr const char* kPasskeyQuestion = "What is the pass key? The pass key is ";
inline constexpr int64_t kPasskeyMax = 50000;
inline constexpr int64_t kPasskeyMinHaystack = 16;  // the shortest haystack a passkey example may have
inline constexpr const char* kCopySeparator = "|";

// What the generators need besides the length: the haystack (passkey, mqar)
// and the payload range of packed copy rows (0: up to what one row holds).
struct SyntheticOptions {
  Haystack haystack;
  int64_t copy_min = 1, copy_max = 0;
};

// Shortest example lengths each task can build (passkey: with the longest key
// and kPasskeyMinHaystack haystack bytes; copy: "a|a\n").
int64_t synthetic_min_length(SyntheticTask t);
// The bytes a passkey example of this key length spends on other than haystack.
int64_t passkey_fixed_bytes(int64_t key_digits);

// depth in [0, 1] places the needle at a fixed depth (a probe's); a negative
// depth draws it uniformly (training).
Example make_passkey(int64_t length, Rng& rng, const Haystack& haystack, double depth = -1);
// One copy example with a payload of n bytes (2n + 2 bytes).
Example make_copy(int64_t n, Rng& rng);
// A training row of exactly `length` bytes packed with copy examples.
Example make_copy_row(int64_t length, Rng& rng, int64_t copy_min, int64_t copy_max);
Example make_mqar(int64_t length, Rng& rng, const Haystack& haystack, int64_t num_pairs = 0);
// A training row of exactly `length` bytes (mqar with num_pairs = 0, copy
// packed). NONE is an error.
Example make_synthetic(SyntheticTask t, int64_t length, Rng& rng, const SyntheticOptions& opt);
// The copy payload range a row of `length` bytes trains on: [copy_min, copy_max]
// with copy_max = 0 resolved to the longest that fits; an error names a range
// that cannot be built.
std::pair<int64_t, int64_t> copy_range(int64_t length, int64_t copy_min, int64_t copy_max);

}  // namespace pelab::data
