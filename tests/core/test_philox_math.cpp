// The reproducible ln and sin/cos behind Box-Muller (kernels/philox.h: philox_log, philox_sincos_2pi) against
// libm, over the exact argument sets the normal fills feed them: u1 = k / 2^bits in (0, 1] and angles
// 2 pi k / 2^bits, for bits = 24 (float normals) and 53 (double normals). They must be accurate to a few double
// ulp; their CPU/GPU bit identity is checked by the gpu suite (tests/gpu/test_cuda_kernels.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>

#include "kernels/philox.h"

namespace {

using gan::kernels::philox_log;
using gan::kernels::philox_sincos_2pi;

// |got - want| in units of want's ulp (want != 0).
double ulps(double got, double want) { return std::abs(got - want) / (std::nextafter(std::abs(want), INFINITY) - std::abs(want)); }

TEST(PhiloxMath, LogWithinFourUlpOfLibm) {
  std::mt19937_64 rng(1);
  double worst = 0;
  for (const int bits : {24, 53}) {
    for (int t = 0; t < 200000; ++t) {
      const uint64_t k = (rng() >> (64 - bits)) + 1;  // 1 .. 2^bits
      const double u = std::ldexp(static_cast<double>(k), -bits);
      const double want = std::log(u), got = philox_log(u);
      if (want == 0) {
        EXPECT_EQ(got, 0.0);
        continue;
      }
      worst = std::max(worst, ulps(got, want));
    }
  }
  // edge arguments: the smallest u1, powers of two, both sides of sqrt(1/2), 1 and just below
  for (const double u : {std::ldexp(1.0, -53), std::ldexp(1.0, -24), 0.5, 0.25, 0.7071067811865475,
                         0.7071067811865476, 1.0 - std::ldexp(1.0, -53), 1.0 - std::ldexp(1.0, -24)})
    worst = std::max(worst, ulps(philox_log(u), std::log(u)));
  EXPECT_EQ(philox_log(1.0), 0.0);
  EXPECT_LE(worst, 4.0);
  RecordProperty("worst_log_ulps", std::to_string(worst));
}

TEST(PhiloxMath, SinCosOfTwoPiKOverTwoToTheBits) {
  std::mt19937_64 rng(2);
  double worst = 0;
  for (const int bits : {24, 53}) {
    for (int t = 0; t < 200000; ++t) {
      const uint64_t k = t < 64 ? (uint64_t{1} << (bits - 3)) * uint64_t(t % 8) + uint64_t(t / 8) - 3  // near octants
                                : rng() >> (64 - bits);
      const uint64_t kk = k & ((uint64_t{1} << bits) - 1);
      double s = 0, c = 0;
      philox_sincos_2pi(kk, bits, s, c);
      // Reference in long double (64-bit mantissa): the angle's rounding there is ~2^-64 relative.
      const long double theta = 2.0L * 3.14159265358979323846264338327950288L * static_cast<long double>(kk) /
                                std::ldexp(1.0L, bits);
      const double ws = static_cast<double>(std::sin(theta)), wc = static_cast<double>(std::cos(theta));
      // absolute error in units of 2^-53 (|sin|, |cos| <= 1; near zeros relative error is not meaningful here
      // because the long double angle itself carries ~1e-19 absolute error)
      worst = std::max(worst, std::abs(s - ws) / std::ldexp(1.0, -53));
      worst = std::max(worst, std::abs(c - wc) / std::ldexp(1.0, -53));
    }
  }
  EXPECT_LE(worst, 4.0);
  RecordProperty("worst_sincos_abs_ulps", std::to_string(worst));
  // exact quarter turns
  double s = 1, c = 1;
  philox_sincos_2pi(0, 53, s, c);
  EXPECT_EQ(s, 0.0);
  EXPECT_EQ(c, 1.0);
  philox_sincos_2pi(uint64_t{1} << 22, 24, s, c);  // 2 pi / 4
  EXPECT_EQ(s, 1.0);
  EXPECT_EQ(c, -0.0);
}

}  // namespace
