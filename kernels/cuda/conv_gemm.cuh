// The GEMM machinery of the convolution kernels (kernels/cuda/conv.cu, which alone includes this file, inside its
// anonymous namespace's scope): small device helpers (fast division, vector loads and stores), the tile shapes,
// the shared-memory staging, the arithmetic policies (SimtMath: FP32/FP64 FMAs; MmaMath: TF32 tensor cores;
// BfMath: BF16 tensor cores) and the main loop that feeds them from a loader. conv.cu's header comment explains
// the design; the loaders, kernels and host-side planning stay there.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/dynamic_shared.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/math_mode.h"

namespace gan::kernels::cuda {
namespace {

// ---- small device helpers ---------------------------------------------------------------------------------

// n / d for 0 <= n < 2^31 by one multiply-high and a shift (Granlund-Montgomery, as in CUTLASS's FastDivmod):
// integer division by a run-time divisor is a long instruction sequence on the GPU, and the loaders decode
// several indices per K step. Built where the divisor is known (host or once per block).
struct FastDiv {
  uint32_t d = 1, mul = 0, shr = 0;

  FastDiv() = default;
  __host__ __device__ explicit FastDiv(int divisor) : d(divisor > 1 ? static_cast<uint32_t>(divisor) : 1u) {
    if (d > 1) {
      uint32_t log2_ceil = 0;
      while ((uint64_t(1) << log2_ceil) < d) ++log2_ceil;
      const uint32_t p = 31 + log2_ceil;
      mul = static_cast<uint32_t>(((uint64_t(1) << p) + d - 1) / d);
      shr = p - 32;
    }
  }
  __device__ __forceinline__ int div(int n) const {
    return d == 1 ? n : static_cast<int>(__umulhi(static_cast<uint32_t>(n), mul) >> shr);
  }
};

template <typename T>
__device__ __forceinline__ T ldg(const T* p) {
  return __ldg(p);
}

// Four consecutive elements from 16-byte-aligned shared memory.
__device__ __forceinline__ void load4(const float* p, float* r) {
  const float4 v = *reinterpret_cast<const float4*>(p);
  r[0] = v.x, r[1] = v.y, r[2] = v.z, r[3] = v.w;
}
__device__ __forceinline__ void load4(const double* p, double* r) {
  const double2 v0 = reinterpret_cast<const double2*>(p)[0];
  const double2 v1 = reinterpret_cast<const double2*>(p)[1];
  r[0] = v0.x, r[1] = v0.y, r[2] = v1.x, r[3] = v1.y;
}

// Four consecutive elements to global memory: one 128-bit store when p is 16-byte aligned (float only; a double
// pair is already 128 bits), else four.
__device__ __forceinline__ void store4(float* p, const float* v) {
  if ((reinterpret_cast<uintptr_t>(p) & 15) == 0) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
    p[0] = v[0], p[1] = v[1], p[2] = v[2], p[3] = v[3];
  }
}
__device__ __forceinline__ void store4(double* p, const double* v) {
  p[0] = v[0], p[1] = v[1], p[2] = v[2], p[3] = v[3];
}

// A run of W (4 or 2) consecutive elements to global memory: store4, or one 64-bit store for a float pair.
template <typename T, int W>
__device__ __forceinline__ void store_run(T* p, const T* v) {
  static_assert(W == 4 || W == 2, "runs of 4 (SIMT micro-tiles) or 2 (mma accumulator pairs)");
  if constexpr (W == 4) {
    store4(p, v);
  } else if constexpr (std::is_same_v<T, float>) {
    if ((reinterpret_cast<uintptr_t>(p) & 7) == 0)
      *reinterpret_cast<float2*>(p) = make_float2(v[0], v[1]);
    else
      p[0] = v[0], p[1] = v[1];
  } else {
    p[0] = v[0], p[1] = v[1];
  }
}

// ---- tiles ------------------------------------------------------------------------------------------------

template <int BM_, int BN_, int BK_, int TM_, int TN_>
struct TileCfg {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int NT = (BM / TM) * (BN / TN);  // threads per block
  static constexpr int AE = BM * BK / NT;           // A elements each thread loads per K step
  static constexpr int BE = BK * BN / NT;           // B elements each thread loads per K step
  static constexpr int PAD = 4;                     // shared-memory row padding (elements)
  // Blocks per SM the register allocation must allow (float; doubles get what they need): two 256-thread blocks
  // keep 16 warps per SM to hide the gathers' latency.
  static constexpr int MIN_BLOCKS = NT >= 256 ? 2 : 4;
  static constexpr int STAGES = 2;  // shared-memory buffers: double buffering through registers
  static_assert(TM % 4 == 0 && TN % 4 == 0, "micro-tiles are read as 4-vectors");
  static_assert(BM % TM == 0 && BN % TN == 0, "tile must split into micro-tiles");
  static_assert(NT % BK == 0 && BM % (NT / BK) == 0 && BN % (NT / BK) == 0, "k-fast loads must cover the tile");
  static_assert(NT % BN == 0 && BK % (NT / BN) == 0, "n-fast loads must cover the tile");
  static_assert(AE >= 1 && BE >= 1, "every thread loads");
  static constexpr bool FRAGMENT_A = false;  // A tile row-major in k: As[k][m]
};

using CfgBig = TileCfg<128, 128, 8, 8, 8>;   // 256 threads
using CfgWide = TileCfg<64, 128, 8, 4, 8>;   // 256 threads
using CfgMid = TileCfg<64, 64, 8, 4, 4>;     // 256 threads
using CfgThin = TileCfg<16, 128, 8, 4, 4>;   // 128 threads: M <= 16 (e.g. one output channel)

// Tensor-core (TF32) tiles: the same block tiles, loaders and shared-memory staging, but each warp computes a
// WM x WN warp tile as (WM / 16) x (WN / 8) mma.sync m16n8k8 with FP32 accumulators, and K advances 16 per step
// (two mma k-steps per barrier). The names the loaders use (BM, BN, BK, NT, AE, BE, PAD) mean what they mean in
// TileCfg, except that the A tile is stored fragment-major (a_index below; the padded shape only sizes it). PAD = 8:
// a warp's B fragment reads Bs[k + t][n + g] (t = lane % 4, g = lane / 4) fall in banks (t (BN + 8) + g) mod 32 =
// 8 t + g for BN a multiple of 32: 32 distinct banks.
template <int BM_, int BN_, int BK_, int WM_, int WN_>
struct MmaTileCfg {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, WM = WM_, WN = WN_;
  static constexpr int WARPS_N = BN / WN;
  static constexpr int NT = (BM / WM) * WARPS_N * 32;
  static constexpr int FM = WM / 16, FN = WN / 8;  // m16n8 accumulator tiles per warp
  static constexpr int AE = BM * BK / NT, BE = BK * BN / NT;
  static constexpr int PAD = 8;
  // Blocks per SM the launch bounds ask for. A 64 x 32 warp tile (FM FN 4 = 64 accumulators, plus fragments and
  // the loaders' registers) needs more than the 128 registers per thread that two 256-thread blocks leave: one.
  // Smaller warp tiles fit in 128 (ptxas: no spills), and two blocks give the SM 16 warps to hide latency with.
  static constexpr int MIN_BLOCKS = FM * FN <= 8 ? 2 : 1;
  // Shared-memory buffers of the cp.async pipeline: up to STAGES - 1 steps in flight while one is multiplied.
  // Three stages of the 128x128 tile take 51 KiB: the kernels use dynamic shared memory for these tiles.
  static constexpr int STAGES = 3;
  static_assert(BM % WM == 0 && BN % WN == 0 && WM % 16 == 0 && WN % 8 == 0 && BK % 8 == 0, "mma tiling");
  static_assert((BN + PAD) % 32 == 8 || (BN + PAD) % 32 == 24, "conflict-free B fragment reads");
  static_assert(NT % BK == 0 && BM % (NT / BK) == 0 && BN % (NT / BK) == 0, "k-fast loads must cover the tile");
  static_assert(NT % BN == 0 && BK % (NT / BN) == 0, "n-fast loads must cover the tile");
  static_assert(AE >= 1 && BE >= 1, "every thread loads");
  static_assert(BK * (BM + PAD) >= BK * BM, "the fragment-major A tile fits the padded one");
  static constexpr bool FRAGMENT_A = true;
  // Where A[k][m] of a stage sits in its shared tile: fragment-major. Each 16 x 8 (m x k) block is 128 consecutive
  // elements, blocks ordered by k / 8 then m / 16; within a block, lane g * 4 + t (g = m % 8, t = k % 4) holds its
  // m16n8k8 A fragment (A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4]) as 4 consecutive elements, so a warp reads a
  // fragment with one 128-bit load per lane (512 consecutive bytes: no bank conflict) instead of four 32-bit ones.
  // The BF16 policy reads the same blocks (BfMath). The cp.async writes into it conflict two ways at most.
  static __host__ __device__ constexpr int a_index(int k, int m) {
    return ((k / 8) * (BM / 16) + m / 16) * 128 + ((m % 8) * 4 + k % 4) * 4 + (m % 16) / 8 + 2 * ((k % 8) / 4);
  }
  // The first element of the fragment block (k8 = k / 8, mb = m / 16).
  static __host__ __device__ constexpr int a_block(int k8, int mb) { return (k8 * (BM / 16) + mb) * 128; }
};

using MmaBig = MmaTileCfg<128, 128, 16, 64, 32>;  // 8 warps, 2 x 4
using MmaWide = MmaTileCfg<64, 128, 16, 32, 32>;  // 8 warps, 2 x 4
using MmaMid = MmaTileCfg<64, 64, 16, 32, 32>;    // 4 warps, 2 x 2
using MmaThin = MmaTileCfg<16, 128, 16, 16, 32>;  // 4 warps, 1 x 4: M <= 16

// The operand tiles of Cfg::STAGES steps, k-major: a[stage][k][m], b[stage][k][n].
template <typename T, class Cfg>
struct __align__(16) Smem {
  T a[Cfg::STAGES][Cfg::BK][Cfg::BM + Cfg::PAD];
  T b[Cfg::STAGES][Cfg::BK][Cfg::BN + Cfg::PAD];
};

// The block's operand tiles: static shared memory for the register-staged SIMT kernels, the launch's dynamic
// shared memory (sizeof(Smem), which may pass 48 KiB) for the cp.async pipelines.
template <typename T, class Cfg, class Math>
__device__ __forceinline__ Smem<T, Cfg>& block_tiles() {
  if constexpr (Math::ASYNC) {
    return *dynamic_shared<Smem<T, Cfg>>();
  } else {
    __shared__ Smem<T, Cfg> sm;
    return sm;
  }
}

// Row of C (within the tile) that accumulator row i of thread row ty holds; columns likewise. A thread's rows come
// in groups of 4 spread BM / (TM / 4) apart, so each group is one 128-bit shared-memory read.
template <class Cfg>
__device__ __forceinline__ int micro_row(int ty, int i) {
  return (i / 4) * (Cfg::BM / (Cfg::TM / 4)) + ty * 4 + (i % 4);
}
template <class Cfg>
__device__ __forceinline__ int micro_col(int tx, int j) {
  return (j / 4) * (Cfg::BN / (Cfg::TN / 4)) + tx * 4 + (j % 4);
}

// acc += A_tile^T B_tile over one BK step from shared memory.
template <typename T, class Cfg>
__device__ __forceinline__ void micro_kernel(const T (*As)[Cfg::BM + Cfg::PAD], const T (*Bs)[Cfg::BN + Cfg::PAD],
                                             int ty, int tx, T (&acc)[Cfg::TM][Cfg::TN]) {
#pragma unroll
  for (int k = 0; k < Cfg::BK; ++k) {
    T a[Cfg::TM], b[Cfg::TN];
#pragma unroll
    for (int g = 0; g < Cfg::TM / 4; ++g) load4(&As[k][micro_row<Cfg>(ty, 4 * g)], &a[4 * g]);
#pragma unroll
    for (int g = 0; g < Cfg::TN / 4; ++g) load4(&Bs[k][micro_col<Cfg>(tx, 4 * g)], &b[4 * g]);
#pragma unroll
    for (int i = 0; i < Cfg::TM; ++i)
#pragma unroll
      for (int j = 0; j < Cfg::TN; ++j) acc[i][j] += a[i] * b[j];
  }
}

// How a thread multiplies and where its results sit, one policy per arithmetic. step(As, Bs) accumulates one BK
// step from shared memory; the epilogues read the accumulators as ROWS rows by COL_RUNS runs of RUN consecutive
// columns: row(i) and col(j) are tile-relative, value(i, j, jj) is column col(j) + jj of row row(i).
//
// SIMT FP32: a TM x TN micro-tile per thread (micro_kernel), columns in runs of 4.
template <typename T, class Cfg>
struct SimtMath {
  static constexpr int RUN = 4, COL_RUNS = Cfg::TN / 4, ROWS = Cfg::TM;
  static constexpr bool ASYNC = false;  // register-staged loads (gemm_mainloop)
  int ty, tx;
  T acc[Cfg::TM][Cfg::TN];

  __device__ explicit SimtMath(int tid) : ty(tid / (Cfg::BN / Cfg::TN)), tx(tid % (Cfg::BN / Cfg::TN)) {
#pragma unroll
    for (int i = 0; i < Cfg::TM; ++i)
#pragma unroll
      for (int j = 0; j < Cfg::TN; ++j) acc[i][j] = T(0);
  }
  __device__ __forceinline__ void step(const T (*As)[Cfg::BM + Cfg::PAD], const T (*Bs)[Cfg::BN + Cfg::PAD]) {
    micro_kernel<T, Cfg>(As, Bs, ty, tx, acc);
  }
  __device__ __forceinline__ int row(int i) const { return micro_row<Cfg>(ty, i); }
  __device__ __forceinline__ int col(int j) const { return micro_col<Cfg>(tx, 4 * j); }
  __device__ __forceinline__ T value(int i, int j, int jj) const { return acc[i][4 * j + jj]; }
  // An output value as stored (after the bias): unchanged but in the BF16 policy.
  static __device__ __forceinline__ T finish(T v) { return v; }
};

// The accumulators of a warp's WM x WN tile of m16n8 mma tiles (FP32), shared by the tensor-core policies:
// accumulator (fm, fn) holds rows g and g + 8 of the 16-row tile, columns 2t and 2t + 1 of the 8-column tile (the
// C/D fragment of both m16n8k8 and m16n8k16): runs of 2.
template <class Cfg>
struct MmaAccumulators {
  static constexpr int RUN = 2, COL_RUNS = Cfg::FN, ROWS = 2 * Cfg::FM;
  static constexpr bool ASYNC = true;  // cp.async loads (gemm_mainloop)
  int wm, wn;  // the warp tile's origin in the block tile
  int g, t;    // lane / 4, lane % 4
  float acc[Cfg::FM][Cfg::FN][4];

  __device__ explicit MmaAccumulators(int tid) {
    const int warp = tid / 32, lane = tid % 32;
    wm = (warp / Cfg::WARPS_N) * Cfg::WM, wn = (warp % Cfg::WARPS_N) * Cfg::WN;
    g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int i = 0; i < Cfg::FM; ++i)
#pragma unroll
      for (int j = 0; j < Cfg::FN; ++j)
#pragma unroll
        for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.0f;
  }
  __device__ __forceinline__ int row(int i) const { return wm + 16 * (i / 2) + 8 * (i % 2) + g; }
  __device__ __forceinline__ int col(int j) const { return wn + 8 * j + 2 * t; }
  __device__ __forceinline__ float value(int i, int j, int jj) const { return acc[i / 2][j][2 * (i % 2) + jj]; }
  static __device__ __forceinline__ float finish(float v) { return v; }
};

// TF32 tensor cores (float only): each warp a WM x WN warp tile of m16n8k8 mmas. Fragments are read in the PTX
// ISA's layout (kernels/cuda/mma.cuh), A's whole from the fragment-major A tile (MmaTileCfg::a_index), B's from the
// k-major B tile, and rounded with cvt.rna on the way (the tensor core would truncate unrounded operands).
template <class Cfg>
struct MmaMath : MmaAccumulators<Cfg> {
  using MmaAccumulators<Cfg>::MmaAccumulators;
  __device__ __forceinline__ void step(const float (*As)[Cfg::BM + Cfg::PAD],
                                       const float (*Bs)[Cfg::BN + Cfg::PAD]) {
    const int g = this->g, t = this->t, lane4 = (g * 4 + t) * 4;
    const float* a_tile = &As[0][0];  // fragment-major (MmaTileCfg::a_index)
#pragma unroll
    for (int k = 0; k < Cfg::BK; k += 8) {
      float a[Cfg::FM][4], b[Cfg::FN][2];
#pragma unroll
      for (int i = 0; i < Cfg::FM; ++i) {
        float v[4];
        load4(a_tile + Cfg::a_block(k / 8, this->wm / 16 + i) + lane4, v);
#pragma unroll
        for (int r = 0; r < 4; ++r) a[i][r] = tf32_round(v[r]);
      }
#pragma unroll
      for (int j = 0; j < Cfg::FN; ++j) {
        const int n = this->wn + 8 * j + g;
        b[j][0] = tf32_round(Bs[k + t][n]);
        b[j][1] = tf32_round(Bs[k + t + 4][n]);
      }
      mma_tf32_tile<Cfg::FM, Cfg::FN>(this->acc, a, b);
    }
  }
};

// BF16 tensor cores (float tensors in the BF16 math mode): the same warp tiles as m16n8k16 mmas, one per 16 k. The
// shared tiles stay FP32; each operand pair is rounded to bf16 (nearest, ties to even) and packed on its way into
// a fragment register (cvt.rn.bf16x2.f32), so the products are those of the RNE-rounded operands, exact in FP32,
// accumulated in FP32.
// Which k a register pair holds: the ISA puts k = 2t, 2t + 1 (and 2t + 8, 2t + 9) in lane t's registers, but the
// mma sums over k, so any permutation of the 16 k applied to A and B alike gives the same sum of the same products.
// This one takes k = t and t + 4 (and t + 8, t + 12) for ISA k 2t and 2t + 1 (2t + 8 and 2t + 9): the k the TF32
// policy reads, so A comes from the same fragment-major blocks (two per 16 k) and B's loads from the k-major tile
// stay free of bank conflicts (MmaTileCfg's PAD), where rows 2t and 2t + 1 would make lanes t and t + 2 collide.
// The output is rounded to bf16 after the bias (kernels/conv.h), as the CPU twin rounds it.
template <class Cfg>
struct BfMath : MmaAccumulators<Cfg> {
  static_assert(Cfg::BK % 16 == 0, "one m16n8k16 per 16 k");
  using MmaAccumulators<Cfg>::MmaAccumulators;
  static __device__ __forceinline__ float finish(float v) { return bf16_round_float(v); }
  __device__ __forceinline__ void step(const float (*As)[Cfg::BM + Cfg::PAD],
                                       const float (*Bs)[Cfg::BN + Cfg::PAD]) {
    const int g = this->g, t = this->t, lane4 = (g * 4 + t) * 4;
    const float* a_tile = &As[0][0];  // fragment-major (MmaTileCfg::a_index)
#pragma unroll
    for (int k = 0; k < Cfg::BK; k += 16) {
      uint32_t a[Cfg::FM][4], b[Cfg::FN][2];
#pragma unroll
      for (int i = 0; i < Cfg::FM; ++i) {
        // The TF32 blocks of k .. k + 7 and k + 8 .. k + 15: (A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4]) each.
        float lo[4], hi[4];
        load4(a_tile + Cfg::a_block(k / 8, this->wm / 16 + i) + lane4, lo);
        load4(a_tile + Cfg::a_block(k / 8 + 1, this->wm / 16 + i) + lane4, hi);
        a[i][0] = bf16x2_pack(lo[0], lo[2]);
        a[i][1] = bf16x2_pack(lo[1], lo[3]);
        a[i][2] = bf16x2_pack(hi[0], hi[2]);
        a[i][3] = bf16x2_pack(hi[1], hi[3]);
      }
#pragma unroll
      for (int j = 0; j < Cfg::FN; ++j) {
        const int n = this->wn + 8 * j + g;
        b[j][0] = bf16x2_pack(Bs[k + t][n], Bs[k + t + 4][n]);
        b[j][1] = bf16x2_pack(Bs[k + t + 8][n], Bs[k + t + 12][n]);
      }
      mma_bf16_tile<Cfg::FM, Cfg::FN>(this->acc, a, b);
    }
  }
};

// The K loop shared by every kernel, staged through shared memory in one of two ways. The Loader says which
// elements a thread moves (visit(k0, k_end, a_elem, b_elem), each element a global address and whether it is
// there: false means a zero, the address then only one that exists) and where they go (a_slot, b_slot); Math is one
// of the policies above.
//   Register staging (SIMT): step t + 1 is loaded into registers before step t's FMAs and stored to the other
//     buffer after them, one barrier per step.
//   cp.async (tensor cores, Math::ASYNC): a Cfg::STAGES-stage pipeline. Steps t + 1 .. t + STAGES - 1 are in
//     flight, copied straight into their stages (zero fill for padding), while step t is multiplied; per step,
//     wait_group<STAGES - 2> and one barrier make step t's copies visible to all and free step t - 1's stage,
//     which the copy of step t + STAGES - 1 then reuses. No registers hold the next tiles.
template <typename T, class Cfg, class Loader, class Math>
__device__ __forceinline__ void gemm_mainloop(Loader& ld, int k_begin, int k_end, Smem<T, Cfg>& sm, Math& math) {
  const int steps = k_end > k_begin ? (k_end - k_begin + Cfg::BK - 1) / Cfg::BK : 0;
  if (steps == 0) return;  // uniform across the block
  if constexpr (Math::ASYNC) {
    constexpr int S = Cfg::STAGES;
    // Copies step `step` into its stage as one commit group; past the last step an empty group, so that every
    // iteration commits one and wait_group<S - 2> always means "step t has landed".
    const auto copy = [&](int step) {
      if (step < steps) {
        T(*As)[Cfg::BM + Cfg::PAD] = sm.a[step % S];
        T(*Bs)[Cfg::BN + Cfg::PAD] = sm.b[step % S];
        ld.visit(
            k_begin + step * Cfg::BK, k_end,
            [&](int q, const T* p, bool valid) { cp_async_4(ld.a_slot(As, q), p, valid); },
            [&](int q, const T* p, bool valid) { cp_async_4(ld.b_slot(Bs, q), p, valid); });
      }
      cp_async_commit_group();
    };
#pragma unroll
    for (int step = 0; step < S - 1; ++step) copy(step);
    for (int t = 0; t < steps; ++t) {
      cp_async_wait_group<S - 2>();  // this thread's copies of step t have landed
      __syncthreads();               // everyone's; and everyone is done with step t - 1's stage
      copy(t + S - 1);               // into step t - 1's stage
      math.step(sm.a[t % S], sm.b[t % S]);
    }
  } else {
    T ra[Cfg::AE], rb[Cfg::BE];
    const auto load = [&](int k0) {
      ld.visit(
          k0, k_end, [&](int q, const T* p, bool valid) { ra[q] = valid ? ldg(p) : T(0); },
          [&](int q, const T* p, bool valid) { rb[q] = valid ? ldg(p) : T(0); });
    };
    const auto store = [&](T(*As)[Cfg::BM + Cfg::PAD], T(*Bs)[Cfg::BN + Cfg::PAD]) {
#pragma unroll
      for (int q = 0; q < Cfg::AE; ++q) *ld.a_slot(As, q) = ra[q];
#pragma unroll
      for (int q = 0; q < Cfg::BE; ++q) *ld.b_slot(Bs, q) = rb[q];
    };
    load(k_begin);
    store(sm.a[0], sm.b[0]);
    __syncthreads();
    for (int t = 0; t < steps; ++t) {
      const int cur = t & 1;
      const bool more = t + 1 < steps;
      if (more) load(k_begin + (t + 1) * Cfg::BK);
      math.step(sm.a[cur], sm.b[cur]);
      if (more) store(sm.a[cur ^ 1], sm.b[cur ^ 1]);
      __syncthreads();
    }
  }
}

}  // namespace
}  // namespace gan::kernels::cuda
