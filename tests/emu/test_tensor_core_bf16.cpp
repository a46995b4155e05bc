// The BF16 tensor-core instructions (kernels/cuda/mma.cuh on kernels/cuda/emu/tensor_core.h) against the PTX ISA:
// cvt.rn.bf16x2.f32 (nearest, ties to even, infinities, overflow, subnormals, NaN, which half each source lands
// in), against an independent reference on 100,000 random bit patterns, together with the host-side
// kernels::bf16_round that the CPU twins use; the m16n8k16 .bf16 fragment layouts, exactly (each element where the
// ISA puts it; a kernel with a deliberately swapped fragment gets a different answer); and products of rounded
// operands, exact in FP32.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "device_array.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/math_mode.h"

namespace {

namespace kc = gan::kernels::cuda;

using gan::testing::DeviceArray;

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// The independent reference: x rounded to bf16 by comparing distances in double. The two candidates are x's
// bits truncated to their high 16 (toward zero) and the next bf16 away from zero; the nearer wins, a tie goes to
// the one whose last kept bit is 0. Past bf16's largest finite value the next one is infinity, which counts as
// 2^128 here, as IEEE 754 rounding does (overflow to infinity from max + half an ulp on). Not for NaN.
uint16_t reference_bf16(float x) {
  const uint32_t u = bits(x);
  if (std::isinf(x)) return static_cast<uint16_t>(u >> 16);
  const uint32_t down = u & 0xffff0000u, up = down + 0x10000u;
  const auto value = [](uint32_t b) {
    if ((b & 0x7f800000u) == 0x7f800000u) return (b & 0x80000000u) ? -std::ldexp(1.0, 128) : std::ldexp(1.0, 128);
    return double(from_bits(b));
  };
  const double dd = std::fabs(double(x) - value(down)), du = std::fabs(value(up) - double(x));
  if (dd < du) return static_cast<uint16_t>(down >> 16);
  if (du < dd) return static_cast<uint16_t>(up >> 16);
  return static_cast<uint16_t>(((down >> 16) & 1u) == 0 ? down >> 16 : up >> 16);
}

// out[i] = in[2i] and in[2i + 1] packed by cvt.rn.bf16x2.f32 (lo, hi).
__global__ void pack_kernel(const float* in, uint32_t* out, int pairs) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < pairs) out[i] = kc::bf16x2_pack(in[2 * i], in[2 * i + 1]);
}

// Every float of `in` rounded on the device, one bf16 each (lo halves of pairs, then hi halves).
std::vector<uint16_t> device_round(const std::vector<float>& in) {
  std::vector<float> padded = in;
  if (padded.size() % 2) padded.push_back(0.0f);
  const int pairs = static_cast<int>(padded.size() / 2);
  DeviceArray<float> d_in(padded);
  DeviceArray<uint32_t> d_out(static_cast<size_t>(pairs));
  kc::launch<pack_kernel>((pairs + 255) / 256, 256, 0, kc::stream(), d_in.ptr, d_out.ptr, pairs);
  const std::vector<uint32_t> packed = d_out.download();
  std::vector<uint16_t> out(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    out[i] = static_cast<uint16_t>(i % 2 == 0 ? packed[i / 2] & 0xffffu : packed[i / 2] >> 16);
  return out;
}

bool is_bf16_nan(uint16_t h) { return (h & 0x7f80u) == 0x7f80u && (h & 0x007fu) != 0; }

TEST(TensorCoreBf16, RoundingIsNearestTiesToEven) {
  const float ulp = std::ldexp(1.0f, -7);  // bf16's ulp at 1 (7 explicit significand bits)
  const float half = std::ldexp(1.0f, -8);
  const float inf = std::numeric_limits<float>::infinity();
  struct Case {
    float in;
    uint32_t want;  // the bf16's bits as the high half of a float
  };
  const std::vector<Case> cases = {
      {1.0f, bits(1.0f)},
      {1.0f + half, bits(1.0f)},                                   // tie, even below: down (not away from zero)
      {1.0f + 3 * half, bits(1.0f + 2 * ulp)},                     // tie, odd below: up to even
      {-(1.0f + half), bits(-1.0f)},                               // negative ties to even too
      {-(1.0f + 3 * half), bits(-(1.0f + 2 * ulp))},
      {1.0f + half + std::ldexp(1.0f, -23), bits(1.0f + ulp)},    // just above the tie: up
      {1.0f + 3 * half - std::ldexp(1.0f, -23), bits(1.0f + ulp)},  // just below the tie: down
      {2.0f - half, bits(2.0f)},                                   // tie with a carry into the exponent (even)
      {from_bits(0x7f7f0000u), 0x7f7f0000u},                       // bf16's largest finite value is kept
      {from_bits(0x7f7f7fffu), 0x7f7f0000u},                       // below max + half an ulp: max
      {from_bits(0x7f7f8000u), 0x7f800000u},                       // max + half an ulp, odd: overflow to infinity
      {std::numeric_limits<float>::max(), 0x7f800000u},
      {-std::numeric_limits<float>::max(), 0xff800000u},
      {inf, 0x7f800000u},
      {-inf, 0xff800000u},
      {0.0f, 0x00000000u},
      {-0.0f, 0x80000000u},
      {from_bits(0x00000001u), 0x00000000u},                       // the smallest FP32 subnormal: to zero
      {from_bits(0x00008000u), 0x00000000u},                       // a subnormal tie, even below: zero
      {from_bits(0x00018000u), 0x00020000u},                       // a subnormal tie, odd below: up
      {from_bits(0x00010000u), 0x00010000u},                       // bf16's smallest subnormal is kept
      {from_bits(0x807fffffu), 0x80800000u},                       // the largest subnormal rounds to -FLT_MIN
  };
  std::vector<float> in;
  for (const Case& c : cases) in.push_back(c.in);
  in.push_back(std::numeric_limits<float>::quiet_NaN());
  in.push_back(from_bits(0x7f800001u));  // a NaN whose payload is in the low 16 bits only: must stay a NaN
  in.push_back(from_bits(0xff800001u));
  const std::vector<uint16_t> dev = device_round(in);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(uint32_t(dev[i]) << 16, cases[i].want) << "cvt.rn.bf16 of " << cases[i].in << " (case " << i << ")";
    EXPECT_EQ(bits(gan::kernels::bf16_round(cases[i].in)), cases[i].want) << "bf16_round, case " << i;
    EXPECT_EQ(uint32_t(reference_bf16(cases[i].in)) << 16, cases[i].want) << "reference, case " << i;
  }
  for (size_t i = cases.size(); i < in.size(); ++i) {
    EXPECT_TRUE(is_bf16_nan(dev[i])) << "cvt.rn.bf16 of NaN " << std::hex << bits(in[i]) << " gave " << dev[i];
    EXPECT_TRUE(std::isnan(gan::kernels::bf16_round(in[i]))) << "bf16_round of NaN " << std::hex << bits(in[i]);
    EXPECT_EQ(bits(gan::kernels::bf16_round(in[i])) & 0xffffu, 0u) << "bf16_round leaves low bits in a NaN";
  }
}

TEST(TensorCoreBf16, PackPutsTheFirstValueInTheLowHalf) {
  DeviceArray<float> d_in(std::vector<float>{1.0f, -2.0f});
  DeviceArray<uint32_t> d_out(1);
  kc::launch<pack_kernel>(1, 32, 0, kc::stream(), d_in.ptr, d_out.ptr, 1);
  EXPECT_EQ(d_out.download()[0], (bits(-2.0f) & 0xffff0000u) | (bits(1.0f) >> 16));
}

TEST(TensorCoreBf16, RoundingAgreesWithTheReferenceOnRandomPatterns) {
  std::mt19937 rng(17);
  std::vector<float> in;
  while (in.size() < 100000) {
    const float x = from_bits(static_cast<uint32_t>(rng()));
    if (!std::isnan(x)) in.push_back(x);
  }
  const std::vector<uint16_t> dev = device_round(in);
  int mismatches = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const uint16_t want = reference_bf16(in[i]);
    const uint32_t host = bits(gan::kernels::bf16_round(in[i]));
    if (dev[i] != want || host != uint32_t(want) << 16) {
      if (++mismatches <= 10)
        ADD_FAILURE() << std::hex << "x bits " << bits(in[i]) << ": reference " << want << ", cvt.rn " << dev[i]
                      << ", bf16_round " << host;
    }
  }
  EXPECT_EQ(mismatches, 0);
}

// ---- mma.sync m16n8k16 .bf16 ----

// Ways to get the fragments wrong, for the test that the layout check catches them.
enum Swap : int { kNone, kHalvesOfA0, kA1WithA2, kB0WithB1, kCRows };

// One m16n8k16 per warp: A [warps][16][16] row-major, B [warps][16][8] (B[k][n]), C and D [warps][16][8]. Each
// lane gathers its fragments by the ISA's layout (or a wrong one, `swap`) and scatters its D fragment back.
__global__ void mma_bf16_kernel(const float* A, const float* B, const float* C, float* D, int swap) {
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int g = lane >> 2, t = lane & 3;
  const float* a_w = A + warp * 256;
  const float* b_w = B + warp * 128;
  const float* c_w = C + warp * 128;
  const auto a_at = [&](int r, int k) { return a_w[r * 16 + k]; };
  const auto b_at = [&](int k, int n) { return b_w[k * 8 + n]; };
  uint32_t a[4] = {kc::bf16x2_pack(a_at(g, 2 * t), a_at(g, 2 * t + 1)),
                   kc::bf16x2_pack(a_at(g + 8, 2 * t), a_at(g + 8, 2 * t + 1)),
                   kc::bf16x2_pack(a_at(g, 2 * t + 8), a_at(g, 2 * t + 9)),
                   kc::bf16x2_pack(a_at(g + 8, 2 * t + 8), a_at(g + 8, 2 * t + 9))};
  uint32_t b[2] = {kc::bf16x2_pack(b_at(2 * t, g), b_at(2 * t + 1, g)),
                   kc::bf16x2_pack(b_at(2 * t + 8, g), b_at(2 * t + 9, g))};
  float c[4] = {c_w[g * 8 + 2 * t], c_w[g * 8 + 2 * t + 1], c_w[(g + 8) * 8 + 2 * t], c_w[(g + 8) * 8 + 2 * t + 1]};
  if (swap == kHalvesOfA0) a[0] = (a[0] << 16) | (a[0] >> 16);
  if (swap == kA1WithA2) {
    const uint32_t x = a[1];
    a[1] = a[2], a[2] = x;
  }
  if (swap == kB0WithB1) {
    const uint32_t x = b[0];
    b[0] = b[1], b[1] = x;
  }
  if (swap == kCRows) {
    const float x = c[0];
    c[0] = c[2], c[2] = x;
  }
  float d[4];
  kc::mma_bf16_m16n8k16(d, a, b, c);
  float* d_w = D + warp * 128;
  d_w[g * 8 + 2 * t] = d[0], d_w[g * 8 + 2 * t + 1] = d[1];
  d_w[(g + 8) * 8 + 2 * t] = d[2], d_w[(g + 8) * 8 + 2 * t + 1] = d[3];
}

// D = A B + C on the host in double, the operands rounded to bf16 first (bf16 products have 16 significant bits
// and the values here are small, so every product and sum is exact in double and any summation order agrees).
std::vector<float> reference_mma(const std::vector<float>& A, const std::vector<float>& B,
                                 const std::vector<float>& C, int warps) {
  std::vector<float> D(C.size());
  for (int w = 0; w < warps; ++w)
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 8; ++n) {
        double s = C[w * 128 + m * 8 + n];
        for (int k = 0; k < 16; ++k)
          s += double(gan::kernels::bf16_round(A[w * 256 + m * 16 + k])) *
               double(gan::kernels::bf16_round(B[w * 128 + k * 8 + n]));
        D[w * 128 + m * 8 + n] = static_cast<float>(s);
      }
  return D;
}

std::vector<float> run_mma(const std::vector<float>& A, const std::vector<float>& B, const std::vector<float>& C,
                           int warps, Swap swap) {
  DeviceArray<float> dA(A), dB(B), dC(C), dD(C.size());
  kc::launch<mma_bf16_kernel>(1, 32 * warps, 0, kc::stream(), dA.ptr, dB.ptr, dC.ptr, dD.ptr, int(swap));
  return dD.download();
}

TEST(TensorCoreBf16, MmaFragmentsFollowThePtxLayoutExactly) {
  // Small integers (exact in bf16) everywhere: an element in the wrong place changes the product.
  constexpr int warps = 2;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> val(-64, 64);
  std::vector<float> A(warps * 256), B(warps * 128), C(warps * 128);
  for (float& v : A) v = float(val(rng));
  for (float& v : B) v = float(val(rng));
  for (float& v : C) v = float(val(rng) * 16);
  const std::vector<float> want = reference_mma(A, B, C, warps);
  const std::vector<float> got = run_mma(A, B, C, warps, kNone);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "D element " << i;
  // Each wrong layout gives a wrong answer for many elements: the check above would catch it.
  for (const Swap swap : {kHalvesOfA0, kA1WithA2, kB0WithB1, kCRows}) {
    const std::vector<float> wrong = run_mma(A, B, C, warps, swap);
    int differ = 0;
    for (size_t i = 0; i < wrong.size(); ++i) differ += wrong[i] != want[i];
    EXPECT_GT(differ, 16) << "swap " << int(swap) << " went unnoticed";
  }
}

TEST(TensorCoreBf16, MmaGivesTheExactProductOfRoundedOperands) {
  // Full-precision operands: the result is the sum of the products of the RNE-rounded operands, exactly (each
  // rounded operand is a multiple of 2^-7 times a power of two of magnitude < 4; products are exact in FP32 and
  // their sums here exact in double, so the FP32 result is the exact sum rounded once).
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> val(-4.0f, 4.0f);
  std::vector<float> A(256), B(128), C(128);
  for (float& v : A) v = val(rng);
  for (float& v : B) v = val(rng);
  for (float& v : C) v = val(rng);
  const std::vector<float> got = run_mma(A, B, C, 1, kNone);
  const std::vector<float> want = reference_mma(A, B, C, 1);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(bits(got[i]), bits(want[i])) << "D element " << i;
  // And rounding mattered: the unrounded product differs for most elements.
  int differ = 0;
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 8; ++n) {
      double s = C[m * 8 + n];
      for (int k = 0; k < 16; ++k) s += double(A[m * 16 + k]) * double(B[k * 8 + n]);
      differ += static_cast<float>(s) != got[m * 8 + n];
    }
  EXPECT_GT(differ, 100);
}

// A 2 x 3 warp tile: mma_bf16_tile must give, bit for bit, what six single mmas give.
__global__ void mma_bf16_tile_kernel(const float* in, float* out_tile, float* out_single) {
  const int lane = static_cast<int>(threadIdx.x);
  uint32_t a[2][4], b[3][2];
  float acc[2][3][4], single[2][3][4];
  for (int i = 0; i < 2; ++i)
    for (int q = 0; q < 4; ++q) a[i][q] = kc::bf16x2_pack(in[(lane * 8 + i * 4 + q) * 2], in[(lane * 8 + i * 4 + q) * 2 + 1]);
  for (int j = 0; j < 3; ++j)
    for (int q = 0; q < 2; ++q)
      b[j][q] = kc::bf16x2_pack(in[512 + (lane * 6 + j * 2 + q) * 2], in[512 + (lane * 6 + j * 2 + q) * 2 + 1]);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int q = 0; q < 4; ++q) acc[i][j][q] = single[i][j][q] = in[896 + ((lane * 2 + i) * 3 + j) * 4 + q];
  kc::mma_bf16_tile<2, 3>(acc, a, b);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) kc::mma_bf16_m16n8k16(single[i][j], a[i], b[j], single[i][j]);
  for (int e = 0; e < 24; ++e) {
    out_tile[lane * 24 + e] = (&acc[0][0][0])[e];
    out_single[lane * 24 + e] = (&single[0][0][0])[e];
  }
}

TEST(TensorCoreBf16, MmaWarpTileEqualsItsSingleMmas) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  std::vector<float> in(896 + 768);
  for (float& v : in) v = nd(rng);
  DeviceArray<float> d_in(in), tile(32 * 24), single(32 * 24);
  kc::launch<mma_bf16_tile_kernel>(1, 32, 0, kc::stream(), d_in.ptr, tile.ptr, single.ptr);
  const std::vector<float> t = tile.download(), s = single.download();
  for (size_t i = 0; i < t.size(); ++i) ASSERT_EQ(bits(t[i]), bits(s[i])) << "element " << i;
}

TEST(TensorCoreBf16, MmaNeedsTheWholeWarp) {
  DeviceArray<float> dA(256), dB(128), dC(128), dD(128);
  EXPECT_THROW(kc::launch<mma_bf16_kernel>(1, 16, 0, kc::stream(), dA.ptr, dB.ptr, dC.ptr, dD.ptr, int(kNone)),
               std::runtime_error);
}

}  // namespace
