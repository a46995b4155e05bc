// CUDA convolution: one implicit-GEMM kernel family for conv forward, backward-data (= transposed-conv forward)
// and backward-weight, with per-axis stride, padding and dilation, and groups. kernels/conv.h gives the maths and
// the shapes; this file only says how.
//
// Implicit GEMM: the GEMM operands are gathered from the NCHW tensors tile by tile while shared memory is filled,
// so no im2col buffer ever exists in global memory. With G groups, cg = Cin / G and og = Cout / G, each group is
// its own GEMM on its channels (one launch covers them all: blockIdx.y = group * M tiles + M tile):
//   forward          C[og, N Ho Wo]   = W_g[og, cg kh kw] * col(x_g)[cg kh kw, N Ho Wo]            (+ bias)
//   backward data    C[cg, N Hq Wq]   = one GEMM per stride phase, see below                         (+ bias)
//   backward weight  C[og, cg kh kw]  = Gy_g[og, N Ho Wo] * col(x_g)^T[N Ho Wo, cg kh kw]
//
// Backward data without zero insertion: input row h receives kernel row i from output row
// oh = (h + p - i d) / s only when s divides h + p - i d. Rows are therefore grouped by their phase
// rh = (h + p) mod s: the phase's rows are h = h0 + s a (a = 0 .. Hq - 1). Its taps are the i with
// i d = rh (mod s): none unless e = gcd(s, d) divides rh, else i = i0 + (s / e) t (t = 0 .. Th - 1) with i0 the
// smallest, and oh = ch + a - (d / e) t with ch = (h0 + p - i0 d) / s exact (d = 1: i = rh + s t, oh = ch + a - t).
// Columns likewise. Each of the sh sw phases is a dense GEMM over only the taps that hit it,
//   C[cg, N Hq Wq] = W_phase^T[cg, og Th Tw] * Gy_phase[og Th Tw, N Hq Wq],
// and one launch covers all phases (blockIdx.z). A phase with no taps (kernel smaller than the stride, a dilation
// that skips it, or the rows that output_padding adds) gets the bias alone.
//
// Forward and backward data differ only in where the operands come from, so one kernel serves both, driven by a
// GatherGemm descriptor: A is read from the weight with four strides, B is gathered from an image plane (x for
// the forward, gy for backward data) with bounds checks standing in for the zero padding, and C is scattered to an
// NCHW output with a stride (1 forward, s backward data). Backward weight has its own loader (its reduction runs
// over pixels, not taps) and shares the rest.
//
// Tiling (tile shapes, arithmetic policies and the main loop: kernels/cuda/conv_gemm.cuh): a block of
// (BM/TM)(BN/TN) threads computes a BM x BN tile of C, each thread a TM x TN micro-tile held in registers. K
// advances BK at a time through double-buffered shared memory: the next tile's global loads are issued before the
// current tile's FMAs, so their latency hides behind the arithmetic. Shared-memory rows are padded by 4 elements so
// the transposing stores do not conflict, and the micro-kernel reads 128-bit vectors. Four tile shapes (128x128,
// 64x128, 64x64, 16x128) cover large layers, narrow layers and layers with very few output channels (the critic's
// last conv has one).
//
// The gather kernel's K loop visits k = (channel, tap) in one of two orders (KOrder): tap-major whenever the
// channel count is a multiple of BK, so that a K step is one tap of BK channels and a thread's loads are pointer
// increments after one bounds check per step; channel-major otherwise (any shape, each element decoded).
//
// Arithmetic: float convolutions follow the process's math mode (kernels/math_mode.h). In the TF32 mode (the
// default, like PyTorch's cuDNN convolutions) they keep the loaders, shared-memory staging, epilogues and split-K,
// and replace the FMAs by tensor cores: each warp computes a warp tile of mma.sync m16n8k8 TF32 products (operands
// rounded with cvt.rna, FP32 accumulation; MmaMath and the MmaTileCfg shapes, K 16 per step), and the operands
// reach shared memory through a three-stage cp.async pipeline instead of registers (gemm_mainloop). The BF16 mode
// is the same kernel with BF16 tensor cores (BfMath): the FP32 shared tiles are rounded to bf16 pairwise (cvt.rn,
// ties to even) into the fragments of one mma.sync m16n8k16 per 16 k, FP32 accumulation, and the epilogue rounds
// the output to bf16 (a bf16 conv's result, kernels/conv.h; split-K rounds once, after the sum). Strict FP32 and
// doubles use the SIMT micro-tiles (SimtMath). Groups, dilation, strides and padding work the same in all three.
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
#include <atomic>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/conv_gemm.cuh"
#include "kernels/cuda/dynamic_shared.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/mma.cuh"
#include "kernels/cuda/runtime.h"
#include "kernels/math_mode.h"

namespace gan::kernels::cuda {
namespace {

// ---- problem descriptions ---------------------------------------------------------------------------------

// Conv2dShape in 32-bit ints (checked by the launchers). Cin and Cout count all groups.
struct Dims {
  int N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, dh, dw, G, Ho, Wo;
  __host__ __device__ int cg() const { return Cin / G; }   // input channels per group
  __host__ __device__ int og() const { return Cout / G; }  // output channels per group
};

// One GEMM C[M, N] = A[M, K] B[K, N] whose B is gathered from an image and whose C is scattered to one, for one
// group: group `grp` reads a + grp a_grp and b + grp b_grp, and writes out + grp o_grp (bias + grp M).
//   k = (c, u, v) in [C) x [U) x [V), C = K / (U V) channels (the channel-major order; the tap-major order
//       k = (u, v, c) reads the same A and B, see KOrder)
//   A[m, k] = a[m a_m + c a_c + u a_u + v a_v + a_off]
//   n = (img, qa, qb) in [N / (QH QW)) x [QH) x [QW)
//   B[k, n] = b[img b_img + c b_c + r b_ld + col] with r = qa b_sr + b_r0 + u b_du, col = qb b_sc + b_c0 + v b_dv,
//             zero unless 0 <= r < b_rows and 0 <= col < b_cols
//   out[img o_img + m o_m + (o_r0 + qa o_sr) o_ld + o_c0 + qb o_sc] = C[m, n] + bias[m]
struct GatherGemm {
  int M, N, K;
  FastDiv UV, V, C;
  int a_m, a_c, a_u, a_v, a_off, a_grp;
  int64_t b_img;
  int b_c, b_grp, b_ld, b_rows, b_cols, b_sr, b_sc, b_r0, b_c0, b_du, b_dv;
  FastDiv QHW, QW;
  int64_t o_img;
  int o_m, o_grp, o_ld, o_r0, o_c0, o_sr, o_sc;
};

// Forward: A = W_g [og, cg kh kw], B = col(x_g), C scattered to y's channels of group g.
__host__ __device__ inline GatherGemm forward_gemm(const Dims& d) {
  GatherGemm g{};
  const int khw = d.kh * d.kw;
  g.M = d.og(), g.N = d.N * d.Ho * d.Wo, g.K = d.cg() * khw;
  g.UV = FastDiv(khw), g.V = FastDiv(d.kw), g.C = FastDiv(d.cg());
  g.a_m = d.cg() * khw, g.a_c = khw, g.a_u = d.kw, g.a_v = 1, g.a_off = 0, g.a_grp = d.og() * d.cg() * khw;
  g.b_img = int64_t(d.Cin) * d.H * d.W, g.b_c = d.H * d.W, g.b_grp = d.cg() * d.H * d.W;
  g.b_ld = d.W, g.b_rows = d.H, g.b_cols = d.W;
  g.b_sr = d.sh, g.b_sc = d.sw, g.b_r0 = -d.ph, g.b_c0 = -d.pw, g.b_du = d.dh, g.b_dv = d.dw;
  g.QHW = FastDiv(d.Ho * d.Wo), g.QW = FastDiv(d.Wo);
  g.o_img = int64_t(d.Cout) * d.Ho * d.Wo, g.o_m = d.Ho * d.Wo, g.o_grp = d.og() * d.Ho * d.Wo, g.o_ld = d.Wo;
  g.o_r0 = 0, g.o_c0 = 0, g.o_sr = 1, g.o_sc = 1;
  return g;
}

// The rows (or columns) of one backward-data phase r along an axis of input size `in`, kernel size k, stride s,
// padding p, dilation dl: first row h0, row count q; first tap i0, tap step (s / e), tap count, and the output-row
// step (d / e) and offset c with oh = c + a - (d / e) t for row a and tap t (e = gcd(s, d); see the top).
struct PhaseAxis {
  int h0, q, i0, tap_step, taps, oh_step, c;
};
__host__ __device__ inline PhaseAxis phase_axis(int r, int in, int k, int s, int p, int dl) {
  PhaseAxis a{};
  a.h0 = ((r - p) % s + s) % s;
  a.q = a.h0 < in ? (in - a.h0 + s - 1) / s : 0;
  int e = s, f = dl;  // gcd(s, dl), by Euclid: a few steps once per block
  while (f != 0) {
    const int t = e % f;
    e = f;
    f = t;
  }
  a.tap_step = s / e, a.oh_step = dl / e;
  a.i0 = -1;
  if (r % e == 0)  // i dl = r (mod s) has solutions, one in every run of s / e consecutive i
    for (int i = 0; i < a.tap_step && i < k; ++i)
      if ((i * dl - r) % s == 0) {
        a.i0 = i;
        break;
      }
  a.taps = a.i0 >= 0 ? (k - 1 - a.i0) / a.tap_step + 1 : 0;
  a.c = a.taps > 0 ? (a.h0 + p - a.i0 * dl) / s : 0;
  return a;
}

// Backward data, phase `phase` = rh sw + rw: A = W_phase^T [cg, og Th Tw], B = the phase's gy taps, C scattered
// to every sh-th row and sw-th column of gx's channels of group g.
__host__ __device__ inline GatherGemm backward_data_gemm(const Dims& d, int phase) {
  const int rh = phase / d.sw, rw = phase % d.sw;
  const PhaseAxis ph = phase_axis(rh, d.H, d.kh, d.sh, d.ph, d.dh), pw = phase_axis(rw, d.W, d.kw, d.sw, d.pw, d.dw);
  GatherGemm g{};
  const int khw = d.kh * d.kw;
  g.M = d.cg(), g.N = d.N * ph.q * pw.q, g.K = d.og() * ph.taps * pw.taps;
  g.UV = FastDiv(ph.taps * pw.taps), g.V = FastDiv(pw.taps), g.C = FastDiv(d.og());
  g.a_m = khw, g.a_c = d.cg() * khw, g.a_u = ph.tap_step * d.kw, g.a_v = pw.tap_step;
  g.a_off = g.K > 0 ? ph.i0 * d.kw + pw.i0 : 0, g.a_grp = d.og() * d.cg() * khw;
  g.b_img = int64_t(d.Cout) * d.Ho * d.Wo, g.b_c = d.Ho * d.Wo, g.b_grp = d.og() * d.Ho * d.Wo;
  g.b_ld = d.Wo, g.b_rows = d.Ho, g.b_cols = d.Wo;
  g.b_sr = 1, g.b_sc = 1, g.b_r0 = ph.c, g.b_c0 = pw.c, g.b_du = -ph.oh_step, g.b_dv = -pw.oh_step;
  g.QHW = FastDiv(ph.q * pw.q), g.QW = FastDiv(pw.q);
  g.o_img = int64_t(d.Cin) * d.H * d.W, g.o_m = d.H * d.W, g.o_grp = d.cg() * d.H * d.W, g.o_ld = d.W;
  g.o_r0 = ph.h0, g.o_c0 = pw.h0, g.o_sr = d.sh, g.o_sc = d.sw;
  return g;
}

__host__ __device__ inline GatherGemm gather_gemm(const Dims& d, bool backward_data, int phase) {
  return backward_data ? backward_data_gemm(d, phase) : forward_gemm(d);
}

// A float output rounded to bf16 (the BF16 policy's split-K reductions, kernels/conv.h); doubles never are.
template <typename T>
__device__ __forceinline__ T round_bf16(T v) {
  if constexpr (std::is_same_v<T, float>)
    return bf16_round_float(v);
  else
    return v;
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
  T* ws;          // [groups][phases][splits][M][ws_n]
  int ws_n;       // the largest phase's N
  int m_tiles;    // blocks along M per group (blockIdx.y = group m_tiles + tile)
  bool bf16_output;  // gather_reduce_kernel rounds the output to bf16 (the BF16 policy's split-K)
};

template <typename T>
struct WeightArgs {
  Dims d;
  const T* x;
  const T* gy;
  T* gw;
  int splits;     // slices of the N Ho Wo reduction; > 1: partial tiles go to ws, weight_reduce_kernel finishes
  int r_per_split;
  T* ws;          // [splits][Cout][cg kh kw]
  int m_tiles;    // blocks along og per group (blockIdx.y = group m_tiles + tile)
};

// ---- forward / backward data: the gather kernel ----------------------------------------------------------

// The order in which the K loop visits k = (channel, tap). The sum is the same either way (up to rounding);
// what differs is what a thread computes per element.
//   ChannelMajor: k = (c, u, v), taps fastest. Every element decodes its own k (two divisions) and checks its own
//     bounds: any channel count works.
//   TapMajor: k = (u, v, c), channels fastest. When the channel count C is a multiple of BK, every K step lies in
//     one tap: a thread decodes the tap once per step, checks its B column's bounds once, and each element is a
//     pointer increment. The launcher picks it whenever C % BK == 0 (the DCGAN layers but the first), so the
//     loads stop outnumbering the tensor-core instructions they feed.
enum class KOrder { ChannelMajor, TapMajor };

// A loads are k-fast (each thread one k, AE rows m); B loads are n-fast (each thread one column n, BE rows k), so
// a warp reads consecutive pixels along n.
template <typename T, class Cfg, KOrder Order>
struct GatherLoader {
  static constexpr int kB = Cfg::NT / Cfg::BN;  // k distance between a thread's B rows
  GatherGemm g;
  const T* a;
  int kk;                 // this thread's k within the step, for A
  int ml0;                // its first A row within the tile; the others follow every NT / BK
  int m_first;            // its first A row (global); row q is m_first + q NT / BK, >= M means padding
  const T* a_row;         // A's row m_first
  int a_stride;           // A offset between its rows: (NT / BK) a_m, saturated (used for rows inside A only)
  int kb;                 // its first B row within the step; the others follow every NT / BN
  int nl;                 // its B column within the tile
  bool b_col;             // its column is inside N
  const T* b_img;         // its column's image (the first image past N)
  int b_r0, b_c0;         // its column's first input row and column

  __device__ GatherLoader(const GatherGemm& gemm, const T* a_ptr, const T* b_ptr, int m0, int n0, int tid)
      : g(gemm), a(a_ptr) {
    kk = tid % Cfg::BK;
    ml0 = tid / Cfg::BK;
    m_first = m0 + ml0;
    a_row = a + int64_t(m_first) * g.a_m;
    // Rows inside A are less than M a_m <= INT32_MAX elements apart (the launcher checks the weight's size), so the
    // stride is exact whenever a second row exists; padding rows take row m_first's address instead (32-bit
    // offsets keep the SIMT tiles within their registers).
    const int64_t stride = int64_t(Cfg::NT / Cfg::BK) * g.a_m;
    a_stride = static_cast<int>(stride < INT32_MAX ? stride : INT32_MAX);
    kb = tid / Cfg::BN;
    nl = tid % Cfg::BN;
    const int n = n0 + nl;
    b_col = n < g.N;
    b_img = b_ptr;
    b_r0 = b_c0 = 0;
    if (b_col) {
      const int img = g.QHW.div(n);
      const int rem = n - img * static_cast<int>(g.QHW.d);
      const int qa = g.QW.div(rem);
      const int qb = rem - qa * static_cast<int>(g.QW.d);
      b_img = b_ptr + img * g.b_img;
      b_r0 = qa * g.b_sr + g.b_r0;
      b_c0 = qb * g.b_sc + g.b_c0;
    }
  }

  __device__ __forceinline__ bool a_row_valid(int q) const { return m_first + q * (Cfg::NT / Cfg::BK) < g.M; }

  // k = (c, u, v) -> c, u, v.
  __device__ __forceinline__ void decode(int k, int& c, int& u, int& v) const {
    c = g.UV.div(k);
    const int uv = k - c * static_cast<int>(g.UV.d);
    u = g.V.div(uv);
    v = uv - u * static_cast<int>(g.V.d);
  }

  // Calls a_elem(q, p, valid) for this thread's A elements q of the step at k0 and b_elem(q, p, valid) for its B
  // elements: p their global address, valid false where the element is zero (past k_end, M or N; outside the
  // image). Nothing reads p then (a zero-filling cp.async names it and reads no byte): it may lie past A's rows.
  template <class AElem, class BElem>
  __device__ __forceinline__ void visit(int k0, int k_end, AElem&& a_elem, BElem&& b_elem) const {
    if constexpr (Order == KOrder::TapMajor) {
      visit_tap_major(k0, a_elem, b_elem);
    } else {
      visit_channel_major(k0, k_end, a_elem, b_elem);
    }
  }

  template <class AElem, class BElem>
  __device__ __forceinline__ void visit_channel_major(int k0, int k_end, AElem&& a_elem, BElem&& b_elem) const {
    const int ka = k0 + kk;
    const bool k_in = ka < k_end;
    int off = 0;
    if (k_in) {
      int c, u, v;
      decode(ka, c, u, v);
      off = c * g.a_c + u * g.a_u + v * g.a_v + g.a_off;
    }
#pragma unroll
    for (int q = 0; q < Cfg::AE; ++q) {
      const bool row = a_row_valid(q);
      a_elem(q, a_row + off + (row ? q * a_stride : 0), k_in && row);
    }
#pragma unroll
    for (int q = 0; q < Cfg::BE; ++q) {
      const int k = k0 + kb + q * kB;
      int b_off = 0;
      bool valid = false;
      if (b_col && k < k_end) {
        int c, u, v;
        decode(k, c, u, v);
        const int r = b_r0 + u * g.b_du, col = b_c0 + v * g.b_dv;
        valid = static_cast<unsigned>(r) < static_cast<unsigned>(g.b_rows) &&
                static_cast<unsigned>(col) < static_cast<unsigned>(g.b_cols);
        if (valid) b_off = c * g.b_c + r * g.b_ld + col;
      }
      b_elem(q, b_img + b_off, valid);
    }
  }

  // The step [k0, k0 + BK) is channels c0 .. c0 + BK - 1 of one tap (C % BK == 0, and K slices are whole steps, so
  // no k of it reaches k_end).
  template <class AElem, class BElem>
  __device__ __forceinline__ void visit_tap_major(int k0, AElem&& a_elem, BElem&& b_elem) const {
    const int tap = g.C.div(k0);
    const int c0 = k0 - tap * static_cast<int>(g.C.d);
    const int u = g.V.div(tap), v = tap - u * static_cast<int>(g.V.d);
    const int a_k = (c0 + kk) * g.a_c + u * g.a_u + v * g.a_v + g.a_off;
#pragma unroll
    for (int q = 0; q < Cfg::AE; ++q) {
      const bool row = a_row_valid(q);
      a_elem(q, a_row + a_k + (row ? q * a_stride : 0), row);
    }
    const int r = b_r0 + u * g.b_du, col = b_c0 + v * g.b_dv;
    const bool inside = b_col && static_cast<unsigned>(r) < static_cast<unsigned>(g.b_rows) &&
                        static_cast<unsigned>(col) < static_cast<unsigned>(g.b_cols);
    // Outside the image every element is a zero: the address stays at the image's start.
    const T* b_k = b_img + (inside ? (c0 + kb) * g.b_c + r * g.b_ld + col : 0);
    const int64_t b_step = inside ? kB * g.b_c : 0;  // 64-bit: each element one pointer add
#pragma unroll
    for (int q = 0; q < Cfg::BE; ++q, b_k += b_step) b_elem(q, b_k, inside);
  }

  // Where A element q and B element q go in the shared tiles.
  __device__ __forceinline__ T* a_slot(T (*As)[Cfg::BM + Cfg::PAD], int q) const {
    if constexpr (Cfg::FRAGMENT_A)
      return &As[0][0] + Cfg::a_index(kk, ml0 + q * (Cfg::NT / Cfg::BK));
    else
      return &As[kk][ml0 + q * (Cfg::NT / Cfg::BK)];
  }
  __device__ __forceinline__ T* b_slot(T (*Bs)[Cfg::BN + Cfg::PAD], int q) const {
    return &Bs[kb + q * kB][nl];
  }
};

// C = A B for one (tile, group, phase, K slice): with splits == 1 the epilogue adds the bias and scatters to `out`;
// otherwise the raw tile goes to ws[group][phase][split][M][ws_n] for gather_reduce_kernel.
template <typename T, class Cfg, class Math, KOrder Order>
__global__ void __launch_bounds__(Cfg::NT, sizeof(T) == 4 ? Cfg::MIN_BLOCKS : 1)
    gather_gemm_kernel(GatherArgs<T> args) {
  const int splits = args.splits;
  const int phase = blockIdx.z / splits, split = blockIdx.z % splits;
  const int group = blockIdx.y / args.m_tiles, m_tile = blockIdx.y % args.m_tiles;
  const GatherGemm g = gather_gemm(args.d, args.backward_data, phase);
  const int n0 = blockIdx.x * Cfg::BN, m0 = m_tile * Cfg::BM;
  if (n0 >= g.N) return;  // a phase with fewer pixels than the largest one; uniform across the block
  const int k_begin = split * args.k_per_split, k_end = min(g.K, k_begin + args.k_per_split);
  const T* a = args.a + int64_t(group) * g.a_grp;
  const T* b = args.b + int64_t(group) * g.b_grp;
  T* out = args.out + int64_t(group) * g.o_grp;
  const T* bias = args.bias != nullptr ? args.bias + group * g.M : nullptr;

  Smem<T, Cfg>& sm = block_tiles<T, Cfg, Math>();
  const int tid = threadIdx.x;
  Math math(tid);
  GatherLoader<T, Cfg, Order> ld(g, a, b, m0, n0, tid);
  gemm_mainloop<T, Cfg>(ld, k_begin, k_end, sm, math);

  constexpr int RUN = Math::RUN;
  if (splits > 1) {
    const int ws_n = args.ws_n;
    const int phases = gridDim.z / splits;
    T* slice = args.ws + ((int64_t(group) * phases + phase) * splits + split) * g.M * ws_n;
#pragma unroll
    for (int j = 0; j < Math::COL_RUNS; ++j)
#pragma unroll
      for (int jj = 0; jj < RUN; ++jj) {
        const int n = n0 + math.col(j) + jj;
        if (n >= g.N) continue;
#pragma unroll
        for (int i = 0; i < Math::ROWS; ++i) {
          const int m = m0 + math.row(i);
          if (m < g.M) slice[int64_t(m) * ws_n + n] = math.value(i, j, jj);
        }
      }
    return;
  }

  // Epilogue: each run of RUN columns is RUN consecutive pixels of one output row when the scatter stride is 1
  // and the run does not wrap to the next row; then one vector store per row of C where alignment allows.
#pragma unroll
  for (int j = 0; j < Math::COL_RUNS; ++j) {
    const int nb = n0 + math.col(j);
    if (nb >= g.N) continue;
    int64_t base[RUN];
    bool ok[RUN];
#pragma unroll
    for (int jj = 0; jj < RUN; ++jj) {
      const int n = nb + jj;
      ok[jj] = n < g.N;
      const int nn = ok[jj] ? n : nb;
      const int img = g.QHW.div(nn);
      const int rem = nn - img * static_cast<int>(g.QHW.d);
      const int qa = g.QW.div(rem);
      const int qb = rem - qa * static_cast<int>(g.QW.d);
      base[jj] = img * g.o_img + int64_t(g.o_r0 + qa * g.o_sr) * g.o_ld + g.o_c0 + qb * g.o_sc;
    }
    const bool contiguous = ok[RUN - 1] && base[RUN - 1] == base[0] + RUN - 1;
#pragma unroll
    for (int i = 0; i < Math::ROWS; ++i) {
      const int m = m0 + math.row(i);
      if (m >= g.M) continue;
      const T bm = bias != nullptr ? ldg(bias + m) : T(0);
      T v[RUN];
#pragma unroll
      for (int jj = 0; jj < RUN; ++jj) v[jj] = Math::finish(math.value(i, j, jj) + bm);
      T* row = out + int64_t(m) * g.o_m;
      if (contiguous) {
        store_run<T, RUN>(row + base[0], v);
      } else {
#pragma unroll
        for (int jj = 0; jj < RUN; ++jj)
          if (ok[jj]) row[base[jj]] = v[jj];
      }
    }
  }
}

// Sums the K slices of gather_gemm_kernel in slice order, adds the bias and scatters (one thread per element of
// C; blockIdx.y is the phase, blockIdx.z the group).
template <typename T>
__global__ void gather_reduce_kernel(GatherArgs<T> args) {
  const int phase = blockIdx.y, group = blockIdx.z, splits = args.splits, ws_n = args.ws_n;
  const GatherGemm g = gather_gemm(args.d, args.backward_data, phase);
  const int64_t count = int64_t(g.M) * ws_n;  // elements of one slice
  const T* src = args.ws + (int64_t(group) * gridDim.y + phase) * splits * count;
  T* out = args.out + int64_t(group) * g.o_grp;
  const T* bias = args.bias != nullptr ? args.bias + group * g.M : nullptr;
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
    const int64_t o = img * g.o_img + int64_t(m) * g.o_m + int64_t(g.o_r0 + qa * g.o_sr) * g.o_ld + g.o_c0 +
                      qb * g.o_sc;
    const T v = sum + (bias != nullptr ? ldg(bias + m) : T(0));
    out[o] = args.bf16_output ? round_bf16(v) : v;
  }
}

// ---- backward weight ---------------------------------------------------------------------------------------

// gw_g[og, cg kh kw] = Gy_g[og, R] col(x_g)^T[R, cg kh kw], R = N Ho Wo, per group g (x and gy already offset to
// the group's channels). The reduction index r = (img, oh, ow) is the same for A and B within a step, so both loads
// are r-fast: each thread decodes one r per step and reads AE channels of gy and BE taps of x at that pixel.
// A thread's B columns are NT / BK apart. SharedTap (the launcher's choice, when kh kw divides NT / BK: a 4x4 kernel
// under the 128x128 and 64x128 tensor-core tiles, any 1x1 kernel): they are one tap of channels (NT / BK) / (kh kw)
// apart, so one bounds check per step serves them all and each element is a pointer increment.
template <typename T, class Cfg, bool SharedTap>
struct WeightLoader {
  Dims d;
  const T* x;
  const T* gy;
  FastDiv L, Wo;
  int kk;                 // this thread's r within the step
  int ml0;                // its first A row within the tile; the others follow every NT / BK
  int m_first;            // its first A row (output channel of the group); row q is m_first + q NT / BK, >= og
                          // means padding
  int nl0;                // its first B column within the tile; the others follow every NT / BK
  int x_off[Cfg::BE];     // per B column: c H W (c within the group), or -1 past the group's columns
  int tap_i[Cfg::BE], tap_j[Cfg::BE];  // per B column: the dilated tap offsets i dh, j dw
  int n_first, ncols;     // the thread's first B column; the group's column count

  __device__ WeightLoader(const Dims& dims, const T* x_ptr, const T* gy_ptr, int m0, int n0, int tid)
      : d(dims), x(x_ptr), gy(gy_ptr), L(dims.Ho * dims.Wo), Wo(dims.Wo) {
    kk = tid % Cfg::BK;
    ml0 = tid / Cfg::BK;
    m_first = m0 + ml0;
    nl0 = tid / Cfg::BK;
    const int khw = d.kh * d.kw;
    ncols = d.cg() * khw;
    n_first = n0 + nl0;
    const FastDiv KHW(khw), KW(d.kw);
#pragma unroll
    for (int q = 0; q < Cfg::BE; ++q) {
      const int n = n0 + nl0 + q * (Cfg::NT / Cfg::BK);
      x_off[q] = -1, tap_i[q] = 0, tap_j[q] = 0;
      if (n < ncols) {
        const int ci = KHW.div(n);
        const int rem = n - ci * khw;
        const int i = KW.div(rem);
        tap_i[q] = i * d.dh;
        tap_j[q] = (rem - i * d.kw) * d.dw;
        x_off[q] = ci * d.H * d.W;
      }
    }
  }

  // As GatherLoader::visit, for the step at r0 of the pixel reduction.
  template <class AElem, class BElem>
  __device__ __forceinline__ void visit(int r0, int r_end, AElem&& a_elem, BElem&& b_elem) const {
    const int r = r0 + kk;
    if (r >= r_end) {
#pragma unroll
      for (int q = 0; q < Cfg::AE; ++q) a_elem(q, gy, false);
#pragma unroll
      for (int q = 0; q < Cfg::BE; ++q) b_elem(q, x, false);
      return;
    }
    const int img = L.div(r);
    const int l = r - img * static_cast<int>(L.d);
    const int oh = Wo.div(l);
    const int ow = l - oh * static_cast<int>(Wo.d);
    // Rows q of A are q (NT / BK) channels of gy apart; those past og are padding (not read).
    // 64-bit offsets: padding rows may lie far past gy.
    const T* gyi = gy + (int64_t(img) * d.Cout + m_first) * static_cast<int>(L.d) + l;
    const int64_t a_stride = int64_t(Cfg::NT / Cfg::BK) * static_cast<int>(L.d);
    const int og = d.og();
#pragma unroll
    for (int q = 0; q < Cfg::AE; ++q, gyi += a_stride) a_elem(q, gyi, m_first + q * (Cfg::NT / Cfg::BK) < og);
    const T* xi = x + int64_t(img) * d.Cin * d.H * d.W;
    const int ih0 = oh * d.sh - d.ph, iw0 = ow * d.sw - d.pw;
    if constexpr (SharedTap) {
      const int ih = ih0 + tap_i[0], iw = iw0 + tap_j[0];
      const bool inside = static_cast<unsigned>(ih) < static_cast<unsigned>(d.H) &&
                          static_cast<unsigned>(iw) < static_cast<unsigned>(d.W);
      // Past the group's columns x_off[0] is -1: those elements are not read, so the address is only kept in range.
      const T* xb = xi + (inside ? max(x_off[0], 0) + ih * d.W + iw : 0);
      const int64_t c_step = inside ? int64_t((Cfg::NT / Cfg::BK) / (d.kh * d.kw)) * d.H * d.W : 0;
#pragma unroll
      for (int q = 0; q < Cfg::BE; ++q, xb += c_step)
        b_elem(q, xb, inside && n_first + q * (Cfg::NT / Cfg::BK) < ncols);
    } else {
#pragma unroll
      for (int q = 0; q < Cfg::BE; ++q) {
        const int ih = ih0 + tap_i[q], iw = iw0 + tap_j[q];
        const bool inside = x_off[q] >= 0 && static_cast<unsigned>(ih) < static_cast<unsigned>(d.H) &&
                            static_cast<unsigned>(iw) < static_cast<unsigned>(d.W);
        b_elem(q, xi + (inside ? x_off[q] + ih * d.W + iw : 0), inside);
      }
    }
  }

  __device__ __forceinline__ T* a_slot(T (*As)[Cfg::BM + Cfg::PAD], int q) const {
    if constexpr (Cfg::FRAGMENT_A)
      return &As[0][0] + Cfg::a_index(kk, ml0 + q * (Cfg::NT / Cfg::BK));
    else
      return &As[kk][ml0 + q * (Cfg::NT / Cfg::BK)];
  }
  __device__ __forceinline__ T* b_slot(T (*Bs)[Cfg::BN + Cfg::PAD], int q) const {
    return &Bs[kk][nl0 + q * (Cfg::NT / Cfg::BK)];
  }
};

// One (tile, group, R slice) of the weight gradient: straight into gw when splits == 1, else into
// ws[split][Cout][ncols] (the group's og rows of it).
template <typename T, class Cfg, class Math, bool SharedTap>
__global__ void __launch_bounds__(Cfg::NT, sizeof(T) == 4 ? Cfg::MIN_BLOCKS : 1)
    weight_gemm_kernel(WeightArgs<T> args) {
  const Dims& d = args.d;
  const int M = d.og(), ncols = d.cg() * d.kh * d.kw, R = d.N * d.Ho * d.Wo;
  const int split = blockIdx.z;
  const int group = blockIdx.y / args.m_tiles;
  const int n0 = blockIdx.x * Cfg::BN, m0 = (blockIdx.y % args.m_tiles) * Cfg::BM;
  const int r_begin = split * args.r_per_split, r_end = min(R, r_begin + args.r_per_split);

  Smem<T, Cfg>& sm = block_tiles<T, Cfg, Math>();
  const int tid = threadIdx.x;
  Math math(tid);
  WeightLoader<T, Cfg, SharedTap> ld(d, args.x + int64_t(group) * d.cg() * d.H * d.W,
                          args.gy + int64_t(group) * M * d.Ho * d.Wo, m0, n0, tid);
  gemm_mainloop<T, Cfg>(ld, r_begin, r_end, sm, math);

  constexpr int RUN = Math::RUN;
  T* dst = (args.splits > 1 ? args.ws + int64_t(split) * d.Cout * ncols : args.gw) + int64_t(group) * M * ncols;
  // Partial sums stay raw; weight_reduce_kernel finishes them.
  const auto finished = [splits = args.splits](T v) { return splits > 1 ? v : Math::finish(v); };
#pragma unroll
  for (int j = 0; j < Math::COL_RUNS; ++j) {
    const int nb = n0 + math.col(j);
    if (nb >= ncols) continue;
#pragma unroll
    for (int i = 0; i < Math::ROWS; ++i) {
      const int m = m0 + math.row(i);
      if (m >= M) continue;
      T* p = dst + int64_t(m) * ncols + nb;
      if (nb + RUN - 1 < ncols) {
        T v[RUN];
#pragma unroll
        for (int jj = 0; jj < RUN; ++jj) v[jj] = finished(math.value(i, j, jj));
        store_run<T, RUN>(p, v);
      } else {
        for (int jj = 0; jj < RUN && nb + jj < ncols; ++jj) p[jj] = finished(math.value(i, j, jj));
      }
    }
  }
}

// gw[i] = sum over slices z (in order) of ws[z][i].
template <typename T>
__global__ void weight_reduce_kernel(const T* __restrict__ ws, int splits, int64_t count, T* __restrict__ gw,
                                     bool round_to_bf16) {
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < count;
       idx += int64_t(gridDim.x) * blockDim.x) {
    T sum = T(0);
    for (int z = 0; z < splits; ++z) sum += ws[z * count + idx];
    gw[idx] = round_to_bf16 ? round_bf16(sum) : sum;
  }
}

// ---- host side: planning and launching ---------------------------------------------------------------------

enum class Tile { Big, Wide, Mid, Thin };

struct TileDims {
  int bm, bn, bk;
};
// The arithmetic a float GEMM runs in (doubles: always Simt).
enum class Arith { Simt, Tf32, Bf16 };

TileDims tile_dims(Tile t, Arith arith) {
  if (arith != Arith::Simt) {  // the tensor-core tiles (TF32 and BF16 alike)
    switch (t) {
      case Tile::Big: return {MmaBig::BM, MmaBig::BN, MmaBig::BK};
      case Tile::Wide: return {MmaWide::BM, MmaWide::BN, MmaWide::BK};
      case Tile::Mid: return {MmaMid::BM, MmaMid::BN, MmaMid::BK};
      case Tile::Thin: return {MmaThin::BM, MmaThin::BN, MmaThin::BK};
    }
  }
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

// How `gemms` GEMMs C[M, n_max] (groups times phases of them) with reduction length K run: arithmetic (for float,
// TF32 or BF16 tensor cores in those math modes, SIMT in strict FP32; SIMT for doubles), tile shape and K slices.
// The slices share blockIdx.z with the `z_per_split` phases.
struct Plan {
  Arith arith = Arith::Simt;
  Tile tile = Tile::Mid;
  int splits = 1;
  int k_per_split = 0;
};

Plan plan_gemm(int64_t M, int64_t n_max, int64_t K, int64_t gemms, int64_t z_per_split, size_t elem_bytes) {
  const int sms = sm_count();
  Plan plan;
  if (elem_bytes == 4) {
    switch (float_math()) {
      case FloatMath::Fp32: plan.arith = Arith::Simt; break;
      case FloatMath::Tf32: plan.arith = Arith::Tf32; break;
      case FloatMath::Bf16: plan.arith = Arith::Bf16; break;
    }
  }
  const auto tiles_of = [&](Tile t) {
    const TileDims td = tile_dims(t, plan.arith);
    return ((M + td.bm - 1) / td.bm) * ((n_max + td.bn - 1) / td.bn) * gemms;
  };
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
  const TileDims td = tile_dims(plan.tile, plan.arith);
  const int64_t tiles = tiles_of(plan.tile);
  const int64_t steps = (K + td.bk - 1) / td.bk;
  // Slices until about two blocks per SM, each at least 8 K steps long, within the workspace bound.
  constexpr int64_t kMinStepsPerSplit = 8;
  int64_t splits = 1;
  const int64_t target = 2 * int64_t(sms);
  if (tiles < target && steps >= 2 * kMinStepsPerSplit) {
    splits = std::min((target + tiles - 1) / tiles, steps / kMinStepsPerSplit);
    const int64_t slice_bytes = M * n_max * gemms * int64_t(elem_bytes);
    splits = std::min(splits, std::max<int64_t>(1, kMaxWorkspaceBytes / std::max<int64_t>(slice_bytes, 1)));
    splits = std::min<int64_t>(splits, 65535 / z_per_split);
    splits = std::max<int64_t>(splits, 1);
  }
  const int64_t steps_per_split = std::max<int64_t>(1, (steps + splits - 1) / splits);
  plan.k_per_split = static_cast<int>(steps_per_split * td.bk);
  plan.splits = static_cast<int>(std::max<int64_t>(1, (K + plan.k_per_split - 1) / plan.k_per_split));
  return plan;
}

// Conv2dShape -> Dims, with the checks that make 32-bit index arithmetic safe.
Dims to_dims(const char* op, const Conv2dShape& s) {
  const auto str = [&] {
    return std::string(op) + ": x [" + std::to_string(s.N) + ", " + std::to_string(s.Cin) + ", " +
           std::to_string(s.H) + ", " + std::to_string(s.W) + "], w [" + std::to_string(s.Cout) + ", " +
           std::to_string(s.groups > 0 ? s.Cin / s.groups : s.Cin) + ", " + std::to_string(s.kh) + ", " +
           std::to_string(s.kw) + "], y [" + std::to_string(s.N) + ", " + std::to_string(s.Cout) + ", " +
           std::to_string(s.Ho) + ", " + std::to_string(s.Wo) + "], stride " + std::to_string(s.stride_h) + "x" +
           std::to_string(s.stride_w) + ", padding " + std::to_string(s.pad_h) + "x" + std::to_string(s.pad_w) +
           ", dilation " + std::to_string(s.dil_h) + "x" + std::to_string(s.dil_w) + ", groups " +
           std::to_string(s.groups);
  };
  if (s.N < 0 || s.Cin < 0 || s.H < 0 || s.W < 0 || s.Cout < 0 || s.kh < 1 || s.kw < 1 || s.stride_h < 1 ||
      s.stride_w < 1 || s.pad_h < 0 || s.pad_w < 0 || s.dil_h < 1 || s.dil_w < 1 || s.groups < 1 ||
      s.Cin % s.groups != 0 || s.Cout % s.groups != 0 || s.Ho < 0 || s.Wo < 0)
    throw std::invalid_argument(str() + ": invalid shape");
  // Ho may fall short of the formula only for a transposed conv whose output_padding reaches the stride.
  if (s.Ho > conv_out_size(s.H, s.kh, s.stride_h, s.pad_h, s.dil_h) ||
      s.Wo > conv_out_size(s.W, s.kw, s.stride_w, s.pad_w, s.dil_w))
    throw std::invalid_argument(str() + ": Ho, Wo must not exceed (H + 2 pad - dil (k - 1) - 1) / stride + 1");
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const int64_t per_image = std::max(s.Cin * s.H * s.W, s.Cout * s.Ho * s.Wo);
  const int64_t pixels = std::max(s.N * s.Ho * s.Wo, s.N * s.H * s.W);
  const int64_t weight = s.Cout * (s.Cin / s.groups) * s.kh * s.kw;
  const int64_t reach = std::max(s.dil_h * s.kh, s.dil_w * s.kw) + std::max(s.pad_h, s.pad_w);
  if (per_image > kMax || pixels > kMax || weight > kMax || s.stride_h > 255 || s.stride_w > 255 ||
      reach > kMax / 4)
    throw std::invalid_argument(str() + ": too large for the CUDA convolution (32-bit indexing per image)");
  if (s.groups > 65535)
    throw std::invalid_argument(str() + ": too many groups for the CUDA convolution's grid");
  Dims d;
  d.N = int(s.N), d.Cin = int(s.Cin), d.H = int(s.H), d.W = int(s.W), d.Cout = int(s.Cout);
  d.kh = int(s.kh), d.kw = int(s.kw), d.sh = int(s.stride_h), d.sw = int(s.stride_w), d.ph = int(s.pad_h);
  d.pw = int(s.pad_w), d.dh = int(s.dil_h), d.dw = int(s.dil_w), d.G = int(s.groups), d.Ho = int(s.Ho);
  d.Wo = int(s.Wo);
  return d;
}

// Blocks along M per group, with the grid's y limit (groups times M tiles) checked.
int m_tiles_for(const char* op, int M, int groups, int bm) {
  const int64_t tiles = (int64_t(M) + bm - 1) / bm;
  if (tiles * groups > 65535)
    throw std::invalid_argument(std::string(op) + ": " + std::to_string(groups) + " groups of " + std::to_string(M) +
                                " channels need " + std::to_string(tiles * groups) +
                                " blocks along the grid's y dimension (limit 65535)");
  return static_cast<int>(tiles);
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

// Calls f.template operator()<Cfg, Math>() with the tile configuration and arithmetic policy of `plan`.
template <typename T, class F>
void with_kernel_config(const Plan& plan, F&& f) {
  if constexpr (std::is_same_v<T, float>) {
    if (plan.arith == Arith::Tf32) {
      switch (plan.tile) {
        case Tile::Big: f.template operator()<MmaBig, MmaMath<MmaBig>>(); return;
        case Tile::Wide: f.template operator()<MmaWide, MmaMath<MmaWide>>(); return;
        case Tile::Mid: f.template operator()<MmaMid, MmaMath<MmaMid>>(); return;
        case Tile::Thin: f.template operator()<MmaThin, MmaMath<MmaThin>>(); return;
      }
    }
    if (plan.arith == Arith::Bf16) {
      switch (plan.tile) {
        case Tile::Big: f.template operator()<MmaBig, BfMath<MmaBig>>(); return;
        case Tile::Wide: f.template operator()<MmaWide, BfMath<MmaWide>>(); return;
        case Tile::Mid: f.template operator()<MmaMid, BfMath<MmaMid>>(); return;
        case Tile::Thin: f.template operator()<MmaThin, BfMath<MmaThin>>(); return;
      }
    }
  }
  switch (plan.tile) {
    case Tile::Big: f.template operator()<CfgBig, SimtMath<T, CfgBig>>(); return;
    case Tile::Wide: f.template operator()<CfgWide, SimtMath<T, CfgWide>>(); return;
    case Tile::Mid: f.template operator()<CfgMid, SimtMath<T, CfgMid>>(); return;
    case Tile::Thin: f.template operator()<CfgThin, SimtMath<T, CfgThin>>(); return;
  }
}

// Dynamic shared memory of a GEMM kernel (block_tiles): 0 for the static SIMT tiles; for the cp.async pipelines
// sizeof(Smem), with the kernel's limit raised to it once per device (above 48 KiB the launch needs it).
template <auto Kernel, typename T, class Cfg, class Math>
size_t dynamic_tiles_bytes() {
  if constexpr (!Math::ASYNC) {
    return 0;
  } else {
    constexpr size_t bytes = sizeof(Smem<T, Cfg>);
    constexpr int kMaxDevices = 64;
    static std::atomic<bool> raised[kMaxDevices] = {};
    const int dev = current_device();
    if (dev < 0 || dev >= kMaxDevices || !raised[dev].load(std::memory_order_acquire)) {
      GAN_CUDA_CHECK(cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
      if (dev >= 0 && dev < kMaxDevices) raised[dev].store(true, std::memory_order_release);
    }
    return bytes;
  }
}

// channels: the GEMM's C (input channels per group forward, output channels per group backward data), which
// picks the K order.
template <typename T, class Cfg, class Math>
void launch_gather(const char* op, GatherArgs<T> args, int phases, int M, int channels) {
  args.m_tiles = m_tiles_for(op, M, args.d.G, Cfg::BM);
  const dim3 grid((args.ws_n + Cfg::BN - 1) / Cfg::BN, args.m_tiles * args.d.G, phases * args.splits);
  const auto go = [&]<KOrder Order>() {
    constexpr auto kernel = gather_gemm_kernel<T, Cfg, Math, Order>;
    launch<kernel>(grid, Cfg::NT, dynamic_tiles_bytes<kernel, T, Cfg, Math>(), stream(), args);
  };
  if (channels % Cfg::BK == 0)
    go.template operator()<KOrder::TapMajor>();
  else
    go.template operator()<KOrder::ChannelMajor>();
}

// Forward (backward_data false: a = w, b = x, out = y) or backward data (a = w, b = gy, out = gx).
template <typename T>
void run_gather(const char* op, const Conv2dShape& s, bool backward_data, const T* a, const T* b, const T* bias,
                T* out) {
  const Dims d = to_dims(op, s);
  const int phases = backward_data ? d.sh * d.sw : 1;
  int n_max = 0, k_max = 0;
  for (int ph = 0; ph < phases; ++ph) {
    const GatherGemm g = gather_gemm(d, backward_data, ph);
    n_max = std::max(n_max, g.N);
    k_max = std::max(k_max, g.K);
  }
  const int M = backward_data ? d.cg() : d.og();  // per group
  if (M == 0 || n_max == 0) return;
  const Plan plan = plan_gemm(M, n_max, k_max, int64_t(phases) * d.G, phases, sizeof(T));
  const Workspace ws(plan.splits > 1 ? size_t(plan.splits) * phases * d.G * M * n_max * sizeof(T) : 0);
  const GatherArgs<T> args{d,           backward_data, a,     b,   bias, out, plan.splits, plan.k_per_split,
                           ws.as<T>(), n_max,         0,     plan.arith == Arith::Bf16};
  const int channels = backward_data ? d.og() : d.cg();
  with_kernel_config<T>(plan,
                        [&]<class Cfg, class Math>() { launch_gather<T, Cfg, Math>(op, args, phases, M, channels); });
  if (plan.splits > 1) {
    const dim3 grid(reduce_blocks(int64_t(M) * n_max), phases, d.G);
    launch<gather_reduce_kernel<T>>(grid, 256, 0, stream(), args);
  }
}

template <typename T, class Cfg, class Math>
void launch_weight(const char* op, WeightArgs<T> args, int ncols) {
  args.m_tiles = m_tiles_for(op, args.d.og(), args.d.G, Cfg::BM);
  const dim3 grid((ncols + Cfg::BN - 1) / Cfg::BN, args.m_tiles * args.d.G, args.splits);
  const auto go = [&]<bool SharedTap>() {
    constexpr auto kernel = weight_gemm_kernel<T, Cfg, Math, SharedTap>;
    launch<kernel>(grid, Cfg::NT, dynamic_tiles_bytes<kernel, T, Cfg, Math>(), stream(), args);
  };
  if ((Cfg::NT / Cfg::BK) % (args.d.kh * args.d.kw) == 0)
    go.template operator()<true>();
  else
    go.template operator()<false>();
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
  const char* op = "conv2d_backward_weight (CUDA)";
  const Dims d = to_dims(op, s);
  const int ncols = d.cg() * d.kh * d.kw, R = d.N * d.Ho * d.Wo;
  if (d.Cout == 0 || ncols == 0) return;
  const Plan plan = plan_gemm(d.og(), ncols, R, d.G, 1, sizeof(T));
  const Workspace ws(plan.splits > 1 ? size_t(plan.splits) * d.Cout * ncols * sizeof(T) : 0);
  const WeightArgs<T> args{d, x, gy, gw, plan.splits, plan.k_per_split, ws.as<T>(), 0};
  with_kernel_config<T>(plan, [&]<class Cfg, class Math>() { launch_weight<T, Cfg, Math>(op, args, ncols); });
  if (plan.splits > 1) {
    const int64_t count = int64_t(d.Cout) * ncols;
    launch<weight_reduce_kernel<T>>(reduce_blocks(count), 256, 0, stream(), ws.as<T>(), plan.splits, count, gw,
                                    plan.arith == Arith::Bf16);
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
