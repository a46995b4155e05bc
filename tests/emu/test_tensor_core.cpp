// The emulated tensor-core and async-copy instructions (kernels/cuda/mma.cuh on kernels/cuda/emu/tensor_core.h)
// against the PTX ISA: TF32 rounding (cvt.rna: ties away from zero, negatives, infinities, NaN, overflow), the
// m16n8k8 fragment layouts (each lane's D fragment equals the reference product of the TF32 operands, exactly),
// truncation of operands that were not rounded, and cp.async's completion rules (data land only at the matching
// wait_group; a read before the wait, the deliberately wrong kernel here, sees NaN).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "device_array.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/runtime.h"

namespace {

namespace kc = gan::kernels::cuda;

using gan::testing::DeviceArray;

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

// ---- cvt.rna.tf32.f32 ----

__global__ void round_kernel(const float* in, float* out, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = kc::tf32_round(in[i]);
}

TEST(TensorCore, Tf32RoundingIsNearestTiesAwayFromZero) {
  const float ulp = std::ldexp(1.0f, -10);  // TF32's ulp at 1
  const float half = std::ldexp(1.0f, -11);
  const float inf = std::numeric_limits<float>::infinity();
  struct Case {
    float in, want;
  };
  const std::vector<Case> cases = {
      {1.0f, 1.0f},
      {1.0f + half, 1.0f + ulp},                        // tie, even below: away from zero anyway (not to even)
      {1.0f + 3 * half, 1.0f + 2 * ulp},                // tie, odd below: up
      {-(1.0f + half), -(1.0f + ulp)},                  // negative tie: away from zero
      {1.0f + half - std::ldexp(1.0f, -23), 1.0f},      // just below the tie: down
      {1.0f + half + std::ldexp(1.0f, -23), 1.0f + ulp},
      {-(1.0f + 3 * half), -(1.0f + 2 * ulp)},
      {2.0f - half, 2.0f},                              // carry into the exponent
      {std::numeric_limits<float>::max(), inf},         // beyond TF32's largest finite value
      {-std::numeric_limits<float>::max(), -inf},
      {inf, inf},
      {-inf, -inf},
      {0.0f, 0.0f},
      {-0.0f, -0.0f},
      {std::ldexp(1.0f, -149), 0.0f},                   // the smallest subnormal: below half a TF32 ulp
      {std::ldexp(1.0f, -137), std::ldexp(1.0f, -136)}, // a subnormal tie (0x1000): away from zero
  };
  std::vector<float> in;
  for (const Case& c : cases) in.push_back(c.in);
  in.push_back(std::numeric_limits<float>::quiet_NaN());
  float payload_nan;  // a NaN whose payload sits in the low 13 bits only: must not become an infinity
  const uint32_t nan_bits = 0x7f800001u;
  std::memcpy(&payload_nan, &nan_bits, 4);
  in.push_back(payload_nan);
  const int n = static_cast<int>(in.size());
  DeviceArray<float> d_in(in), d_out(in.size());
  kc::launch<round_kernel>(1, 32, 0, kc::stream(), d_in.ptr, d_out.ptr, n);
  const std::vector<float> got = d_out.download();
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(bits(got[i]), bits(cases[i].want)) << "tf32_round(" << cases[i].in << ") = " << got[i];
    EXPECT_EQ(bits(got[i]) & 0x1fffu, 0u);
  }
  EXPECT_TRUE(std::isnan(got[cases.size()]));
  EXPECT_TRUE(std::isnan(got[cases.size() + 1]));
  // The host-side twin agrees everywhere on a sweep of random bit patterns.
  std::mt19937 rng(7);
  for (int i = 0; i < 100000; ++i) {
    uint32_t u = rng();
    float x;
    std::memcpy(&x, &u, 4);
    if (std::isnan(x)) continue;
    const float r = gan::emu::tf32_round(x);
    const double err = std::fabs(double(r) - double(x));
    if (std::isinf(r) && !std::isinf(x)) continue;  // overflow, checked above
    // Within half a TF32 ulp of x: 2^-11 relative for normal numbers, 2^-137 (half of 2^13 subnormal steps of
    // 2^-149) below them.
    EXPECT_LE(err, std::max(std::ldexp(std::fabs(double(x)), -11), std::ldexp(1.0, -137))) << x;
  }
}

// ---- mma.sync m16n8k8 ----

// One m16n8k8 per warp: A [warps][16][8] row-major, B [warps][8][8] (B[k][n]), C and D [warps][16][8]. Each lane
// gathers its fragments by the ISA's layout and scatters its D fragment back the same way.
__global__ void mma_kernel(const float* A, const float* B, const float* C, float* D, bool round) {
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const int g = lane >> 2, t = lane & 3;
  const float* a_w = A + warp * 128;
  const float* b_w = B + warp * 64;
  const float* c_w = C + warp * 128;
  float a[4] = {a_w[g * 8 + t], a_w[(g + 8) * 8 + t], a_w[g * 8 + t + 4], a_w[(g + 8) * 8 + t + 4]};
  float b[2] = {b_w[t * 8 + g], b_w[(t + 4) * 8 + g]};
  const float c[4] = {c_w[g * 8 + 2 * t], c_w[g * 8 + 2 * t + 1], c_w[(g + 8) * 8 + 2 * t],
                      c_w[(g + 8) * 8 + 2 * t + 1]};
  if (round) {
    for (float& v : a) v = kc::tf32_round(v);
    for (float& v : b) v = kc::tf32_round(v);
  }
  float d[4];
  kc::mma_tf32_m16n8k8(d, a, b, c);
  float* d_w = D + warp * 128;
  d_w[g * 8 + 2 * t] = d[0], d_w[g * 8 + 2 * t + 1] = d[1];
  d_w[(g + 8) * 8 + 2 * t] = d[2], d_w[(g + 8) * 8 + 2 * t + 1] = d[3];
}

// D = A B + C on the host in double (exact for the small integers used here, so any summation order agrees).
std::vector<float> reference(const std::vector<float>& A, const std::vector<float>& B, const std::vector<float>& C,
                             int warps, float (*op)(float)) {
  std::vector<float> D(C.size());
  for (int w = 0; w < warps; ++w)
    for (int m = 0; m < 16; ++m)
      for (int n = 0; n < 8; ++n) {
        double s = C[w * 128 + m * 8 + n];
        for (int k = 0; k < 8; ++k) s += double(op(A[w * 128 + m * 8 + k])) * double(op(B[w * 64 + k * 8 + n]));
        D[w * 128 + m * 8 + n] = static_cast<float>(s);
      }
  return D;
}

TEST(TensorCore, MmaFragmentsFollowThePtxLayoutExactly) {
  // Distinct small integers everywhere: a fragment in the wrong place changes the product.
  constexpr int warps = 2;
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> val(-64, 64);
  std::vector<float> A(warps * 128), B(warps * 64), C(warps * 128);
  for (float& v : A) v = float(val(rng));
  for (float& v : B) v = float(val(rng));
  for (float& v : C) v = float(val(rng) * 16);
  DeviceArray<float> dA(A), dB(B), dC(C), dD(C.size());
  kc::launch<mma_kernel>(1, 32 * warps, 0, kc::stream(), dA.ptr, dB.ptr, dC.ptr, dD.ptr, true);
  const std::vector<float> got = dD.download();
  const std::vector<float> want = reference(A, B, C, warps, [](float x) { return x; });
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "D element " << i;
}

TEST(TensorCore, MmaRoundedOperandsGiveTheTf32Product) {
  // Values with more than 10 mantissa bits: the result is the product of the rounded operands, exactly (each
  // rounded operand is a multiple of 2^-10 of magnitude < 8, so the products and sums are exact in double).
  constexpr int warps = 1;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> val(-4.0f, 4.0f);
  std::vector<float> A(128), B(64), C(128, 0.0f);
  for (float& v : A) v = val(rng);
  for (float& v : B) v = val(rng);
  DeviceArray<float> dA(A), dB(B), dC(C), dD(C.size());
  kc::launch<mma_kernel>(1, 32, 0, kc::stream(), dA.ptr, dB.ptr, dC.ptr, dD.ptr, true);
  const std::vector<float> got = dD.download();
  const std::vector<float> want = reference(A, B, C, warps, gan::emu::tf32_round);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << "D element " << i;
  // Not rounded: the tensor core drops the low 13 bits (truncation), a different (biased) answer.
  kc::launch<mma_kernel>(1, 32, 0, kc::stream(), dA.ptr, dB.ptr, dC.ptr, dD.ptr, false);
  const std::vector<float> truncated = dD.download();
  const std::vector<float> want_trunc = reference(A, B, C, warps, gan::emu::tf32_truncate);
  int differ = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(truncated[i], want_trunc[i]) << "D element " << i;
    differ += truncated[i] != got[i];
  }
  EXPECT_GT(differ, 64);  // rounding matters for most elements
}

// A 2 x 3 warp tile: mma_tf32_tile must give, bit for bit, what six single mmas give.
__global__ void mma_tile_kernel(const float* in, float* out_tile, float* out_single) {
  const int lane = static_cast<int>(threadIdx.x);
  float a[2][4], b[3][2], acc[2][3][4], single[2][3][4];
  for (int i = 0; i < 2; ++i)
    for (int q = 0; q < 4; ++q) a[i][q] = kc::tf32_round(in[(lane * 2 + i) * 4 + q]);
  for (int j = 0; j < 3; ++j)
    for (int q = 0; q < 2; ++q) b[j][q] = kc::tf32_round(in[256 + (lane * 3 + j) * 2 + q]);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int q = 0; q < 4; ++q) acc[i][j][q] = single[i][j][q] = in[448 + ((lane * 2 + i) * 3 + j) * 4 + q];
  kc::mma_tf32_tile<2, 3>(acc, a, b);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) kc::mma_tf32_m16n8k8(single[i][j], a[i], b[j], single[i][j]);
  for (int e = 0; e < 24; ++e) {
    out_tile[lane * 24 + e] = (&acc[0][0][0])[e];
    out_single[lane * 24 + e] = (&single[0][0][0])[e];
  }
}

TEST(TensorCore, MmaWarpTileEqualsItsSingleMmas) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  std::vector<float> in(448 + 768);
  for (float& v : in) v = nd(rng);
  DeviceArray<float> d_in(in), tile(32 * 24), single(32 * 24);
  kc::launch<mma_tile_kernel>(1, 32, 0, kc::stream(), d_in.ptr, tile.ptr, single.ptr);
  const std::vector<float> t = tile.download(), s = single.download();
  for (size_t i = 0; i < t.size(); ++i) ASSERT_EQ(bits(t[i]), bits(s[i])) << "element " << i;
}

TEST(TensorCore, MmaNeedsTheWholeWarp) {
  DeviceArray<float> dA(128), dB(64), dC(128), dD(128);
  // 16 threads: the warp's other lanes do not exist, which mma.sync.aligned forbids.
  EXPECT_THROW(kc::launch<mma_kernel>(1, 16, 0, kc::stream(), dA.ptr, dB.ptr, dC.ptr, dD.ptr, true),
               std::runtime_error);
}

// ---- cp.async ----

// Each thread copies in[i] (4 bytes, or 16 bytes for the vector case) to shared memory, then reads its
// neighbour's element after wait + barrier. Stage 0 goes in one group, stage 1 in the next; `wait` says how many
// groups may stay pending before the reads (0: both landed; 1: only stage 0 landed; -1: no wait at all, the bug
// the emulator must catch).
__global__ void cp_async_kernel(const float* in, float* out, int n, int wait) {
  struct __align__(16) Stages {
    float stage0[64], stage1[64], vec[64 * 4];
  };
  __shared__ Stages sm;
  float* stage0 = sm.stage0;
  float* stage1 = sm.stage1;
  float* vec = sm.vec;
  const int i = static_cast<int>(threadIdx.x);
  kc::cp_async_4(&stage0[i], in + i, true);
  kc::cp_async_16(&vec[4 * i], in + 64 + 4 * i, i % 2 == 0);  // odd threads: zero fill
  kc::cp_async_commit_group();
  kc::cp_async_4(&stage1[i], in + i, i < n);
  kc::cp_async_commit_group();
  if (wait == 0) kc::cp_async_wait_group<0>();
  if (wait == 1) kc::cp_async_wait_group<1>();
  __syncthreads();
  const int j = (i + 1) % 64;
  out[i] = stage0[j];
  out[64 + i] = stage1[j];
  for (int q = 0; q < 4; ++q) out[128 + 4 * i + q] = vec[4 * j + q];
}

TEST(TensorCore, CpAsyncLandsAtItsWaitGroup) {
  std::vector<float> in(64 + 256);
  for (size_t i = 0; i < in.size(); ++i) in[i] = float(i) + 0.5f;
  DeviceArray<float> d_in(in), d_out(64 * 6);
  for (int wait : {0, 1, -1}) {
    const int n = 40;  // stage 1 zero-fills past n
    kc::launch<cp_async_kernel>(1, 64, 0, kc::stream(), d_in.ptr, d_out.ptr, n, wait);
    const std::vector<float> got = d_out.download();
    for (int i = 0; i < 64; ++i) {
      const int j = (i + 1) % 64;
      if (wait == -1) {  // nothing waited for: every read sees the poison
        EXPECT_TRUE(std::isnan(got[i])) << "wait " << wait << " thread " << i;
        EXPECT_TRUE(std::isnan(got[64 + i])) << "wait " << wait << " thread " << i;
        continue;
      }
      EXPECT_EQ(got[i], in[j]) << "stage 0, wait " << wait << ", thread " << i;
      for (int q = 0; q < 4; ++q)
        EXPECT_EQ(got[128 + 4 * i + q], j % 2 == 0 ? in[64 + 4 * j + q] : 0.0f) << "16-byte copy, thread " << i;
      if (wait == 1)  // the newest group may still be in flight: the emulator keeps it so
        EXPECT_TRUE(std::isnan(got[64 + i])) << "stage 1 read before its wait, thread " << i;
      else
        EXPECT_EQ(got[64 + i], j < n ? in[j] : 0.0f) << "stage 1, thread " << i;
    }
  }
}

__global__ void misaligned_cp_async_kernel(const float* in) {
  struct __align__(16) Buf {
    float v[8];
  };
  __shared__ Buf buf;
  kc::cp_async_16(&buf.v[1], in, true);
  kc::cp_async_commit_group();
  kc::cp_async_wait_group<0>();
}

TEST(TensorCore, CpAsyncChecksAlignment) {
  DeviceArray<float> d_in(8);
  EXPECT_THROW(kc::launch<misaligned_cp_async_kernel>(1, 1, 0, kc::stream(), d_in.ptr), std::runtime_error);
}

}  // namespace
