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
// ln never sees 0.
//
// CPU/GPU identity: the integer part (Philox, the uniform conversions, the fma-based affine map) is
// exact IEEE arithmetic and therefore bit-identical on both. Normals go through log/sqrt/sin/cos,
// whose last-ulp rounding differs between glibc and CUDA's libdevice, so CPU and GPU normals agree
// to a few ulp, not bit for bit. Determinism on one device is exact.
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

// Box-Muller in float (u1 in (0,1] from the first word, u2 in [0,1) from the second).
GAN_HOST_DEVICE inline void box_muller(uint32_t a, uint32_t b, float& z0, float& z1) {
  const float u1 = u32_to_open_unit_float(a);
  const float u2 = u32_to_unit_float(b);
  const float r = ::sqrtf(-2.0f * ::logf(u1));
  const float theta = 6.28318530717958647692f * u2;
  z0 = r * ::cosf(theta);
  z1 = r * ::sinf(theta);
}

GAN_HOST_DEVICE inline void normal_from_block(const Philox4x32& r, float mean, float stddev, float out[4]) {
  float z[4];
  box_muller(r.v[0], r.v[1], z[0], z[1]);
  box_muller(r.v[2], r.v[3], z[2], z[3]);
  for (int j = 0; j < 4; ++j) out[j] = ::fmaf(z[j], stddev, mean);
}

GAN_HOST_DEVICE inline void normal_from_block(const Philox4x32& r, double mean, double stddev, double out[2]) {
  const double u1 = u32x2_to_open_unit_double(r.v[0], r.v[1]);
  const double u2 = u32x2_to_unit_double(r.v[2], r.v[3]);
  const double rad = ::sqrt(-2.0 * ::log(u1));
  const double theta = 6.28318530717958647692 * u2;
  out[0] = ::fma(rad * ::cos(theta), stddev, mean);
  out[1] = ::fma(rad * ::sin(theta), stddev, mean);
}

}  // namespace gan::kernels
