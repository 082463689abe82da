// std::vector whose storage is 64-byte aligned (one cache line, one AVX-512
// register). Vectorized loops and Eigen reductions peel for alignment, so the
// same values in buffers at different alignments round differently; model
// state kept in these vectors computes bit-identically wherever the heap puts
// it, which exact resume and same-seed reproducibility depend on.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace pelab {

template <typename T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::size_t kAlign = 64;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    const std::size_t bytes = (n * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, bytes ? bytes : kAlign);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { std::free(p); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const noexcept { return true; }
};

template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace pelab
