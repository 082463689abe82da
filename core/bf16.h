// bfloat16 storage for host code (8-bit exponent, 7-bit mantissa): the element
// type of the GPU's tensor-core attention. Host code only stores, converts and
// compares; arithmetic happens in fp32 (CUDA code reinterprets it as
// __nv_bfloat16, which has the same 16-bit layout).
#pragma once

#include <cstdint>
#include <cstring>

namespace pelab {

struct bf16 {
  uint16_t bits = 0;
};
static_assert(sizeof(bf16) == 2, "bf16 must be 2 bytes");

// Round to nearest, ties to even; NaN stays NaN.
inline bf16 to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) return bf16{static_cast<uint16_t>((u >> 16) | 0x40)};
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16{static_cast<uint16_t>(u >> 16)};
}

inline float to_float(bf16 x) {
  const uint32_t u = static_cast<uint32_t>(x.bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace pelab
