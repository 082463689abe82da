// A small deterministic random number generator whose whole state is one
// 64-bit integer, so a checkpoint can save it exactly and resume the same
// stream: SplitMix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014; the generator Java's SplittableRandom and
// xoshiro's seeding use). It passes BigCrush, which is far more than batch
// sampling and synthetic tasks need, and unlike std::mt19937 its output is the
// same with every compiler and standard library.
#pragma once

#include <cstdint>

namespace pelab {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}

  // Derived, independent stream: Rng(seed) for the purpose `stream` (e.g. one
  // for the data split, one for batches), so streams never overlap by accident.
  static Rng stream(uint64_t seed, uint64_t stream) { return Rng(mix(seed ^ mix(stream + 0x632be59bd9b4e019ULL))); }

  uint64_t next_u64() {
    state_ += 0x9e3779b97f4a7c15ULL;  // golden-ratio increment: a full-period Weyl sequence
    return mix(state_);
  }

  // Uniform in [0, n), unbiased (Lemire's multiply-and-reject, arXiv 1805.10941). n > 0.
  uint64_t below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next_u64()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform integer in [lo, hi], both inclusive; lo <= hi.
  int64_t uniform_int(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  // The whole state: save it, and set_state() resumes the identical stream.
  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

  // SplitMix64's finaliser (a bijection on 64 bits).
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

}  // namespace pelab
