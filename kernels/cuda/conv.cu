// CUDA convolution: one implicit-GEMM kernel family for conv forward, backward-data (= transposed-conv forward)
// and backward-weight. kernels/conv.h gives the maths and the shapes; this file only says how.
//
// Implicit GEMM: the GEMM operands are gathered from the NCHW tensors tile by tile while shared memory is filled,
// so no im2col buffer ever exists in global memory:
//   forward          C[Cout, N Ho Wo]   = W[Cout, Cin kh kw] * col(x)[Cin kh kw, N Ho Wo]          (+ bias)
//   backward data    C[Cin, N Hq Wq]    = one GEMM per stride phase, see below                       (+ bias)
//   backward weight  C[Cout, Cin kh kw] = Gy[Cout, N Ho Wo]  * col(x)^T[N Ho Wo, Cin kh kw]
//
// Backward data without zero insertion: input row h receives kernel row i from output row oh = (h + p - i) / s
// only when s divides h + p - i. Rows are therefore grouped by their phase rh = (h + p) mod s: the phase's rows
// are h = h0 + s a (a = 0 .. Hq - 1), its taps are i = rh + s t (t = 0 .. Th - 1), and oh = ch + a - t with
// ch = (h0 + p - rh) / s exact. Columns likewise. Each of the s^2 phases is a dense GEMM over only the taps that
// hit it,
//   C[Cin, N Hq Wq] = W_phase^T[Cin, Cout Th Tw] * Gy_phase[Cout Th Tw, N Hq Wq],
// and one launch covers all phases (blockIdx.z). A phase with no taps (kernel smaller than the stride, or the rows
// that output_padding adds) gets the bias alone.
//
// Forward and backward data differ only in where the operands come from, so one kernel serves both, driven by a
// GatherGemm descriptor: A is read from the weight with four strides, B is gathered from an image plane (x for
// the forward, gy for backward data) with bounds checks standing in for the zero padding, and C is scattered to an
// NCHW output with a stride (1 forward, s backward data). Backward weight has its own loader (its reduction runs
// over pixels, not taps) and shares the rest.
//
// Tiling: a block of (BM/TM)(BN/TN) threads computes a BM x BN tile of C, each thread a TM x TN micro-tile held
// in registers. K advances BK at a time through double-buffered shared memory: the next tile's global loads are
// issued before the current tile's FMAs, so their latency hides behind the arithmetic. Shared-memory rows are
// padded by 4 elements so the transposing stores do not conflict, and the micro-kernel reads 128-bit vectors.
// Four tile shapes (128x128, 64x128, 64x64, 16x128) cover large layers, narrow layers and layers with very few
// output channels (the critic's last conv has one).
//
// Split-K: when C has too few tiles to fill the GPU (deep layers at small spatial size; backward weight, whose
// reduction runs over all N Ho Wo pixels), the reduction is cut into slices that write partial tiles to a
// workspace from the caching allocator; a second kernel sums the slices in a fixed order and applies the
// epilogue. No atomics anywhere, so every result is the same from run to run.
//
// Index arithmetic is 32-bit except for the offset of an image in a batch; the launchers check that each image,
// the weight and the GEMM extents fit, and throw otherwise. Divisions by run-time divisors inside the loops use
// multiply-shift (FastDiv).
#include "kernels/conv.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"

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

// ---- problem descriptions ---------------------------------------------------------------------------------

// Conv2dShape in 32-bit ints (checked by the launchers).
struct Dims {
  int N, Cin, H, W, Cout, kh, kw, s, p, Ho, Wo;
};

// One GEMM C[M, N] = A[M, K] B[K, N] whose B is gathered from an image and whose C is scattered to one.
//   k = (c, u, v) in [K / (U V)) x [U) x [V)
//   A[m, k] = a[m a_m + c a_c + u a_u + v a_v + a_off]
//   n = (img, qa, qb) in [N / (QH QW)) x [QH) x [QW)
//   B[k, n] = b[img b_img + c b_c + r b_ld + col] with r = qa b_rs + b_r0 + u b_du, col = qb b_rs + b_c0 + v b_dv,
//             zero unless 0 <= r < b_rows and 0 <= col < b_cols
//   out[img o_img + m o_m + (o_r0 + qa o_s) o_ld + o_c0 + qb o_s] = C[m, n] + bias[m]
struct GatherGemm {
  int M, N, K;
  FastDiv UV, V;
  int a_m, a_c, a_u, a_v, a_off;
  int64_t b_img;
  int b_c, b_ld, b_rows, b_cols, b_rs, b_r0, b_c0, b_du, b_dv;
  FastDiv QHW, QW;
  int64_t o_img;
  int o_m, o_ld, o_r0, o_c0, o_s;
};

// Forward: A = W [Cout, Cin kh kw], B = col(x), C scattered to y.
__host__ __device__ inline GatherGemm forward_gemm(const Dims& d) {
  GatherGemm g{};
  const int khw = d.kh * d.kw;
  g.M = d.Cout, g.N = d.N * d.Ho * d.Wo, g.K = d.Cin * khw;
  g.UV = FastDiv(khw), g.V = FastDiv(d.kw);
  g.a_m = d.Cin * khw, g.a_c = khw, g.a_u = d.kw, g.a_v = 1, g.a_off = 0;
  g.b_img = int64_t(d.Cin) * d.H * d.W, g.b_c = d.H * d.W, g.b_ld = d.W, g.b_rows = d.H, g.b_cols = d.W;
  g.b_rs = d.s, g.b_r0 = -d.p, g.b_c0 = -d.p, g.b_du = 1, g.b_dv = 1;
  g.QHW = FastDiv(d.Ho * d.Wo), g.QW = FastDiv(d.Wo);
  g.o_img = int64_t(d.Cout) * d.Ho * d.Wo, g.o_m = d.Ho * d.Wo, g.o_ld = d.Wo, g.o_r0 = 0, g.o_c0 = 0, g.o_s = 1;
  return g;
}

// The rows (or columns) of one backward-data phase along an axis of input size `in`, kernel size k: first row h0,
// row count q, tap count t, and the offset c with oh = c + a - t for row a and tap t.
struct PhaseAxis {
  int h0, q, taps, c;
};
__host__ __device__ inline PhaseAxis phase_axis(int r, int in, int k, int s, int p) {
  PhaseAxis a{};
  a.h0 = ((r - p) % s + s) % s;
  a.q = a.h0 < in ? (in - a.h0 + s - 1) / s : 0;
  a.taps = r < k ? (k - r + s - 1) / s : 0;
  a.c = (a.h0 + p - r) / s;
  return a;
}

// Backward data, phase `phase` = rh s + rw: A = W_phase^T [Cin, Cout Th Tw], B = the phase's gy taps, C
// scattered to every s-th row and column of gx.
__host__ __device__ inline GatherGemm backward_data_gemm(const Dims& d, int phase) {
  const int rh = phase / d.s, rw = phase % d.s;
  const PhaseAxis ph = phase_axis(rh, d.H, d.kh, d.s, d.p), pw = phase_axis(rw, d.W, d.kw, d.s, d.p);
  GatherGemm g{};
  const int khw = d.kh * d.kw;
  g.M = d.Cin, g.N = d.N * ph.q * pw.q, g.K = d.Cout * ph.taps * pw.taps;
  g.UV = FastDiv(ph.taps * pw.taps), g.V = FastDiv(pw.taps);
  g.a_m = khw, g.a_c = d.Cin * khw, g.a_u = d.s * d.kw, g.a_v = d.s, g.a_off = rh * d.kw + rw;
  g.b_img = int64_t(d.Cout) * d.Ho * d.Wo, g.b_c = d.Ho * d.Wo, g.b_ld = d.Wo, g.b_rows = d.Ho, g.b_cols = d.Wo;
  g.b_rs = 1, g.b_r0 = ph.c, g.b_c0 = pw.c, g.b_du = -1, g.b_dv = -1;
  g.QHW = FastDiv(ph.q * pw.q), g.QW = FastDiv(pw.q);
  g.o_img = int64_t(d.Cin) * d.H * d.W, g.o_m = d.H * d.W, g.o_ld = d.W, g.o_r0 = ph.h0, g.o_c0 = pw.h0;
  g.o_s = d.s;
  return g;
}

__host__ __device__ inline GatherGemm gather_gemm(const Dims& d, bool backward_data, int phase) {
  return backward_data ? backward_data_gemm(d, phase) : forward_gemm(d);
}

// Kernel arguments (one struct each keeps the launches short).
template <typename T>
struct GatherArgs {
  Dims d;
  bool backward_data;
  const T* a;     // the weight
  const T* b;     // x (forward) or gy (backward data)
  const T* bias;  // [M] or null
  T* out;         // y (forward) or gx (backward data)
  int splits;     // K slices; > 1: partial tiles go to ws, gather_reduce_kernel finishes
  int k_per_split;
  T* ws;          // [phases][splits][M][ws_n]
  int ws_n;       // the largest phase's N
};

template <typename T>
struct WeightArgs {
  Dims d;
  const T* x;
  const T* gy;
  T* gw;
  int splits;     // slices of the N Ho Wo reduction; > 1: partial tiles go to ws, weight_reduce_kernel finishes
  int r_per_split;
  T* ws;          // [splits][Cout][Cin kh kw]
};

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
  static_assert(TM % 4 == 0 && TN % 4 == 0, "micro-tiles are read as 4-vectors");
  static_assert(BM % TM == 0 && BN % TN == 0, "tile must split into micro-tiles");
  static_assert(NT % BK == 0 && BM % (NT / BK) == 0 && BN % (NT / BK) == 0, "k-fast loads must cover the tile");
  static_assert(NT % BN == 0 && BK % (NT / BN) == 0, "n-fast loads must cover the tile");
  static_assert(AE >= 1 && BE >= 1, "every thread loads");
};

using CfgBig = TileCfg<128, 128, 8, 8, 8>;   // 256 threads
using CfgWide = TileCfg<64, 128, 8, 4, 8>;   // 256 threads
using CfgMid = TileCfg<64, 64, 8, 4, 4>;     // 256 threads
using CfgThin = TileCfg<16, 128, 8, 4, 4>;   // 128 threads: M <= 16 (e.g. one output channel)

// Double-buffered operand tiles, k-major: a[buf][k][m], b[buf][k][n].
template <typename T, class Cfg>
struct __align__(16) Smem {
  T a[2][Cfg::BK][Cfg::BM + Cfg::PAD];
  T b[2][Cfg::BK][Cfg::BN + Cfg::PAD];
};

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

// The K loop shared by every kernel: loads step t + 1 into registers, multiplies step t from shared memory,
// stores step t + 1 into the other buffer, one barrier per step. Loader provides load(k0, k_end, ra, rb) (global
// -> registers, zeros past k_end) and store(As, Bs, ra, rb) (registers -> shared memory).
template <typename T, class Cfg, class Loader>
__device__ __forceinline__ void gemm_mainloop(Loader& ld, int k_begin, int k_end, Smem<T, Cfg>& sm, int ty, int tx,
                                              T (&acc)[Cfg::TM][Cfg::TN]) {
  const int steps = k_end > k_begin ? (k_end - k_begin + Cfg::BK - 1) / Cfg::BK : 0;
  if (steps == 0) return;  // uniform across the block
  T ra[Cfg::AE], rb[Cfg::BE];
  ld.load(k_begin, k_end, ra, rb);
  ld.store(sm.a[0], sm.b[0], ra, rb);
  __syncthreads();
  for (int t = 0; t < steps; ++t) {
    const int cur = t & 1;
    const bool more = t + 1 < steps;
    if (more) ld.load(k_begin + (t + 1) * Cfg::BK, k_end, ra, rb);
    micro_kernel<T, Cfg>(sm.a[cur], sm.b[cur], ty, tx, acc);
    if (more) ld.store(sm.a[cur ^ 1], sm.b[cur ^ 1], ra, rb);
    __syncthreads();
  }
}

// ---- forward / backward data: the gather kernel ----------------------------------------------------------

// A loads are k-fast (each thread one k, AE rows m); B loads are n-fast (each thread one column n, BE rows k), so
// a warp reads consecutive weights along k and consecutive pixels along n.
template <typename T, class Cfg>
struct GatherLoader {
  GatherGemm g;
  const T* a;
  int kk;                 // this thread's k within the step, for A
  int ml0;                // its first A row within the tile; the others follow every NT / BK
  int m_row[Cfg::AE];     // its A rows (global; >= M means padding)
  int kb;                 // its first B row within the step; the others follow every NT / BN
  int nl;                 // its B column within the tile
  const T* b_img;         // its column's image, or null past N
  int b_r0, b_c0;         // its column's first input row and column

  __device__ GatherLoader(const GatherGemm& gemm, const T* a_ptr, const T* b_ptr, int m0, int n0, int tid)
      : g(gemm), a(a_ptr) {
    kk = tid % Cfg::BK;
    ml0 = tid / Cfg::BK;
#pragma unroll
    for (int q = 0; q < Cfg::AE; ++q) m_row[q] = m0 + tid / Cfg::BK + q * (Cfg::NT / Cfg::BK);
    kb = tid / Cfg::BN;
    nl = tid % Cfg::BN;
    const int n = n0 + nl;
    b_img = nullptr;
    b_r0 = b_c0 = 0;
    if (n < g.N) {
      const int img = g.QHW.div(n);
      const int rem = n - img * static_cast<int>(g.QHW.d);
      const int qa = g.QW.div(rem);
      const int qb = rem - qa * static_cast<int>(g.QW.d);
      b_img = b_ptr + img * g.b_img;
      b_r0 = qa * g.b_rs + g.b_r0;
      b_c0 = qb * g.b_rs + g.b_c0;
    }
  }

  // k = (c, u, v) -> c, u, v.
  __device__ __forceinline__ void decode(int k, int& c, int& u, int& v) const {
    c = g.UV.div(k);
    const int uv = k - c * static_cast<int>(g.UV.d);
    u = g.V.div(uv);
    v = uv - u * static_cast<int>(g.V.d);
  }

  __device__ __forceinline__ void load(int k0, int k_end, T (&ra)[Cfg::AE], T (&rb)[Cfg::BE]) const {
    const int ka = k0 + kk;
    if (ka < k_end) {
      int c, u, v;
      decode(ka, c, u, v);
      const int off = c * g.a_c + u * g.a_u + v * g.a_v + g.a_off;
#pragma unroll
      for (int q = 0; q < Cfg::AE; ++q) ra[q] = m_row[q] < g.M ? ldg(a + m_row[q] * g.a_m + off) : T(0);
    } else {
#pragma unroll
      for (int q = 0; q < Cfg::AE; ++q) ra[q] = T(0);
    }
#pragma unroll
    for (int q = 0; q < Cfg::BE; ++q) {
      const int k = k0 + kb + q * (Cfg::NT / Cfg::BN);
      T val = T(0);
      if (b_img != nullptr && k < k_end) {
        int c, u, v;
        decode(k, c, u, v);
        const int r = b_r0 + u * g.b_du, col = b_c0 + v * g.b_dv;
        if (static_cast<unsigned>(r) < static_cast<unsigned>(g.b_rows) &&
            static_cast<unsigned>(col) < static_cast<unsigned>(g.b_cols))
          val = ldg(b_img + c * g.b_c + r * g.b_ld + col);
      }
      rb[q] = val;
    }
  }

  __device__ __forceinline__ void store(T (*As)[Cfg::BM + Cfg::PAD], T (*Bs)[Cfg::BN + Cfg::PAD],
                                        const T (&ra)[Cfg::AE], const T (&rb)[Cfg::BE]) const {
#pragma unroll
    for (int q = 0; q < Cfg::AE; ++q) As[kk][ml0 + q * (Cfg::NT / Cfg::BK)] = ra[q];
#pragma unroll
    for (int q = 0; q < Cfg::BE; ++q) Bs[kb + q * (Cfg::NT / Cfg::BN)][nl] = rb[q];
  }
};

// C = A B for one (tile, phase, K slice): with splits == 1 the epilogue adds the bias and scatters to `out`;
// otherwise the raw tile goes to ws[phase][split][M][ws_n] for gather_reduce_kernel.
template <typename T, class Cfg>
__global__ void __launch_bounds__(Cfg::NT, sizeof(T) == 4 ? Cfg::MIN_BLOCKS : 1)
    gather_gemm_kernel(GatherArgs<T> args) {
  const int splits = args.splits;
  const int phase = blockIdx.z / splits, split = blockIdx.z % splits;
  const GatherGemm g = gather_gemm(args.d, args.backward_data, phase);
  const int n0 = blockIdx.x * Cfg::BN, m0 = blockIdx.y * Cfg::BM;
  if (n0 >= g.N) return;  // a phase with fewer pixels than the largest one; uniform across the block
  const int k_begin = split * args.k_per_split, k_end = min(g.K, k_begin + args.k_per_split);

  __shared__ Smem<T, Cfg> sm;
  const int tid = threadIdx.x, tx = tid % (Cfg::BN / Cfg::TN), ty = tid / (Cfg::BN / Cfg::TN);
  T acc[Cfg::TM][Cfg::TN];
#pragma unroll
  for (int i = 0; i < Cfg::TM; ++i)
#pragma unroll
    for (int j = 0; j < Cfg::TN; ++j) acc[i][j] = T(0);

  GatherLoader<T, Cfg> ld(g, args.a, args.b, m0, n0, tid);
  gemm_mainloop<T, Cfg>(ld, k_begin, k_end, sm, ty, tx, acc);

  if (splits > 1) {
    const int ws_n = args.ws_n;
    T* slice = args.ws + (int64_t(phase) * splits + split) * g.M * ws_n;
#pragma unroll
    for (int j = 0; j < Cfg::TN; ++j) {
      const int n = n0 + micro_col<Cfg>(tx, j);
      if (n >= g.N) continue;
#pragma unroll
      for (int i = 0; i < Cfg::TM; ++i) {
        const int m = m0 + micro_row<Cfg>(ty, i);
        if (m < g.M) slice[int64_t(m) * ws_n + n] = acc[i][j];
      }
    }
    return;
  }

  // Epilogue: each group of 4 columns is 4 consecutive pixels of one output row when the scatter stride is 1 and
  // the group does not wrap to the next row; then one 128-bit store per row of C where alignment allows.
#pragma unroll
  for (int jg = 0; jg < Cfg::TN / 4; ++jg) {
    const int nb = n0 + micro_col<Cfg>(tx, 4 * jg);
    if (nb >= g.N) continue;
    int64_t base[4];
    bool ok[4];
#pragma unroll
    for (int jj = 0; jj < 4; ++jj) {
      const int n = nb + jj;
      ok[jj] = n < g.N;
      const int nn = ok[jj] ? n : nb;
      const int img = g.QHW.div(nn);
      const int rem = nn - img * static_cast<int>(g.QHW.d);
      const int qa = g.QW.div(rem);
      const int qb = rem - qa * static_cast<int>(g.QW.d);
      base[jj] = img * g.o_img + int64_t(g.o_r0 + qa * g.o_s) * g.o_ld + g.o_c0 + qb * g.o_s;
    }
    const bool contiguous = ok[3] && base[3] == base[0] + 3;
#pragma unroll
    for (int i = 0; i < Cfg::TM; ++i) {
      const int m = m0 + micro_row<Cfg>(ty, i);
      if (m >= g.M) continue;
      const T bm = args.bias != nullptr ? ldg(args.bias + m) : T(0);
      T v[4];
#pragma unroll
      for (int jj = 0; jj < 4; ++jj) v[jj] = acc[i][4 * jg + jj] + bm;
      T* row = args.out + int64_t(m) * g.o_m;
      if (contiguous) {
        store4(row + base[0], v);
      } else {
#pragma unroll
        for (int jj = 0; jj < 4; ++jj)
          if (ok[jj]) row[base[jj]] = v[jj];
      }
    }
  }
}

// Sums the K slices of gather_gemm_kernel in slice order, adds the bias and scatters (one thread per element of
// C; blockIdx.y is the phase).
template <typename T>
__global__ void gather_reduce_kernel(GatherArgs<T> args) {
  const int phase = blockIdx.y, splits = args.splits, ws_n = args.ws_n;
  const GatherGemm g = gather_gemm(args.d, args.backward_data, phase);
  const int64_t count = int64_t(g.M) * ws_n;  // elements of one slice
  const T* src = args.ws + int64_t(phase) * splits * count;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < count;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int m = static_cast<int>(idx / ws_n), n = static_cast<int>(idx - int64_t(m) * ws_n);
    if (n >= g.N) continue;
    T sum = T(0);
    for (int z = 0; z < splits; ++z) sum += src[z * count + idx];
    const int img = g.QHW.div(n);
    const int rem = n - img * static_cast<int>(g.QHW.d);
    const int qa = g.QW.div(rem);
    const int qb = rem - qa * static_cast<int>(g.QW.d);
    const int64_t o = img * g.o_img + int64_t(m) * g.o_m + int64_t(g.o_r0 + qa * g.o_s) * g.o_ld + g.o_c0 +
                      qb * g.o_s;
    args.out[o] = sum + (args.bias != nullptr ? ldg(args.bias + m) : T(0));
  }
}

// ---- backward weight ---------------------------------------------------------------------------------------

// gw[Cout, Cin kh kw] = Gy[Cout, R] col(x)^T[R, Cin kh kw], R = N Ho Wo. The reduction index r = (img, oh, ow)
// is the same for A and B within a step, so both loads are r-fast: each thread decodes one r per step and reads
// AE channels of gy and BE taps of x at that pixel.
template <typename T, class Cfg>
struct WeightLoader {
  Dims d;
  const T* x;
  const T* gy;
  FastDiv L, Wo;
  int kk;                 // this thread's r within the step
  int ml0;                // its first A row within the tile; the others follow every NT / BK
  int m_row[Cfg::AE];     // its A rows (output channels; >= Cout means padding)
  int nl0;                // its first B column within the tile; the others follow every NT / BK
  int x_off[Cfg::BE];     // per B column: ci H W, or -1 past N
  int tap_i[Cfg::BE], tap_j[Cfg::BE];

  __device__ WeightLoader(const Dims& dims, const T* x_ptr, const T* gy_ptr, int m0, int n0, int tid)
      : d(dims), x(x_ptr), gy(gy_ptr), L(dims.Ho * dims.Wo), Wo(dims.Wo) {
    kk = tid % Cfg::BK;
    ml0 = tid / Cfg::BK;
#pragma unroll
    for (int q = 0; q < Cfg::AE; ++q) m_row[q] = m0 + tid / Cfg::BK + q * (Cfg::NT / Cfg::BK);
    nl0 = tid / Cfg::BK;
    const int khw = d.kh * d.kw, ncols = d.Cin * khw;
    const FastDiv KHW(khw), KW(d.kw);
#pragma unroll
    for (int q = 0; q < Cfg::BE; ++q) {
      const int n = n0 + nl0 + q * (Cfg::NT / Cfg::BK);
      x_off[q] = -1, tap_i[q] = 0, tap_j[q] = 0;
      if (n < ncols) {
        const int ci = KHW.div(n);
        const int rem = n - ci * khw;
        tap_i[q] = KW.div(rem);
        tap_j[q] = rem - tap_i[q] * d.kw;
        x_off[q] = ci * d.H * d.W;
      }
    }
  }

  __device__ __forceinline__ void load(int r0, int r_end, T (&ra)[Cfg::AE], T (&rb)[Cfg::BE]) const {
    const int r = r0 + kk;
    if (r >= r_end) {
#pragma unroll
      for (int q = 0; q < Cfg::AE; ++q) ra[q] = T(0);
#pragma unroll
      for (int q = 0; q < Cfg::BE; ++q) rb[q] = T(0);
      return;
    }
    const int img = L.div(r);
    const int l = r - img * static_cast<int>(L.d);
    const int oh = Wo.div(l);
    const int ow = l - oh * static_cast<int>(Wo.d);
    const T* gyi = gy + int64_t(img) * d.Cout * static_cast<int>(L.d) + l;
#pragma unroll
    for (int q = 0; q < Cfg::AE; ++q) ra[q] = m_row[q] < d.Cout ? ldg(gyi + m_row[q] * static_cast<int>(L.d)) : T(0);
    const T* xi = x + int64_t(img) * d.Cin * d.H * d.W;
    const int ih0 = oh * d.s - d.p, iw0 = ow * d.s - d.p;
#pragma unroll
    for (int q = 0; q < Cfg::BE; ++q) {
      const int ih = ih0 + tap_i[q], iw = iw0 + tap_j[q];
      T val = T(0);
      if (x_off[q] >= 0 && static_cast<unsigned>(ih) < static_cast<unsigned>(d.H) &&
          static_cast<unsigned>(iw) < static_cast<unsigned>(d.W))
        val = ldg(xi + x_off[q] + ih * d.W + iw);
      rb[q] = val;
    }
  }

  __device__ __forceinline__ void store(T (*As)[Cfg::BM + Cfg::PAD], T (*Bs)[Cfg::BN + Cfg::PAD],
                                        const T (&ra)[Cfg::AE], const T (&rb)[Cfg::BE]) const {
#pragma unroll
    for (int q = 0; q < Cfg::AE; ++q) As[kk][ml0 + q * (Cfg::NT / Cfg::BK)] = ra[q];
#pragma unroll
    for (int q = 0; q < Cfg::BE; ++q) Bs[kk][nl0 + q * (Cfg::NT / Cfg::BK)] = rb[q];
  }
};

// One (tile, R slice) of the weight gradient: straight into gw when splits == 1, else into ws[split][Cout][ncols].
template <typename T, class Cfg>
__global__ void __launch_bounds__(Cfg::NT, sizeof(T) == 4 ? Cfg::MIN_BLOCKS : 1)
    weight_gemm_kernel(WeightArgs<T> args) {
  const Dims& d = args.d;
  const int M = d.Cout, ncols = d.Cin * d.kh * d.kw, R = d.N * d.Ho * d.Wo;
  const int split = blockIdx.z;
  const int n0 = blockIdx.x * Cfg::BN, m0 = blockIdx.y * Cfg::BM;
  const int r_begin = split * args.r_per_split, r_end = min(R, r_begin + args.r_per_split);

  __shared__ Smem<T, Cfg> sm;
  const int tid = threadIdx.x, tx = tid % (Cfg::BN / Cfg::TN), ty = tid / (Cfg::BN / Cfg::TN);
  T acc[Cfg::TM][Cfg::TN];
#pragma unroll
  for (int i = 0; i < Cfg::TM; ++i)
#pragma unroll
    for (int j = 0; j < Cfg::TN; ++j) acc[i][j] = T(0);

  WeightLoader<T, Cfg> ld(d, args.x, args.gy, m0, n0, tid);
  gemm_mainloop<T, Cfg>(ld, r_begin, r_end, sm, ty, tx, acc);

  T* dst = args.splits > 1 ? args.ws + int64_t(split) * M * ncols : args.gw;
#pragma unroll
  for (int jg = 0; jg < Cfg::TN / 4; ++jg) {
    const int nb = n0 + micro_col<Cfg>(tx, 4 * jg);
    if (nb >= ncols) continue;
#pragma unroll
    for (int i = 0; i < Cfg::TM; ++i) {
      const int m = m0 + micro_row<Cfg>(ty, i);
      if (m >= M) continue;
      T* p = dst + int64_t(m) * ncols + nb;
      if (nb + 3 < ncols) {
        T v[4] = {acc[i][4 * jg], acc[i][4 * jg + 1], acc[i][4 * jg + 2], acc[i][4 * jg + 3]};
        store4(p, v);
      } else {
        for (int jj = 0; jj < 4 && nb + jj < ncols; ++jj) p[jj] = acc[i][4 * jg + jj];
      }
    }
  }
}

// gw[i] = sum over slices z (in order) of ws[z][i].
template <typename T>
__global__ void weight_reduce_kernel(const T* __restrict__ ws, int splits, int64_t count, T* __restrict__ gw) {
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < count;
       idx += int64_t(gridDim.x) * blockDim.x) {
    T sum = T(0);
    for (int z = 0; z < splits; ++z) sum += ws[z * count + idx];
    gw[idx] = sum;
  }
}

// ---- host side: planning and launching ---------------------------------------------------------------------

enum class Tile { Big, Wide, Mid, Thin };

struct TileDims {
  int bm, bn, bk;
};
TileDims tile_dims(Tile t) {
  switch (t) {
    case Tile::Big: return {CfgBig::BM, CfgBig::BN, CfgBig::BK};
    case Tile::Wide: return {CfgWide::BM, CfgWide::BN, CfgWide::BK};
    case Tile::Mid: return {CfgMid::BM, CfgMid::BN, CfgMid::BK};
    case Tile::Thin: return {CfgThin::BM, CfgThin::BN, CfgThin::BK};
  }
  return {CfgMid::BM, CfgMid::BN, CfgMid::BK};
}

// Streaming multiprocessors the plan is made for (kernels/cuda/runtime.h: a test may force the count).
int sm_count() { return planner_sm_count(); }

// Split-K workspace bound: slices beyond it are not worth their memory traffic.
constexpr int64_t kMaxWorkspaceBytes = int64_t(256) << 20;

// How one GEMM C[M, n_max] (phases of them) with reduction length K runs: tile shape and K slices.
struct Plan {
  Tile tile = Tile::Mid;
  int splits = 1;
  int k_per_split = 0;
};

Plan plan_gemm(int64_t M, int64_t n_max, int64_t K, int phases, size_t elem_bytes) {
  const int sms = sm_count();
  const auto tiles_of = [&](Tile t) {
    const TileDims td = tile_dims(t);
    return ((M + td.bm - 1) / td.bm) * ((n_max + td.bn - 1) / td.bn) * phases;
  };
  Plan plan;
  if (M <= 16) {
    plan.tile = Tile::Thin;
  } else {
    // The largest tile that still gives every SM a block; doubles skip the 8x8 micro-tile (128 accumulator
    // registers of doubles would spill).
    plan.tile = Tile::Mid;
    const Tile order[] = {Tile::Big, Tile::Wide};
    for (Tile t : order) {
      if (t == Tile::Big && (elem_bytes > 4 || M <= 64)) continue;
      if (tiles_of(t) >= sms) {
        plan.tile = t;
        break;
      }
    }
  }
  const TileDims td = tile_dims(plan.tile);
  const int64_t tiles = tiles_of(plan.tile);
  const int64_t steps = (K + td.bk - 1) / td.bk;
  // Slices until about two blocks per SM, each at least 8 K steps long, within the workspace bound.
  constexpr int64_t kMinStepsPerSplit = 8;
  int64_t splits = 1;
  const int64_t target = 2 * int64_t(sms);
  if (tiles < target && steps >= 2 * kMinStepsPerSplit) {
    splits = std::min((target + tiles - 1) / tiles, steps / kMinStepsPerSplit);
    const int64_t slice_bytes = M * n_max * phases * int64_t(elem_bytes);
    splits = std::min(splits, std::max<int64_t>(1, kMaxWorkspaceBytes / std::max<int64_t>(slice_bytes, 1)));
    splits = std::min<int64_t>(splits, 65535 / phases);
    splits = std::max<int64_t>(splits, 1);
  }
  const int64_t steps_per_split = std::max<int64_t>(1, (steps + splits - 1) / splits);
  plan.k_per_split = static_cast<int>(steps_per_split * td.bk);
  plan.splits = static_cast<int>(std::max<int64_t>(1, (K + plan.k_per_split - 1) / plan.k_per_split));
  return plan;
}

// Conv2dShape -> Dims, with the checks that make 32-bit index arithmetic safe.
Dims to_dims(const char* op, const Conv2dShape& s, bool backward_data) {
  const auto str = [&] {
    return std::string(op) + ": x [" + std::to_string(s.N) + ", " + std::to_string(s.Cin) + ", " +
           std::to_string(s.H) + ", " + std::to_string(s.W) + "], w [" + std::to_string(s.Cout) + ", " +
           std::to_string(s.Cin) + ", " + std::to_string(s.kh) + ", " + std::to_string(s.kw) + "], y [" +
           std::to_string(s.N) + ", " + std::to_string(s.Cout) + ", " + std::to_string(s.Ho) + ", " +
           std::to_string(s.Wo) + "], stride " + std::to_string(s.stride) + ", padding " + std::to_string(s.pad);
  };
  if (s.N < 0 || s.Cin < 0 || s.H < 0 || s.W < 0 || s.Cout < 0 || s.kh < 1 || s.kw < 1 || s.stride < 1 ||
      s.pad < 0 || s.Ho < 0 || s.Wo < 0)
    throw std::invalid_argument(str() + ": invalid shape");
  if (s.Ho != (s.H + 2 * s.pad - s.kh) / s.stride + 1 || s.Wo != (s.W + 2 * s.pad - s.kw) / s.stride + 1)
    throw std::invalid_argument(str() + ": Ho, Wo must equal (H + 2 pad - k) / stride + 1");
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const int64_t per_image = std::max(s.Cin * s.H * s.W, s.Cout * s.Ho * s.Wo);
  const int64_t pixels = std::max(s.N * s.Ho * s.Wo, s.N * s.H * s.W);
  const int64_t weight = s.Cout * s.Cin * s.kh * s.kw;
  if (per_image > kMax || pixels > kMax || weight > kMax || s.stride > 255 || s.pad > kMax / 4)
    throw std::invalid_argument(str() + ": too large for the CUDA convolution (32-bit indexing per image)");
  if ((backward_data ? s.Cin : s.Cout) > 65535 * 16)
    throw std::invalid_argument(str() + ": too many channels for the CUDA convolution's grid");
  Dims d;
  d.N = int(s.N), d.Cin = int(s.Cin), d.H = int(s.H), d.W = int(s.W), d.Cout = int(s.Cout);
  d.kh = int(s.kh), d.kw = int(s.kw), d.s = int(s.stride), d.p = int(s.pad), d.Ho = int(s.Ho), d.Wo = int(s.Wo);
  return d;
}

// A split-K workspace from the caching allocator, returned when the launcher is done queueing (the allocator is
// stream-ordered, so the kernels still queued keep it until they have run).
class Workspace {
 public:
  explicit Workspace(size_t bytes) : ptr_(bytes > 0 ? device_alloc(bytes) : nullptr) {}
  ~Workspace() { device_free(ptr_); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_;
};

unsigned reduce_blocks(int64_t count) {
  return static_cast<unsigned>(std::clamp<int64_t>((count + 255) / 256, 1, int64_t(sm_count()) * 16));
}

template <typename T, class Cfg>
void launch_gather(const GatherArgs<T>& args, int phases, int M) {
  const dim3 grid((args.ws_n + Cfg::BN - 1) / Cfg::BN, (M + Cfg::BM - 1) / Cfg::BM, phases * args.splits);
  launch<gather_gemm_kernel<T, Cfg>>(grid, Cfg::NT, 0, stream(), args);
}

// Forward (backward_data false: a = w, b = x, out = y) or backward data (a = w, b = gy, out = gx).
template <typename T>
void run_gather(const char* op, const Conv2dShape& s, bool backward_data, const T* a, const T* b, const T* bias,
                T* out) {
  const Dims d = to_dims(op, s, backward_data);
  const int phases = backward_data ? d.s * d.s : 1;
  int n_max = 0, k_max = 0;
  for (int ph = 0; ph < phases; ++ph) {
    const GatherGemm g = gather_gemm(d, backward_data, ph);
    n_max = std::max(n_max, g.N);
    k_max = std::max(k_max, g.K);
  }
  const int M = backward_data ? d.Cin : d.Cout;
  if (M == 0 || n_max == 0) return;
  const Plan plan = plan_gemm(M, n_max, k_max, phases, sizeof(T));
  const Workspace ws(plan.splits > 1 ? size_t(plan.splits) * phases * M * n_max * sizeof(T) : 0);
  const GatherArgs<T> args{d, backward_data, a, b, bias, out, plan.splits, plan.k_per_split, ws.as<T>(), n_max};
  switch (plan.tile) {
    case Tile::Big: launch_gather<T, CfgBig>(args, phases, M); break;
    case Tile::Wide: launch_gather<T, CfgWide>(args, phases, M); break;
    case Tile::Mid: launch_gather<T, CfgMid>(args, phases, M); break;
    case Tile::Thin: launch_gather<T, CfgThin>(args, phases, M); break;
  }
  if (plan.splits > 1) {
    const dim3 grid(reduce_blocks(int64_t(M) * n_max), phases);
    launch<gather_reduce_kernel<T>>(grid, 256, 0, stream(), args);
  }
}

template <typename T, class Cfg>
void launch_weight(const WeightArgs<T>& args, int ncols) {
  const dim3 grid((ncols + Cfg::BN - 1) / Cfg::BN, (args.d.Cout + Cfg::BM - 1) / Cfg::BM, args.splits);
  launch<weight_gemm_kernel<T, Cfg>>(grid, Cfg::NT, 0, stream(), args);
}

}  // namespace

template <typename T>
void conv2d_forward(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y) {
  run_gather<T>("conv2d_forward (CUDA)", s, false, w, x, bias, y);
}

template <typename T>
void conv2d_backward_data(const Conv2dShape& s, const T* gy, const T* w, const T* bias, T* gx) {
  run_gather<T>("conv2d_backward_data (CUDA)", s, true, w, gy, bias, gx);
}

template <typename T>
void conv2d_backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw) {
  const Dims d = to_dims("conv2d_backward_weight (CUDA)", s, false);
  const int ncols = d.Cin * d.kh * d.kw, R = d.N * d.Ho * d.Wo;
  if (d.Cout == 0 || ncols == 0) return;
  const Plan plan = plan_gemm(d.Cout, ncols, R, 1, sizeof(T));
  const Workspace ws(plan.splits > 1 ? size_t(plan.splits) * d.Cout * ncols * sizeof(T) : 0);
  const WeightArgs<T> args{d, x, gy, gw, plan.splits, plan.k_per_split, ws.as<T>()};
  switch (plan.tile) {
    case Tile::Big: launch_weight<T, CfgBig>(args, ncols); break;
    case Tile::Wide: launch_weight<T, CfgWide>(args, ncols); break;
    case Tile::Mid: launch_weight<T, CfgMid>(args, ncols); break;
    case Tile::Thin: launch_weight<T, CfgThin>(args, ncols); break;
  }
  if (plan.splits > 1) {
    const int64_t count = int64_t(d.Cout) * ncols;
    launch<weight_reduce_kernel<T>>(reduce_blocks(count), 256, 0, stream(), ws.as<T>(), plan.splits, count, gw);
  }
}

#define GAN_INSTANTIATE_CONV(T)                                                                   \
  template void conv2d_forward<T>(const Conv2dShape&, const T*, const T*, const T*, T*);          \
  template void conv2d_backward_data<T>(const Conv2dShape&, const T*, const T*, const T*, T*);    \
  template void conv2d_backward_weight<T>(const Conv2dShape&, const T*, const T*, T*);
GAN_INSTANTIATE_CONV(float)
GAN_INSTANTIATE_CONV(double)
#undef GAN_INSTANTIATE_CONV

}  // namespace gan::kernels::cuda
