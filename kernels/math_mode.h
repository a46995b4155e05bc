// PROVISIONAL (branch i11-bf16): a stand-in for the math-mode API the lead adds to main, so that this branch
// builds until then; at the merge, main's kernels/math_mode.h replaces this file entirely.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include "kernels/cuda/runtime.h"

namespace gan::kernels {

enum class FloatMath : uint8_t { Fp32, Tf32, Bf16 };

inline std::atomic<bool>& provisional_bf16_flag() {
  static std::atomic<bool> on{false};
  return on;
}
inline FloatMath float_math() {
  if (provisional_bf16_flag().load()) return FloatMath::Bf16;
  return cuda::tf32_enabled() ? FloatMath::Tf32 : FloatMath::Fp32;
}
inline void set_float_math(FloatMath m) {
  provisional_bf16_flag().store(m == FloatMath::Bf16);
  cuda::set_tf32(m == FloatMath::Tf32);
}
inline float bf16_round(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0)
    u = 0x7fc00000u;
  else
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&x, &u, 4);
  return x;
}

}  // namespace gan::kernels
