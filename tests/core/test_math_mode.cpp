// The float32 math mode (kernels/math_mode.h) on the CPU: bf16_round against an independent nearest-value
// reference; names; and the CPU's bf16 twin: in Bf16 mode a float GEMM or convolution (all three passes) gives
// bit for bit what the strict FP32 path gives on operands rounded to bf16 beforehand, so the CPU computes the
// products a BF16 tensor core computes. Tf32 is strict on the CPU and doubles are never rounded.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "engine/nn/functional.h"
#include "engine/tensor.h"
#include "kernels/gemm.h"
#include "kernels/math_mode.h"

namespace {

using gan::DType;
using gan::Shape;
using gan::Tensor;
using gan::kernels::bf16_round;
using gan::kernels::FloatMath;
using gan::kernels::ScopedFloatMath;
namespace F = gan::nn::functional;

float bits(uint32_t u) { return std::bit_cast<float>(u); }
uint32_t bits_of(float f) { return std::bit_cast<uint32_t>(f); }

// The nearest bf16 to a finite x by comparing distances in double (exact for these neighbours), ties to the even
// significand: written without the carry trick bf16_round uses. Values beyond the largest bf16 (by at least half
// an ulp of it) go to infinity, as IEEE rounding does.
float nearest_bf16(float x) {
  const uint32_t u = bits_of(x);
  const uint32_t down = u & 0xffff0000u;  // truncation: toward zero
  if (down == u) return x;
  const uint32_t up = down + 0x10000u;  // the next bf16 away from zero (may be the infinity pattern)
  const double dd = std::fabs(double(x) - double(bits(down)));
  // The "up" neighbour of the largest finite bf16 is infinity; its distance is measured to 2^128 (where the next
  // bf16 would be), as IEEE's rounding to infinity does.
  const double up_value = (up & 0x7fffffffu) == 0x7f800000u ? std::copysign(std::ldexp(1.0, 128), x) : double(bits(up));
  const double du = std::fabs(double(x) - up_value);
  if (dd < du) return bits(down);
  if (du < dd) return bits(up);
  return ((down >> 16) & 1u) ? bits(up) : bits(down);
}

TEST(Bf16Round, KnownValues) {
  EXPECT_EQ(bf16_round(1.0f), 1.0f);
  EXPECT_EQ(bf16_round(1.0f + 0x1p-8f), 1.0f) << "tie: to the even significand (down)";
  EXPECT_EQ(bf16_round(1.0f + 3 * 0x1p-8f), 1.0f + 0x1p-6f) << "tie: to the even significand (up)";
  EXPECT_EQ(bf16_round(1.0f + 0x1p-8f + 0x1p-20f), 1.0f + 0x1p-7f) << "just above a tie: up";
  EXPECT_EQ(bf16_round(-(1.0f + 0x1p-8f + 0x1p-20f)), -(1.0f + 0x1p-7f));
  EXPECT_EQ(bf16_round(0.0f), 0.0f);
  EXPECT_TRUE(std::signbit(bf16_round(-0.0f)));
  EXPECT_EQ(bf16_round(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(bf16_round(std::numeric_limits<float>::max()), std::numeric_limits<float>::infinity())
      << "past the largest bf16 by more than half its ulp";
  EXPECT_EQ(bits_of(bf16_round(bits(0x7f7f0000u))), 0x7f7f0000u) << "the largest bf16 is kept";
  EXPECT_EQ(bits_of(bf16_round(bits(0x00018000u))), 0x00020000u) << "subnormal tie, odd: up (no flush to zero)";
  EXPECT_EQ(bits_of(bf16_round(bits(0x00008000u))), 0x00000000u) << "subnormal tie, even: down";
  EXPECT_TRUE(std::isnan(bf16_round(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(bf16_round(bits(0x7f800001u)))) << "a NaN with only low payload bits must not become inf";
  EXPECT_TRUE(std::signbit(bf16_round(bits(0xff800001u))));
}

TEST(Bf16Round, MatchesNearestValueOnRandomPatterns) {
  std::mt19937 rng(7);
  int checked = 0;
  for (int i = 0; i < 100000; ++i) {
    const float x = bits(rng());
    if (std::isnan(x)) continue;
    const float got = bf16_round(x), want = nearest_bf16(x);
    ASSERT_EQ(bits_of(got), bits_of(want)) << "x bits 0x" << std::hex << bits_of(x);
    ++checked;
  }
  EXPECT_GT(checked, 99000);
}

TEST(FloatMathMode, NamesRoundTrip) {
  for (FloatMath m : {FloatMath::Fp32, FloatMath::Tf32, FloatMath::Bf16})
    EXPECT_EQ(gan::kernels::parse_float_math(gan::kernels::float_math_name(m)), m);
  EXPECT_FALSE(gan::kernels::parse_float_math("fp16"));
  EXPECT_FALSE(gan::kernels::parse_float_math(""));
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

std::vector<float> rounded(std::vector<float> v) {
  for (float& x : v) x = bf16_round(x);
  return v;
}

// C = op(A) op(B) through kernels::cpu::gemm in the current mode.
std::vector<float> cpu_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const std::vector<float>& A,
                            const std::vector<float>& B) {
  std::vector<float> C(static_cast<size_t>(M * N), 0.0f);
  gan::kernels::cpu::gemm<float>(ta, tb, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(), tb ? K : N, 0.0f, C.data(),
                                 N);
  return C;
}

TEST(CpuBf16Twin, GemmEqualsStrictGemmOfRoundedOperands) {
  const int64_t M = 37, N = 29, K = 301;  // odd sizes; K long enough that FP32 sums differ from exact ones
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const std::vector<float> A = random_floats(M * K, 1), B = random_floats(K * N, 2);
      std::vector<float> bf, strict_rounded, strict;
      {
        const ScopedFloatMath mode(FloatMath::Bf16);
        bf = cpu_gemm(ta, tb, M, N, K, A, B);
      }
      {
        const ScopedFloatMath mode(FloatMath::Fp32);
        strict_rounded = cpu_gemm(ta, tb, M, N, K, rounded(A), rounded(B));
        strict = cpu_gemm(ta, tb, M, N, K, A, B);
      }
      EXPECT_EQ(bf, strict_rounded) << "ta " << ta << " tb " << tb;
      EXPECT_NE(bf, strict) << "bf16 mode must round the operands (ta " << ta << " tb " << tb << ")";
    }
}

TEST(CpuBf16Twin, Tf32IsStrictOnTheCpuAndDoublesAreNeverRounded) {
  const int64_t M = 9, N = 11, K = 64;
  const std::vector<float> A = random_floats(M * K, 3), B = random_floats(K * N, 4);
  std::vector<float> tf32, strict;
  {
    const ScopedFloatMath mode(FloatMath::Tf32);
    tf32 = cpu_gemm(false, false, M, N, K, A, B);
  }
  {
    const ScopedFloatMath mode(FloatMath::Fp32);
    strict = cpu_gemm(false, false, M, N, K, A, B);
  }
  EXPECT_EQ(tf32, strict);

  const std::vector<double> Ad(A.begin(), A.end()), Bd(B.begin(), B.end());
  std::vector<double> bf(M * N), fp(M * N);
  {
    const ScopedFloatMath mode(FloatMath::Bf16);
    gan::kernels::cpu::gemm<double>(false, false, M, N, K, 1.0, Ad.data(), K, Bd.data(), N, 0.0, bf.data(), N);
  }
  {
    const ScopedFloatMath mode(FloatMath::Fp32);
    gan::kernels::cpu::gemm<double>(false, false, M, N, K, 1.0, Ad.data(), K, Bd.data(), N, 0.0, fp.data(), N);
  }
  EXPECT_EQ(bf, fp);
}

struct ConvResult {
  std::vector<float> y, gx, gw;
};

// conv2d forward and both backward passes (grad_out = r) through autograd in the current mode.
ConvResult conv_passes(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& r,
                       const F::Conv2dArgs& args) {
  Tensor tx = gan::from_vector(x, Shape{3, 6, 13, 11});
  Tensor tw = gan::from_vector(w, Shape{8, 3, 3, 4});  // groups 2: Cin / G = 3
  tx.requires_grad_();
  tw.requires_grad_();
  Tensor y = F::conv2d(tx, tw, Tensor(), args);
  y.backward(gan::from_vector(r, y.shape()));
  return {y.to_vector<float>(), tx.grad().to_vector<float>(), tw.grad().to_vector<float>()};
}

TEST(CpuBf16Twin, ConvolutionPassesEqualStrictPassesOnRoundedOperands) {
  F::Conv2dArgs args;
  args.stride = {2, 1};
  args.padding = {1, 2};
  args.dilation = {1, 2};
  args.groups = 2;
  // y [3, 8, 7, 9]: Ho = (13 + 2 - 2 - 1) / 2 + 1, Wo = (11 + 4 - 6 - 1) / 1 + 1.
  const std::vector<float> x = random_floats(3 * 6 * 13 * 11, 5), w = random_floats(8 * 3 * 3 * 4, 6);
  const std::vector<float> r = random_floats(3 * 8 * 7 * 9, 7);
  ConvResult bf, strict_rounded, strict;
  {
    const ScopedFloatMath mode(FloatMath::Bf16);
    bf = conv_passes(x, w, r, args);
  }
  {
    const ScopedFloatMath mode(FloatMath::Fp32);
    strict_rounded = conv_passes(rounded(x), rounded(w), rounded(r), args);
    strict = conv_passes(x, w, r, args);
  }
  // The bf16 twin's outputs are those of strict FP32 on rounded operands, rounded to bf16 (kernels/conv.h).
  EXPECT_EQ(bf.y, rounded(strict_rounded.y)) << "forward";
  EXPECT_EQ(bf.gx, rounded(strict_rounded.gx)) << "backward-data";
  EXPECT_EQ(bf.gw, rounded(strict_rounded.gw)) << "backward-weight";
  EXPECT_NE(strict_rounded.y, rounded(strict_rounded.y)) << "the outputs must need rounding for this to test it";
  EXPECT_NE(bf.y, strict.y);
  EXPECT_NE(bf.gx, strict.gx);
  EXPECT_NE(bf.gw, strict.gw);
}

}  // namespace
