// Philox4x32-10: the engine's counter-based random number generator (Salmon, Moraes, Dror, Shaw,
// "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11; the Random123 library).
//
// Maths. Philox is a keyed bijection of a 128-bit counter, used as a PRNG by feeding it successive
// counters. The state is four 32-bit words (x0, x1, x2, x3) and a 64-bit key (k0, k1). One round:
//     (hi0, lo0) = M0 * x0   (full 64-bit product, M0 = 0xD2511F53)
//     (hi1, lo1) = M1 * x2   (M1 = 0xCD9E8D57)
//     (x0, x1, x2, x3) <- (hi1 ^ x1 ^ k0,  lo1,  hi0 ^ x3 ^ k1,  lo0)
// Between rounds the key is bumped by the Weyl constants: k0 += 0x9E3779B9, k1 += 0xBB67AE85 (mod
// 2^32). Ten rounds (the first with the unbumped key, nine bumps in between) give Philox4x32-10,
// which passes BigCrush with a safety margin. Because output block b is a pure function of
// (counter_b, key), any element of any draw can be computed independently: on a CPU thread or on a
// GPU thread, in any order, with the same result.
//
// Counter layout (shared by the CPU kernels in kernels/cpu/random.cpp and the CUDA twins).
// A draw for seed s, stream t and starting offset o evaluates Philox blocks b = 0, 1, 2, ... with
//     counter = { lo32(o + b), hi32(o + b), lo32(t), hi32(t) }      (o + b wraps mod 2^64)
//     key     = { lo32(s), hi32(s) }
// and maps the 4 output words w0..w3 of block b to elements as follows:
//     float  uniform: 4 per block, element 4b + j  = word j              -> u32_to_unit_float
//     float  normal : 4 per block, Box-Muller on (w0, w1) -> elements 4b, 4b+1 (r cos, r sin)
//                                   Box-Muller on (w2, w3) -> elements 4b+2, 4b+3
//     double uniform: 2 per block, element 2b = (w0, w1), element 2b+1 = (w2, w3) -> 53-bit doubles
//     double normal : 2 per block, the block's two 53-bit uniforms form one Box-Muller pair
//                                   -> elements 2b (r cos), 2b+1 (r sin)
// A draw of n elements consumes ceil(n / per_block) blocks; the Generator (engine/rng.h) advances its
// offset by that many, so consecutive draws never reuse a counter. Element i therefore depends only
// on (s, t, o, i); a draw split into pieces whose sizes are multiples of per_block reproduces the
// single draw exactly.
//
// Box-Muller: for u1 in (0,1] and u2 in [0,1), r = sqrt(-2 ln u1) and theta = 2 pi u2 give two
// independent N(0,1) values r cos(theta), r sin(theta). u1 comes from the open-at-zero conversion so
// ln never sees 0. Both float and double normals evaluate r, cos and sin in double (float normals
// round r cos / r sin to float, then apply the affine map in float).
//
// CPU/GPU identity: every output, uniform and normal, float and double, is bit-identical on the CPU
// and the GPU. The integer part (Philox, the uniform conversions) is exact, and the affine maps are
// explicit fma's (correctly rounded on both). libm's log/sin/cos would not do: glibc and CUDA's
// libdevice round their last ulp differently. So Box-Muller uses its own ln and sin/cos below
// (philox_log, philox_sincos_2pi), built only from operations IEEE 754 rounds correctly (+, -, *, /,
// sqrt, fma), exact scalings (frexp, ldexp) and integer arithmetic, with every multiply-add written as
// an explicit fma so that compiler contraction (nvcc's default -fmad=true, or -ffp-contract on an
// FMA-capable host target) finds nothing to fuse. Their accuracy (a few double ulp) is checked against
// libm in tests/core/test_philox_math.cpp; the CPU/GPU identity in tests/gpu/test_cuda_kernels.cpp.
#pragma once

#include <cstdint>
#include <math.h>

#ifdef __CUDACC__
#define GAN_HOST_DEVICE __host__ __device__
#else
#define GAN_HOST_DEVICE
#endif

namespace gan::kernels {

struct Philox4x32 {
  uint32_t v[4];
};

inline constexpr uint32_t kPhiloxM0 = 0xD2511F53u;  // multiplier applied to word 0
inline constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;  // multiplier applied to word 2
inline constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;  // golden ratio, key bump for k0
inline constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;  // sqrt(3) - 1, key bump for k1

// Outputs per Philox block for each draw kind (see the layout above).
inline constexpr int kPhiloxFloatUniformPerBlock = 4;
inline constexpr int kPhiloxFloatNormalPerBlock = 4;
inline constexpr int kPhiloxDoubleUniformPerBlock = 2;
inline constexpr int kPhiloxDoubleNormalPerBlock = 2;

// One Philox round. The 64-bit product compiles to mul.lo/mul.hi on the GPU and to one MUL on x86-64.
GAN_HOST_DEVICE inline Philox4x32 philox4x32_round(Philox4x32 x, uint32_t k0, uint32_t k1) {
  const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * x.v[0];
  const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * x.v[2];
  const uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
  const uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
  Philox4x32 y;
  y.v[0] = hi1 ^ x.v[1] ^ k0;
  y.v[1] = lo1;
  y.v[2] = hi0 ^ x.v[3] ^ k1;
  y.v[3] = lo0;
  return y;
}

// Philox4x32-10 exactly as Random123's philox4x32_R(10, ctr, key): round, then (bump key, round) x 9.
GAN_HOST_DEVICE inline Philox4x32 philox4x32_10(Philox4x32 counter, uint32_t key0, uint32_t key1) {
  counter = philox4x32_round(counter, key0, key1);
#ifdef __CUDA_ARCH__  // device pass only: the host compiler would warn about an unknown pragma
#pragma unroll
#endif
  for (int r = 1; r < 10; ++r) {
    key0 += kPhiloxW0;
    key1 += kPhiloxW1;
    counter = philox4x32_round(counter, key0, key1);
  }
  return counter;
}

// Block `counter_index` (= offset + b) of the draw keyed by (seed, stream), in the documented layout.
GAN_HOST_DEVICE inline Philox4x32 philox_block(uint64_t seed, uint64_t stream, uint64_t counter_index) {
  Philox4x32 c;
  c.v[0] = static_cast<uint32_t>(counter_index);
  c.v[1] = static_cast<uint32_t>(counter_index >> 32);
  c.v[2] = static_cast<uint32_t>(stream);
  c.v[3] = static_cast<uint32_t>(stream >> 32);
  return philox4x32_10(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// ---- uint32 -> uniform floating point ---------------------------------------------------------------
// Floats keep the top 24 bits (the float mantissa width), so every value is exactly k * 2^-24 and the
// conversion is exact: no rounding can push a result to 1.

// [0, 1): k * 2^-24, k = x >> 8 in [0, 2^24).
GAN_HOST_DEVICE inline float u32_to_unit_float(uint32_t x) {
  return static_cast<float>(x >> 8) * 5.9604644775390625e-08f;  // 2^-24
}

// (0, 1]: (k + 1) * 2^-24; safe as the argument of log() in Box-Muller.
GAN_HOST_DEVICE inline float u32_to_open_unit_float(uint32_t x) {
  return static_cast<float>((x >> 8) + 1u) * 5.9604644775390625e-08f;
}

// Doubles take 53 bits from two words: hi supplies the top 32 bits, lo the next 21.
GAN_HOST_DEVICE inline uint64_t u32x2_to_u53(uint32_t hi, uint32_t lo) {
  return ((static_cast<uint64_t>(hi) << 32) | lo) >> 11;
}

// [0, 1): k * 2^-53, k in [0, 2^53).
GAN_HOST_DEVICE inline double u32x2_to_unit_double(uint32_t hi, uint32_t lo) {
  return static_cast<double>(u32x2_to_u53(hi, lo)) * 1.1102230246251565e-16;  // 2^-53
}

// (0, 1]: (k + 1) * 2^-53.
GAN_HOST_DEVICE inline double u32x2_to_open_unit_double(uint32_t hi, uint32_t lo) {
  return static_cast<double>(u32x2_to_u53(hi, lo) + 1u) * 1.1102230246251565e-16;
}

// ---- [0,1) -> [lo, hi) ------------------------------------------------------------------------------
// lo + u (hi - lo) with one fused rounding (fma is correctly rounded on both CPU and GPU, so the result
// is bit-identical; a plain a*b+c could be contracted on one side only). Rounding can still land on hi
// (e.g. lo = 1, hi = 2, u = 1 - 2^-24), so such a value is pulled back to the largest value below hi
// to keep the half-open interval. A degenerate range lo >= hi returns the fma result unchanged.
GAN_HOST_DEVICE inline float unit_to_range(float u, float lo, float hi) {
  float x = ::fmaf(u, hi - lo, lo);
  if (x >= hi && lo < hi) x = nextafterf(hi, lo);
  return x;
}

GAN_HOST_DEVICE inline double unit_to_range(double u, double lo, double hi) {
  double x = ::fma(u, hi - lo, lo);
  if (x >= hi && lo < hi) x = nextafter(hi, lo);
  return x;
}

// ---- one Philox block -> outputs (the per-block maps of the layout above) ----------------------------
// Shared by the CPU loop and the CUDA kernels so both apply the very same arithmetic.

GAN_HOST_DEVICE inline void uniform_from_block(const Philox4x32& r, float lo, float hi, float out[4]) {
  for (int j = 0; j < 4; ++j) out[j] = unit_to_range(u32_to_unit_float(r.v[j]), lo, hi);
}

GAN_HOST_DEVICE inline void uniform_from_block(const Philox4x32& r, double lo, double hi, double out[2]) {
  out[0] = unit_to_range(u32x2_to_unit_double(r.v[0], r.v[1]), lo, hi);
  out[1] = unit_to_range(u32x2_to_unit_double(r.v[2], r.v[3]), lo, hi);
}

// ---- reproducible ln and sin/cos for Box-Muller (see "CPU/GPU identity" above) ----------------------

// ln(x) for a normal x in (0, 1]. x = m 2^e with m in [sqrt(1/2), sqrt(2)) (frexp and the doubling are
// exact), ln m = 2 atanh(s) with s = (m - 1)/(m + 1), |s| < 0.172, summed as 2s (1 + s^2/3 + ... + s^24/25)
// (the next term is below 2^-64 relative), and ln x = e ln2_hi + (e ln2_lo + ln m) with ln2_hi's low 32
// bits zero so e ln2_hi is exact. Error: a few ulp.
GAN_HOST_DEVICE inline double philox_log(double x) {
  int e = 0;
  double m = ::frexp(x, &e);  // m in [0.5, 1)
  if (m < 0x1.6a09e667f3bcdp-1) {  // sqrt(1/2)
    m = m * 2.0;
    e -= 1;
  }
  const double s = (m - 1.0) / (m + 1.0);
  const double z = s * s;
  double p = 0x1.47ae147ae147bp-5;       // 1/25
  p = ::fma(p, z, 0x1.642c8590b2164p-5);  // 1/23
  p = ::fma(p, z, 0x1.8618618618618p-5);  // 1/21
  p = ::fma(p, z, 0x1.af286bca1af28p-5);  // 1/19
  p = ::fma(p, z, 0x1.e1e1e1e1e1e1ep-5);  // 1/17
  p = ::fma(p, z, 0x1.1111111111111p-4);  // 1/15
  p = ::fma(p, z, 0x1.3b13b13b13b14p-4);  // 1/13
  p = ::fma(p, z, 0x1.745d1745d1746p-4);  // 1/11
  p = ::fma(p, z, 0x1.c71c71c71c71cp-4);  // 1/9
  p = ::fma(p, z, 0x1.2492492492492p-3);  // 1/7
  p = ::fma(p, z, 0x1.999999999999ap-3);  // 1/5
  p = ::fma(p, z, 0x1.5555555555555p-2);  // 1/3
  const double s2 = s + s;
  const double ln_m = ::fma(s2 * z, p, s2);
  const double de = static_cast<double>(e);
  return ::fma(de, 0x1.62e42fee00000p-1, ::fma(de, 0x1.a39ef35793c76p-33, ln_m));  // ln2 = hi + lo
}

// sin and cos of 2 pi k / 2^bits for an integer k in [0, 2^bits), 3 <= bits <= 53. The quadrant is split
// off in integer arithmetic, exactly: 2 pi k / 2^bits = (pi/2)(q + f) with q = round(4k / 2^bits) and
// f in [-1/2, 1/2), so no rounded multiple of pi ever enters. sin/cos((pi/2) f) are Taylor polynomials
// in f (|(pi/2) f| <= pi/4; the first omitted terms are below 2^-60), then rotated by q quarter turns.
GAN_HOST_DEVICE inline void philox_sincos_2pi(uint64_t k, int bits, double& sin_out, double& cos_out) {
  const uint64_t q = (k + (uint64_t{1} << (bits - 3))) >> (bits - 2);  // 0..4
  const int64_t rem = static_cast<int64_t>(k) - static_cast<int64_t>(q << (bits - 2));
  const double f = ::ldexp(static_cast<double>(rem), 2 - bits);  // exact: |rem| <= 2^(bits-3)
  const double f2 = f * f;
  double sp = -0x1.8a404211f9547p-45;       // (-1)^j (pi/2)^(2j+1) / (2j+1)!, j = 9 .. 0
  sp = ::fma(sp, f2, 0x1.aaec32af93359p-38);
  sp = ::fma(sp, f2, -0x1.6fadb9f155744p-31);
  sp = ::fma(sp, f2, 0x1.e8f434d018d63p-25);
  sp = ::fma(sp, f2, -0x1.e3074fde8871fp-19);
  sp = ::fma(sp, f2, 0x1.50783487ee782p-13);
  sp = ::fma(sp, f2, -0x1.32d2cce62bd86p-8);
  sp = ::fma(sp, f2, 0x1.466bc6775aae2p-4);
  sp = ::fma(sp, f2, -0x1.4abbce625be53p-1);
  sp = ::fma(sp, f2, 0x1.921fb54442d18p+0);
  const double s = f * sp;
  double cp = -0x1.2a0c591af8314p-41;       // (-1)^j (pi/2)^(2j) / (2j)!, j = 9 .. 1, then 1
  cp = ::fma(cp, f2, 0x1.20c62c2f2d7f5p-34);
  cp = ::fma(cp, f2, -0x1.b6e24f44b128fp-28);
  cp = ::fma(cp, f2, 0x1.f9d38a3763cc3p-22);
  cp = ::fma(cp, f2, -0x1.a6d1f2a204a8cp-16);
  cp = ::fma(cp, f2, 0x1.e1f506891babbp-11);
  cp = ::fma(cp, f2, -0x1.55d3c7e3cbffap-6);
  cp = ::fma(cp, f2, 0x1.03c1f081b5ac4p-2);
  cp = ::fma(cp, f2, -0x1.3bd3cc9be45dep+0);
  const double c = ::fma(cp, f2, 1.0);
  switch (q & 3u) {
    case 0: sin_out = s; cos_out = c; break;
    case 1: sin_out = c; cos_out = -s; break;
    case 2: sin_out = -s; cos_out = -c; break;
    default: sin_out = -c; cos_out = s; break;
  }
}

// Box-Muller on one pair of uniform integers: u1 = k1 / 2^bits in (0, 1], u2 = k2 / 2^bits in [0, 1).
GAN_HOST_DEVICE inline void box_muller_pair(uint64_t k1, uint64_t k2, int bits, double& z0, double& z1) {
  const double u1 = ::ldexp(static_cast<double>(k1), -bits);  // exact: k1 <= 2^bits <= 2^53
  const double r = ::sqrt(-2.0 * philox_log(u1));
  double s = 0.0, c = 0.0;
  philox_sincos_2pi(k2, bits, s, c);
  z0 = r * c;
  z1 = r * s;
}

// Float normals: the words' top 24 bits, as in u32_to_open_unit_float (u1) and u32_to_unit_float (u2).
GAN_HOST_DEVICE inline void normal_from_block(const Philox4x32& r, float mean, float stddev, float out[4]) {
  for (int p = 0; p < 2; ++p) {
    double z0 = 0.0, z1 = 0.0;
    box_muller_pair((r.v[2 * p] >> 8) + 1u, r.v[2 * p + 1] >> 8, 24, z0, z1);
    out[2 * p] = ::fmaf(static_cast<float>(z0), stddev, mean);
    out[2 * p + 1] = ::fmaf(static_cast<float>(z1), stddev, mean);
  }
}

// Double normals: 53-bit integers as in u32x2_to_open_unit_double (u1) and u32x2_to_unit_double (u2).
GAN_HOST_DEVICE inline void normal_from_block(const Philox4x32& r, double mean, double stddev, double out[2]) {
  double z0 = 0.0, z1 = 0.0;
  box_muller_pair(u32x2_to_u53(r.v[0], r.v[1]) + 1u, u32x2_to_u53(r.v[2], r.v[3]), 53, z0, z1);
  out[0] = ::fma(z0, stddev, mean);
  out[1] = ::fma(z1, stddev, mean);
}

}  // namespace gan::kernels
