// The process-wide math mode of float32 convolutions and GEMMs (PyTorch's allow_tf32 and autocast to bfloat16 in
// one switch). Double precision always runs strict.
//
//   Fp32  strict: every product and sum in FP32 (CUDA: the SIMT conv kernels, CUBLAS_DEFAULT_MATH).
//   Tf32  CUDA only: operands rounded to TF32 (10-bit mantissa) on tensor cores, FP32 accumulation (conv.cu's mma
//         kernels, CUBLAS_TF32_TENSOR_OP_MATH). The CPU has no TF32 arithmetic and runs strict, as PyTorch does.
//         The default of a build with CUDA.
//   Bf16  both operands of every multiply rounded to bfloat16 (8-bit significand, round to nearest even), products
//         (exact in FP32) accumulated in FP32: BF16 tensor cores on CUDA (mma m16n8k16, cuBLAS
//         CUBLAS_COMPUTE_32F_FAST_16BF). The CPU rounds the operands the same way before its FP32 GEMM, so a CPU
//         run shows bf16's effect on training (its sample quality) without a GPU, and differs from the tensor
//         core only in the order of the FP32 sums. A convolution also rounds its output to bf16 (kernels/conv.h).
//         Tensors stay float32 while the forward runs; the activations saved for the backward pass are kept as
//         bfloat16 (engine/saved_activation.h).
//
// Start value: GAN_PRECISION=fp32|tf32|bf16 in the environment, else fp32 when GAN_TF32=0, else Tf32 in a build
// with CUDA and Fp32 without. Takes effect for the next call.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "kernels/bfloat16.h"

namespace gan::kernels {

enum class FloatMath : uint8_t { Fp32, Tf32, Bf16 };

FloatMath float_math();
void set_float_math(FloatMath mode);

// "fp32", "tf32", "bf16"; parse_float_math is its inverse (nullopt for anything else).
const char* float_math_name(FloatMath mode);
std::optional<FloatMath> parse_float_math(std::string_view name);

// x rounded to the nearest bfloat16 (ties to even), as a float whose low 16 bits are zero: what cvt.rn.bf16.f32
// gives. Finite values past bf16's largest round to infinity; subnormals round like normals (no flush); a NaN
// stays a NaN (quieted, sign kept).
inline float bf16_round(float x) { return bf16_round_float(x); }

// RAII: sets the mode for a scope and gives the previous one back (tests, benchmarks).
class ScopedFloatMath {
 public:
  explicit ScopedFloatMath(FloatMath mode) : previous_(float_math()) { set_float_math(mode); }
  ~ScopedFloatMath() { set_float_math(previous_); }
  ScopedFloatMath(const ScopedFloatMath&) = delete;
  ScopedFloatMath& operator=(const ScopedFloatMath&) = delete;

 private:
  FloatMath previous_;
};

}  // namespace gan::kernels
