// CUDA twin of kernels/cpu/batch_norm.cpp (maths and contract in kernels/batch_norm.h).
//
// Work split. A channel's M = N * S values are N runs of S contiguous values. Each channel is cut into tiles of
// kThreads * kTileVecs vectors (a vector = 16 bytes when S and every pointer allow it, else one value), and its
// tiles are shared out to `parts` blocks (at most kMaxParts, a function of the shape only). Thread t of a block
// handles vectors t, t + kThreads, ... of a tile, so a warp reads contiguous memory.
//
// Training forward = two kernels:
//   1. bn_stats: each block loads a tile into registers, reduces its sum (double) -> tile mean, then the squared
//      deviations from that mean (double) from the same registers: a two-pass variance with one read of x. Tiles
//      and then blocks are combined with Chan's pairwise formula (count, mean, M2) in a fixed order; the last
//      block of a channel merges the channel's partials in a fixed warp tree and writes the statistics, the saved
//      mean/inv_std and the running-statistics update.
//   2. bn_apply: y = act((x - mean) * w * inv_std + b), in double as the CPU twin. Blocks run in reverse order so
//      the first ones read the tail of x that bn_stats loaded last and that is likeliest still in L2.
// Eval forward is bn_apply alone, reading the running statistics.
// Backward = bn_grad_reduce (per channel sum gz and sum gz * xhat, same partial/last-block scheme, writes
// grad_weight/grad_bias) then, when grad_x is wanted, bn_grad_apply.
#include "kernels/batch_norm.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce_scratch.cuh"
#include "kernels/cuda/runtime.h"

namespace gan::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kTileVecs = 4;  // vectors per thread per tile
constexpr uint32_t kTile = kThreads * kTileVecs;
constexpr int64_t kMaxParts = 128;  // blocks per channel; the last-block merge handles 4 per lane

template <typename T, int VEC>
struct alignas(sizeof(T) * VEC) Pack {
  T v[VEC];
};

// Where a channel's vectors live: vector j of channel c is run n = j / Sv, position s = j % Sv.
struct Geometry {
  int64_t C;      // channels
  uint32_t Sv;    // vectors per run (S / VEC)
  uint32_t Mv;    // vectors per channel (N * S / VEC)
  uint32_t tpb;   // tiles per block
  uint32_t parts; // blocks per channel
};

__device__ __forceinline__ uint64_t umin(uint64_t a, uint64_t b) { return a < b ? a : b; }

__device__ __forceinline__ int64_t vec_offset(const Geometry& g, int64_t c, uint32_t j) {
  const uint32_t n = j / g.Sv, s = j - n * g.Sv;
  return (static_cast<int64_t>(n) * g.C + c) * g.Sv + s;  // in vectors
}

__device__ __forceinline__ double activate(double z, BnActivation kind, double slope) {
  switch (kind) {
    case BnActivation::Identity: return z;
    case BnActivation::ReLU: return z > 0.0 ? z : 0.0;
    case BnActivation::LeakyReLU: return z > 0.0 ? z : z * slope;
  }
  return z;
}

__device__ __forceinline__ double activation_slope(double y, BnActivation kind, double slope) {
  switch (kind) {
    case BnActivation::Identity: return 1.0;
    case BnActivation::ReLU: return y > 0.0 ? 1.0 : 0.0;
    case BnActivation::LeakyReLU: return y > 0.0 ? 1.0 : slope;
  }
  return 1.0;
}

// (count, mean, M2) of a set of values; Chan et al.'s pairwise merge. Merging in a fixed order keeps it
// deterministic.
struct Moments {
  double n, mean, m2;
};

__device__ __forceinline__ Moments merge(Moments a, Moments b) {
  if (b.n == 0.0) return a;
  if (a.n == 0.0) return b;
  const double n = a.n + b.n;
  const double delta = b.mean - a.mean;
  return {n, a.mean + delta * (b.n / n), a.m2 + b.m2 + delta * delta * (a.n * (b.n / n))};
}

__device__ __forceinline__ Moments shfl_down(Moments m, int offset) {
  return {__shfl_down_sync(0xffffffffu, m.n, offset), __shfl_down_sync(0xffffffffu, m.mean, offset),
          __shfl_down_sync(0xffffffffu, m.m2, offset)};
}

// Per-channel results of the statistics kernels, read by the apply kernels.
struct ChannelStats {
  double mean, inv_std;
};
static_assert(sizeof(ChannelStats) == 2 * sizeof(double), "the [C][2] doubles of batch_norm_apply's stats");

// ---- training statistics ----

template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads)
    bn_stats_kernel(const T* __restrict__ x, Geometry g, double eps, double momentum, Moments* __restrict__ partials,
                    unsigned* __restrict__ counters, ChannelStats* __restrict__ stats, T* __restrict__ save_mean,
                    T* __restrict__ save_inv_std, T* __restrict__ running_mean, T* __restrict__ running_var) {
  using P = Pack<T, VEC>;
  const P* xv = reinterpret_cast<const P*>(x);
  const int64_t c = blockIdx.x / g.parts;
  const uint32_t part = blockIdx.x - static_cast<uint32_t>(c) * g.parts;
  Moments acc{0.0, 0.0, 0.0};  // meaningful in thread 0
  for (uint32_t t = 0; t < g.tpb; ++t) {
    const uint64_t tile0 = (static_cast<uint64_t>(part) * g.tpb + t) * kTile;
    if (tile0 >= g.Mv) break;  // uniform over the block
    P vals[kTileVecs];
    double sum = 0.0;
#pragma unroll
    for (int k = 0; k < kTileVecs; ++k) {
      const uint64_t j = tile0 + k * kThreads + threadIdx.x;
      if (j < g.Mv) {
        vals[k] = xv[vec_offset(g, c, static_cast<uint32_t>(j))];
#pragma unroll
        for (int e = 0; e < VEC; ++e) sum += static_cast<double>(vals[k].v[e]);
      }
    }
    const double count = static_cast<double>(umin(kTile, g.Mv - tile0) * VEC);
    const double tile_mean = detail::block_sum<kThreads>(sum) / count;
    double m2 = 0.0;
#pragma unroll
    for (int k = 0; k < kTileVecs; ++k) {
      const uint64_t j = tile0 + k * kThreads + threadIdx.x;
      if (j < g.Mv) {
#pragma unroll
        for (int e = 0; e < VEC; ++e) {
          const double d = static_cast<double>(vals[k].v[e]) - tile_mean;
          m2 += d * d;
        }
      }
    }
    const double tile_m2 = detail::block_sum<kThreads>(m2);
    if (threadIdx.x == 0) acc = merge(acc, Moments{count, tile_mean, tile_m2});
  }
  if (threadIdx.x == 0) partials[blockIdx.x] = acc;
  if (!detail::last_block_of_group(counters, c, g.parts)) return;

  // The channel's last block: merge its partials in a fixed tree (lane l takes parts l, l + 32, l + 64, ...).
  if (threadIdx.x < 32) {
    const Moments* mine = partials + c * g.parts;
    Moments m{0.0, 0.0, 0.0};
    for (uint32_t p = threadIdx.x; p < g.parts; p += 32)
      m = merge(m, Moments{__ldcg(&mine[p].n), __ldcg(&mine[p].mean), __ldcg(&mine[p].m2)});
    for (int offset = 16; offset > 0; offset >>= 1) {
      const Moments other = shfl_down(m, offset);
      m = merge(m, other);  // lanes >= 32 - offset merge garbage that nobody reads
    }
    if (threadIdx.x == 0) {
      const double M = static_cast<double>(g.Mv) * VEC;
      const double inv_m = M > 0.0 ? 1.0 / M : 0.0;
      const double mean = m.n > 0.0 ? m.mean : 0.0;
      const double var = m.m2 * inv_m;
      const double inv_std = 1.0 / sqrt(var + eps);
      stats[c] = {mean, inv_std};
      if (save_mean) save_mean[c] = static_cast<T>(mean);
      if (save_inv_std) save_inv_std[c] = static_cast<T>(inv_std);
      if (running_mean)
        running_mean[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_mean[c]) + momentum * mean);
      if (running_var) {
        const double unbiased = M > 1.0 ? var * M / (M - 1.0) : var;
        running_var[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_var[c]) + momentum * unbiased);
      }
    }
  }
  detail::release_counter(counters, c);
}

// ---- normalize + affine + activation (training: stats from bn_stats; eval: from the running statistics) ----

template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads)
    bn_apply_kernel(const T* __restrict__ x, T* __restrict__ y, Geometry g, const ChannelStats* __restrict__ stats,
                    const T* __restrict__ running_mean, const T* __restrict__ running_var, double eps,
                    const T* __restrict__ weight, const T* __restrict__ bias, BnActivation kind, double slope,
                    T* __restrict__ save_mean, T* __restrict__ save_inv_std) {
  using P = Pack<T, VEC>;
  const uint32_t block = gridDim.x - 1 - blockIdx.x;  // reverse order: see the file comment
  const int64_t c = block / g.parts;
  const uint32_t part = block - static_cast<uint32_t>(c) * g.parts;
  double mean, inv_std;
  if (stats) {
    mean = stats[c].mean;
    inv_std = stats[c].inv_std;
  } else {
    mean = static_cast<double>(running_mean[c]);
    inv_std = 1.0 / sqrt(static_cast<double>(running_var[c]) + eps);
    if (part == 0 && threadIdx.x == 0) {
      if (save_mean) save_mean[c] = static_cast<T>(mean);
      if (save_inv_std) save_inv_std[c] = static_cast<T>(inv_std);
    }
  }
  const double scale = (weight ? static_cast<double>(weight[c]) : 1.0) * inv_std;
  const double shift = bias ? static_cast<double>(bias[c]) : 0.0;
  const P* xv = reinterpret_cast<const P*>(x);
  P* yv = reinterpret_cast<P*>(y);
  const uint64_t begin = static_cast<uint64_t>(part) * g.tpb * kTile;
  const uint64_t end = umin(g.Mv, begin + static_cast<uint64_t>(g.tpb) * kTile);
  for (uint64_t base = begin; base < end; base += kTile) {
    P vals[kTileVecs];
    int64_t off[kTileVecs];
#pragma unroll
    for (int k = 0; k < kTileVecs; ++k) {
      const uint64_t j = base + k * kThreads + threadIdx.x;
      if (j < end) {
        off[k] = vec_offset(g, c, static_cast<uint32_t>(j));
        vals[k] = xv[off[k]];
      }
    }
#pragma unroll
    for (int k = 0; k < kTileVecs; ++k) {
      const uint64_t j = base + k * kThreads + threadIdx.x;
      if (j < end) {
        P out;
#pragma unroll
        for (int e = 0; e < VEC; ++e)
          out.v[e] = static_cast<T>(activate((static_cast<double>(vals[k].v[e]) - mean) * scale + shift, kind, slope));
        yv[off[k]] = out;
      }
    }
  }
}

// ---- backward ----

struct GradSums {
  double sg, sgx;
};

struct ChannelGrad {
  double db_m, dw_m;  // sum gz / M and sum gz xhat / M in training, 0 in eval
};

// S: how x and y are stored (T, or bfloat16 for float: the bf16 mode's saved activations, converted exactly).
template <typename T, typename S, int VEC>
__global__ void __launch_bounds__(kThreads)
    bn_grad_reduce_kernel(const T* __restrict__ grad_y, const S* __restrict__ x, const S* __restrict__ y, Geometry g,
                          const T* __restrict__ mean_in, const T* __restrict__ inv_std_in, BnActivation kind,
                          double slope, bool training, GradSums* __restrict__ partials,
                          unsigned* __restrict__ counters, ChannelGrad* __restrict__ out, T* __restrict__ grad_weight,
                          T* __restrict__ grad_bias) {
  using P = Pack<T, VEC>;
  using PS = Pack<S, VEC>;
  const int64_t c = blockIdx.x / g.parts;
  const uint32_t part = blockIdx.x - static_cast<uint32_t>(c) * g.parts;
  const double m = static_cast<double>(mean_in[c]), is = static_cast<double>(inv_std_in[c]);
  const P* gv = reinterpret_cast<const P*>(grad_y);
  const PS* xv = reinterpret_cast<const PS*>(x);
  const PS* yv = reinterpret_cast<const PS*>(y);
  const uint64_t begin = static_cast<uint64_t>(part) * g.tpb * kTile;
  const uint64_t end = umin(g.Mv, begin + static_cast<uint64_t>(g.tpb) * kTile);
  double sg = 0.0, sgx = 0.0;
  for (uint64_t base = begin; base < end; base += kTile) {
    P gs[kTileVecs];
    PS xs[kTileVecs], ys[kTileVecs];
#pragma unroll
    for (int k = 0; k < kTileVecs; ++k) {
      const uint64_t j = base + k * kThreads + threadIdx.x;
      if (j < end) {
        const int64_t off = vec_offset(g, c, static_cast<uint32_t>(j));
        gs[k] = gv[off];
        xs[k] = xv[off];
        ys[k] = yv[off];
      }
    }
#pragma unroll
    for (int k = 0; k < kTileVecs; ++k) {
      const uint64_t j = base + k * kThreads + threadIdx.x;
      if (j < end) {
#pragma unroll
        for (int e = 0; e < VEC; ++e) {
          const double gz =
              static_cast<double>(gs[k].v[e]) * activation_slope(static_cast<double>(ys[k].v[e]), kind, slope);
          sg += gz;
          sgx += gz * (static_cast<double>(xs[k].v[e]) - m) * is;
        }
      }
    }
  }
  sg = detail::block_sum<kThreads>(sg);
  sgx = detail::block_sum<kThreads>(sgx);
  if (threadIdx.x == 0) partials[blockIdx.x] = {sg, sgx};
  if (!detail::last_block_of_group(counters, c, g.parts)) return;

  if (threadIdx.x < 32) {
    const GradSums* mine = partials + c * g.parts;
    double a = 0.0, b = 0.0;
    for (uint32_t p = threadIdx.x; p < g.parts; p += 32) {
      a += __ldcg(&mine[p].sg);
      b += __ldcg(&mine[p].sgx);
    }
    a = detail::warp_sum(a);
    b = detail::warp_sum(b);
    if (threadIdx.x == 0) {
      if (grad_bias) grad_bias[c] = static_cast<T>(a);
      if (grad_weight) grad_weight[c] = static_cast<T>(b);
      const double M = static_cast<double>(g.Mv) * VEC;
      const double inv_m = M > 0.0 ? 1.0 / M : 0.0;
      out[c] = training ? ChannelGrad{a * inv_m, b * inv_m} : ChannelGrad{0.0, 0.0};
    }
  }
  detail::release_counter(counters, c);
}

template <typename T, typename S, int VEC>
__global__ void __launch_bounds__(kThreads)
    bn_grad_apply_kernel(const T* __restrict__ grad_y, const S* __restrict__ x, const S* __restrict__ y, Geometry g,
                         const T* __restrict__ mean_in, const T* __restrict__ inv_std_in,
                         const T* __restrict__ weight, BnActivation kind, double slope,
                         const ChannelGrad* __restrict__ sums, T* __restrict__ grad_x) {
  using P = Pack<T, VEC>;
  const uint32_t block = gridDim.x - 1 - blockIdx.x;  // reverse order: the reduce kernel's last reads are in L2
  const int64_t c = block / g.parts;
  const uint32_t part = block - static_cast<uint32_t>(c) * g.parts;
  const double m = static_cast<double>(mean_in[c]), is = static_cast<double>(inv_std_in[c]);
  const double a = (weight ? static_cast<double>(weight[c]) : 1.0) * is;
  const double db_m = sums[c].db_m, dw_m = sums[c].dw_m;
  using PS = Pack<S, VEC>;
  const P* gv = reinterpret_cast<const P*>(grad_y);
  const PS* xv = reinterpret_cast<const PS*>(x);
  const PS* yv = reinterpret_cast<const PS*>(y);
  P* dxv = reinterpret_cast<P*>(grad_x);
  const uint64_t begin = static_cast<uint64_t>(part) * g.tpb * kTile;
  const uint64_t end = umin(g.Mv, begin + static_cast<uint64_t>(g.tpb) * kTile);
  for (uint64_t base = begin; base < end; base += kTile) {
    P gs[kTileVecs];
    PS xs[kTileVecs], ys[kTileVecs];
    int64_t off[kTileVecs];
#pragma unroll
    for (int k = 0; k < kTileVecs; ++k) {
      const uint64_t j = base + k * kThreads + threadIdx.x;
      if (j < end) {
        off[k] = vec_offset(g, c, static_cast<uint32_t>(j));
        gs[k] = gv[off[k]];
        xs[k] = xv[off[k]];
        ys[k] = yv[off[k]];
      }
    }
#pragma unroll
    for (int k = 0; k < kTileVecs; ++k) {
      const uint64_t j = base + k * kThreads + threadIdx.x;
      if (j < end) {
        P out;
#pragma unroll
        for (int e = 0; e < VEC; ++e) {
          const double gz =
              static_cast<double>(gs[k].v[e]) * activation_slope(static_cast<double>(ys[k].v[e]), kind, slope);
          const double xhat = (static_cast<double>(xs[k].v[e]) - m) * is;
          out.v[e] = static_cast<T>(a * (gz - db_m - xhat * dw_m));
        }
        dxv[off[k]] = out;
      }
    }
  }
}

// ---- host side ----

bool aligned16(const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// 16-byte vectors when every run of S values starts on a vector boundary and every array is 16-byte aligned.
template <typename T>
int vector_width(const BatchNormShape& s, std::initializer_list<const void*> arrays) {
  constexpr int kVec = static_cast<int>(16 / sizeof(T));
  if (s.S % kVec != 0) return 1;
  for (const void* p : arrays)
    if (!aligned16(p)) return 1;
  return kVec;
}

std::string shape_text(const BatchNormShape& s) {
  return "[N=" + std::to_string(s.N) + ", C=" + std::to_string(s.C) + ", S=" + std::to_string(s.S) + "]";
}

Geometry geometry(const char* op, const BatchNormShape& s, int vec) {
  if (s.N < 0 || s.C < 0 || s.S < 0) throw std::invalid_argument(std::string(op) + ": negative size in shape " + shape_text(s));
  const int64_t mv = s.N * s.S / vec;
  if (mv > int64_t{0xffffffff} - kTile)
    throw std::invalid_argument(std::string(op) + ": shape " + shape_text(s) +
                                " has more than 2^32 values per channel, which the CUDA kernel does not index");
  Geometry g{};
  g.C = s.C;
  g.Sv = static_cast<uint32_t>(s.S / vec);
  g.Mv = static_cast<uint32_t>(mv);
  const int64_t tiles = (mv + kTile - 1) / kTile;
  int64_t parts = std::max<int64_t>(1, std::min(tiles, kMaxParts));
  const int64_t tpb = std::max<int64_t>(1, (tiles + parts - 1) / parts);
  parts = std::max<int64_t>(1, (tiles + tpb - 1) / tpb);
  if (s.C * parts > int64_t{0x7fffffff})
    throw std::invalid_argument(std::string(op) + ": shape " + shape_text(s) + " needs too many CUDA blocks");
  g.tpb = static_cast<uint32_t>(tpb);
  g.parts = static_cast<uint32_t>(parts);
  return g;
}

unsigned blocks_of(const Geometry& g) { return static_cast<unsigned>(g.C * g.parts); }

// Scratch layout: [partials: C * parts * partial_bytes][per-channel: C * channel_bytes], 256-byte aligned.
size_t round_up(size_t n) { return (n + 255) / 256 * 256; }

template <typename T, int VEC>
void forward_train_impl(const T* x, const BatchNormShape& s, const T* weight, const T* bias, double eps,
                        BnActivationParams act, T* y, T* save_mean, T* save_inv_std, T* running_mean,
                        T* running_var, double momentum, double* stats_out) {
  const Geometry g = geometry("batch_norm_forward_train", s, VEC);
  const size_t part_bytes = round_up(static_cast<size_t>(blocks_of(g)) * sizeof(Moments));
  char* ws = static_cast<char*>(detail::scratch_workspace(part_bytes + static_cast<size_t>(s.C) * sizeof(ChannelStats)));
  unsigned* counters = detail::scratch_counters(static_cast<size_t>(s.C));
  auto* partials = reinterpret_cast<Moments*>(ws);
  // The caller's [C][2] doubles when it wants them (ChannelStats has that layout), else scratch.
  auto* stats = reinterpret_cast<ChannelStats*>(stats_out ? reinterpret_cast<char*>(stats_out) : ws + part_bytes);
  const Stream st = stream();
  launch<bn_stats_kernel<T, VEC>>(blocks_of(g), kThreads, 0, st, x, g, eps, momentum, partials, counters, stats,
                                  save_mean, save_inv_std, running_mean, running_var);
  launch<bn_apply_kernel<T, VEC>>(blocks_of(g), kThreads, 0, st, x, y, g, stats, nullptr, nullptr, eps, weight, bias,
                                  act.kind, act.slope, nullptr, nullptr);
}

template <typename T, int VEC>
void apply_impl(const T* x, const BatchNormShape& s, const double* stats, const T* weight, const T* bias,
                BnActivationParams act, T* y) {
  const Geometry g = geometry("batch_norm_apply", s, VEC);
  launch<bn_apply_kernel<T, VEC>>(blocks_of(g), kThreads, 0, stream(), x, y, g,
                                  reinterpret_cast<const ChannelStats*>(stats), nullptr, nullptr, 0.0, weight, bias,
                                  act.kind, act.slope, nullptr, nullptr);
}

template <typename T, int VEC>
void forward_eval_impl(const T* x, const BatchNormShape& s, const T* running_mean, const T* running_var,
                       const T* weight, const T* bias, double eps, BnActivationParams act, T* y, T* save_mean,
                       T* save_inv_std) {
  const Geometry g = geometry("batch_norm_forward_eval", s, VEC);
  launch<bn_apply_kernel<T, VEC>>(blocks_of(g), kThreads, 0, stream(), x, y, g, nullptr, running_mean, running_var, eps,
                                  weight, bias, act.kind, act.slope, save_mean, save_inv_std);
}

template <typename T, typename S, int VEC>
void backward_impl(const T* grad_y, const S* x, const S* y, const BatchNormShape& s, const T* mean, const T* inv_std,
                   const T* weight, bool training, BnActivationParams act, T* grad_x, T* grad_weight, T* grad_bias) {
  const Geometry g = geometry("batch_norm_backward", s, VEC);
  const size_t part_bytes = round_up(static_cast<size_t>(blocks_of(g)) * sizeof(GradSums));
  char* ws = static_cast<char*>(detail::scratch_workspace(part_bytes + static_cast<size_t>(s.C) * sizeof(ChannelGrad)));
  unsigned* counters = detail::scratch_counters(static_cast<size_t>(s.C));
  auto* partials = reinterpret_cast<GradSums*>(ws);
  auto* sums = reinterpret_cast<ChannelGrad*>(ws + part_bytes);
  const Stream st = stream();
  launch<bn_grad_reduce_kernel<T, S, VEC>>(blocks_of(g), kThreads, 0, st, grad_y, x, y, g, mean, inv_std, act.kind,
                                           act.slope, training, partials, counters, sums, grad_weight, grad_bias);
  if (!grad_x) return;
  launch<bn_grad_apply_kernel<T, S, VEC>>(blocks_of(g), kThreads, 0, st, grad_y, x, y, g, mean, inv_std, weight,
                                          act.kind, act.slope, sums, grad_x);
}

}  // namespace

template <typename T>
void batch_norm_forward_train(const T* x, BatchNormShape shape, const T* weight, const T* bias, double eps,
                              BnActivationParams act, T* y, T* save_mean, T* save_inv_std, T* running_mean,
                              T* running_var, double momentum, double* stats) {
  if (shape.C <= 0) return;
  constexpr int kVec = static_cast<int>(16 / sizeof(T));
  if (vector_width<T>(shape, {x, y}) == kVec)
    forward_train_impl<T, kVec>(x, shape, weight, bias, eps, act, y, save_mean, save_inv_std, running_mean,
                                running_var, momentum, stats);
  else
    forward_train_impl<T, 1>(x, shape, weight, bias, eps, act, y, save_mean, save_inv_std, running_mean, running_var,
                             momentum, stats);
}

template <typename T>
void batch_norm_apply(const T* x, BatchNormShape shape, const double* stats, const T* weight, const T* bias,
                      BnActivationParams act, T* y) {
  if (shape.C <= 0) return;
  constexpr int kVec = static_cast<int>(16 / sizeof(T));
  if (vector_width<T>(shape, {x, y}) == kVec)
    apply_impl<T, kVec>(x, shape, stats, weight, bias, act, y);
  else
    apply_impl<T, 1>(x, shape, stats, weight, bias, act, y);
}

template <typename T>
void batch_norm_forward_eval(const T* x, BatchNormShape shape, const T* running_mean, const T* running_var,
                             const T* weight, const T* bias, double eps, BnActivationParams act, T* y, T* save_mean,
                             T* save_inv_std) {
  if (shape.C <= 0) return;
  constexpr int kVec = static_cast<int>(16 / sizeof(T));
  if (vector_width<T>(shape, {x, y}) == kVec)
    forward_eval_impl<T, kVec>(x, shape, running_mean, running_var, weight, bias, eps, act, y, save_mean,
                               save_inv_std);
  else
    forward_eval_impl<T, 1>(x, shape, running_mean, running_var, weight, bias, eps, act, y, save_mean, save_inv_std);
}

namespace {
__global__ void count_batch_kernel(int64_t* num_batches_tracked) { *num_batches_tracked += 1; }
}  // namespace

void batch_norm_count_batch(int64_t* num_batches_tracked) {
  launch<count_batch_kernel>(1, 1, 0, stream(), num_batches_tracked);
}

template <typename T>
void batch_norm_backward(const T* grad_y, const T* x, const T* y, BatchNormShape shape, const T* mean,
                         const T* inv_std, const T* weight, bool training, BnActivationParams act, T* grad_x,
                         T* grad_weight, T* grad_bias) {
  if (shape.C <= 0) return;
  if (!grad_x && !grad_weight && !grad_bias) return;
  constexpr int kVec = static_cast<int>(16 / sizeof(T));
  if (vector_width<T>(shape, {grad_y, x, y, grad_x}) == kVec)
    backward_impl<T, T, kVec>(grad_y, x, y, shape, mean, inv_std, weight, training, act, grad_x, grad_weight,
                              grad_bias);
  else
    backward_impl<T, T, 1>(grad_y, x, y, shape, mean, inv_std, weight, training, act, grad_x, grad_weight, grad_bias);
}

void batch_norm_backward(const float* grad_y, const bfloat16* x, const bfloat16* y, BatchNormShape shape,
                         const float* mean, const float* inv_std, const float* weight, bool training,
                         BnActivationParams act, float* grad_x, float* grad_weight, float* grad_bias) {
  if (shape.C <= 0) return;
  if (!grad_x && !grad_weight && !grad_bias) return;
  constexpr int kVec = 4;  // as float: 8-byte packs of bf16 beside 16-byte packs of float
  if (vector_width<float>(shape, {grad_y, x, y, grad_x}) == kVec)
    backward_impl<float, bfloat16, kVec>(grad_y, x, y, shape, mean, inv_std, weight, training, act, grad_x,
                                         grad_weight, grad_bias);
  else
    backward_impl<float, bfloat16, 1>(grad_y, x, y, shape, mean, inv_std, weight, training, act, grad_x,
                                      grad_weight, grad_bias);
}

#define GAN_INSTANTIATE(T)                                                                                      \
  template void batch_norm_forward_train<T>(const T*, BatchNormShape, const T*, const T*, double,             \
                                            BnActivationParams, T*, T*, T*, T*, T*, double, double*);         \
  template void batch_norm_apply<T>(const T*, BatchNormShape, const double*, const T*, const T*,              \
                                    BnActivationParams, T*);                                                    \
  template void batch_norm_forward_eval<T>(const T*, BatchNormShape, const T*, const T*, const T*, const T*,  \
                                           double, BnActivationParams, T*, T*, T*);                            \
  template void batch_norm_backward<T>(const T*, const T*, const T*, BatchNormShape, const T*, const T*,       \
                                       const T*, bool, BnActivationParams, T*, T*, T*);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cuda
