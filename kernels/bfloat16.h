// bfloat16 as a storage type: the high 16 bits of an IEEE float32 (sign, the same 8-bit exponent, 7 stored
// significand bits). Converting from float rounds to nearest, ties to even; converting back is exact. Used for
// activations saved for the backward pass in the bf16 math mode (engine/saved_activation.h) and by the copy
// kernels behind Tensor::to(DType::BFloat16); no arithmetic kernel takes it (they compute in float32 or float64).
//
// The same code runs on the host, on the GPU and in the SIMT emulator (memcpy of four bytes compiles to a
// register move in device code), so a CPU tensor and a CUDA tensor convert bit for bit alike.
#pragma once

#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define GAN_BF16_HD __host__ __device__
#else
#define GAN_BF16_HD
#endif

namespace gan::kernels {

// x rounded to the nearest bfloat16 (ties to even), returned as its 16 bits. Finite values past bf16's largest
// round to infinity; subnormals round like normals (no flush); a NaN stays a NaN (quieted, sign kept), so a
// non-finite value is never turned into a finite one.
GAN_BF16_HD inline uint16_t bf16_bits_rne(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u | 0x00400000u) >> 16);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// The float a bfloat16 stands for (exact).
GAN_BF16_HD inline float bf16_bits_to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float x;
  memcpy(&x, &u, 4);
  return x;
}

// x rounded to bfloat16 and kept as a float (its low 16 bits zero): what a bf16 tensor-core operand holds.
GAN_BF16_HD inline float bf16_round_float(float x) { return bf16_bits_to_float(bf16_bits_rne(x)); }

// One bfloat16 element. Explicit conversions only, so that no arithmetic on it compiles by accident: the copy
// kernels' static_cast<D>(src) is the one way in and out. A double goes through float (rounded twice: a value
// within half a float ulp of a bf16 tie can round the other way than a direct rounding would), as PyTorch's
// c10::BFloat16 does.
struct bfloat16 {
  uint16_t bits;  // no initializer: a trivial type, like float (arrays of it start uninitialized)

  bfloat16() = default;
  GAN_BF16_HD explicit bfloat16(float x) : bits(bf16_bits_rne(x)) {}
  GAN_BF16_HD explicit bfloat16(double x) : bits(bf16_bits_rne(static_cast<float>(x))) {}
  GAN_BF16_HD explicit operator float() const { return bf16_bits_to_float(bits); }
  GAN_BF16_HD explicit operator double() const { return static_cast<double>(bf16_bits_to_float(bits)); }
};
static_assert(sizeof(bfloat16) == 2, "bfloat16 must be two bytes");

}  // namespace gan::kernels

#undef GAN_BF16_HD
