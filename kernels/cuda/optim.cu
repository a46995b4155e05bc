// CUDA twin of kernels/cpu/optim.cpp (maths and contract in kernels/optim.h).
//
// Multi-tensor apply (as PyTorch's multi_tensor_apply): the slots' device pointers and sizes travel in the kernel's
// parameter struct (under 4 KB, so no host-to-device copy and no workspace), together with a table mapping each
// block to (slot, chunk of kChunk elements). One launch covers up to kMaxSlots parameters and kMaxBlocks chunks; a
// parameter that straddles two launches is carried over. DCGAN-64's ~30 parameter tensors (6.6M values) take a
// handful of launches.
//
// The arithmetic is the CPU twin's, operation by operation in the same order and in T, with every add and multiply
// rounded on its own (__fadd_rn/__fmul_rn and the double versions: nvcc would otherwise contract a * b + c into
// one FMA, which the CPU build does not), IEEE division and square root (nvcc's defaults). So a step matches the
// CPU twin bit for bit. Bias corrections are computed on the host in double, as the CPU twin does (in a CUDA graph
// they are uploaded before each replay and read from device memory: AdamSlot::device_bias).
#include "kernels/optim.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"

namespace gan::kernels::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kChunk = 8192;  // elements per block
constexpr int kMaxSlots = 36;
constexpr int kMaxBlocks = 320;

// ---- correctly rounded single operations (no FMA contraction) ----

__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float div(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double div(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float root(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double root(double a) { return __dsqrt_rn(a); }

// PyTorch's lerp, as the CPU twin: start + w (end - start), from the nearer end.
template <typename T>
__device__ __forceinline__ T lerp(T start, T end, T w) {
  return fabs(w) < T(0.5) ? add(start, mul(w, sub(end, start))) : sub(end, mul(sub(end, start), sub(T(1), w)));
}

// ---- the tensor lists ----

// NPTR arrays per slot: [0] param, [1] grad, then the rule's state arrays (null when unused).
template <typename T, int NPTR, typename Extra>
struct TensorList {
  T* ptr[NPTR][kMaxSlots];
  int64_t numel[kMaxSlots];
  Extra extra[kMaxSlots];
  uint8_t block_slot[kMaxBlocks];
  int32_t block_chunk[kMaxBlocks];
};

struct NoExtra {};
template <typename T>
struct AdamExtra {
  T step_size;  // lr / (1 - beta1^t)
  T bc2_sqrt;   // sqrt(1 - beta2^t)
  const double* device;  // when not null: the two above, in double, read from device memory (AdamSlot::device_bias)
};

// The bias corrections of slot s as the kernel uses them.
template <typename T>
__device__ __forceinline__ AdamExtra<T> adam_bias(const AdamExtra<T>& e) {
  if (e.device == nullptr) return e;
  return {static_cast<T>(e.device[0]), static_cast<T>(e.device[1]), nullptr};
}
struct SgdExtra {
  bool first_step;
};

template <typename T, int VEC>
struct alignas(sizeof(T) * VEC) Pack {
  T v[VEC];
};

// Runs op(slot, values) on every element of the block's chunk, where values[k] is element i of array k; writes
// back every array but the gradient. 16-byte vectors when all of the slot's arrays are aligned.
template <typename T, int NPTR, typename Extra, typename Op>
__device__ __forceinline__ void apply_chunk(const TensorList<T, NPTR, Extra>& L, Op op) {
  constexpr int VEC = static_cast<int>(16 / sizeof(T));
  const int s = L.block_slot[blockIdx.x];
  const int64_t begin = static_cast<int64_t>(L.block_chunk[blockIdx.x]) * kChunk;
  const int64_t end = min(L.numel[s], begin + kChunk);
  T* ptr[NPTR];
  bool aligned = true;
#pragma unroll
  for (int k = 0; k < NPTR; ++k) {
    ptr[k] = L.ptr[k][s];
    aligned = aligned && reinterpret_cast<uintptr_t>(ptr[k]) % 16 == 0;  // null is aligned
  }
  int64_t i0 = begin;
  if (aligned) {
    const int64_t vec_end = begin + (end - begin) / VEC * VEC;  // begin is a multiple of kChunk, so of VEC
    for (int64_t i = begin + static_cast<int64_t>(threadIdx.x) * VEC; i < vec_end; i += kThreads * VEC) {
      Pack<T, VEC> p[NPTR];
#pragma unroll
      for (int k = 0; k < NPTR; ++k)
        if (ptr[k]) p[k] = *reinterpret_cast<const Pack<T, VEC>*>(ptr[k] + i);
#pragma unroll
      for (int e = 0; e < VEC; ++e) {
        T v[NPTR];
#pragma unroll
        for (int k = 0; k < NPTR; ++k) v[k] = ptr[k] ? p[k].v[e] : T(0);
        op(s, v);
#pragma unroll
        for (int k = 0; k < NPTR; ++k) p[k].v[e] = v[k];
      }
#pragma unroll
      for (int k = 0; k < NPTR; ++k)
        if (k != 1 && ptr[k]) *reinterpret_cast<Pack<T, VEC>*>(ptr[k] + i) = p[k];
    }
    i0 = vec_end;
  }
  for (int64_t i = i0 + threadIdx.x; i < end; i += kThreads) {
    T v[NPTR];
#pragma unroll
    for (int k = 0; k < NPTR; ++k) v[k] = ptr[k] ? ptr[k][i] : T(0);
    op(s, v);
#pragma unroll
    for (int k = 0; k < NPTR; ++k)
      if (k != 1 && ptr[k]) ptr[k][i] = v[k];
  }
}

// ---- the rules (element by element, as kernels/cpu/optim.cpp) ----

template <typename T>
struct SgdParams {
  T lr, wd, mu, keep;
  bool use_wd, use_momentum, nesterov;
};

template <typename T>
__global__ void __launch_bounds__(kThreads)
    sgd_kernel(const __grid_constant__ TensorList<T, 3, SgdExtra> L, const SgdParams<T> h) {
  apply_chunk(L, [&](int s, T (&v)[3]) {
    T& p = v[0];
    T g = v[1];
    if (h.use_wd) g = add(g, mul(h.wd, p));
    if (h.use_momentum) {
      const T b = L.extra[s].first_step ? g : add(mul(v[2], h.mu), mul(h.keep, g));
      v[2] = b;
      g = h.nesterov ? add(g, mul(h.mu, b)) : b;
    }
    p = add(p, mul(-h.lr, g));
  });
}

template <typename T>
struct AdamParams {
  T b1w, b2, b2w, wd, eps;
  bool use_wd;
};

template <typename T>
__global__ void __launch_bounds__(kThreads)
    adam_kernel(const __grid_constant__ TensorList<T, 4, AdamExtra<T>> L, const AdamParams<T> h) {
  const AdamExtra<T> bias = adam_bias(L.extra[L.block_slot[blockIdx.x]]);
  apply_chunk(L, [&](int, T (&v)[4]) {
    T& p = v[0];
    T g = v[1];
    if (h.use_wd) g = add(g, mul(h.wd, p));
    const T mi = lerp(v[2], g, h.b1w);
    const T vi = add(mul(v[3], h.b2), mul(h.b2w, mul(g, g)));
    v[2] = mi;
    v[3] = vi;
    const T denom = add(div(root(vi), bias.bc2_sqrt), h.eps);
    p = add(p, mul(-bias.step_size, div(mi, denom)));
  });
}

// AdamW, PyTorch 1.13's order: decay the parameter, then the moments, then the Adam step (kernels/optim.h).
template <typename T>
struct AdamWParams {
  T b1, b1w, b2, b2w, decay, eps;  // decay = 1 - lr weight_decay
};

template <typename T>
__global__ void __launch_bounds__(kThreads)
    adamw_kernel(const __grid_constant__ TensorList<T, 4, AdamExtra<T>> L, const AdamWParams<T> h) {
  const AdamExtra<T> bias = adam_bias(L.extra[L.block_slot[blockIdx.x]]);
  apply_chunk(L, [&](int, T (&v)[4]) {
    T& p = v[0];
    const T g = v[1];
    const T pi = mul(p, h.decay);
    const T mi = add(mul(v[2], h.b1), mul(h.b1w, g));
    const T vi = add(mul(v[3], h.b2), mul(mul(h.b2w, g), g));
    v[2] = mi;
    v[3] = vi;
    const T denom = add(div(root(vi), bias.bc2_sqrt), h.eps);
    p = add(pi, mul(-bias.step_size, div(mi, denom)));
  });
}

template <typename T>
struct RmspropParams {
  T lr, alpha, aw, wd, eps, mu;
  bool use_wd, use_momentum, centered;
};

template <typename T>
__global__ void __launch_bounds__(kThreads)
    rmsprop_kernel(const __grid_constant__ TensorList<T, 5, NoExtra> L, const RmspropParams<T> h) {
  // v: [0] param, [1] grad, [2] square_avg, [3] grad_avg, [4] momentum_buffer
  apply_chunk(L, [&](int, T (&v)[5]) {
    T& p = v[0];
    T g = v[1];
    if (h.use_wd) g = add(g, mul(h.wd, p));
    const T si = add(mul(v[2], h.alpha), mul(h.aw, mul(g, g)));
    v[2] = si;
    T avg;
    if (h.centered) {
      const T ai = lerp(v[3], g, h.aw);
      v[3] = ai;
      avg = add(root(add(si, mul(T(-1), mul(ai, ai)))), h.eps);
    } else {
      avg = add(root(si), h.eps);
    }
    if (h.use_momentum) {
      const T b = add(mul(v[4], h.mu), div(g, avg));
      v[4] = b;
      p = add(p, mul(-h.lr, b));
    } else {
      p = add(p, mul(-h.lr, div(g, avg)));
    }
  });
}

template <typename T>
__global__ void __launch_bounds__(kThreads) clamp_kernel(T* __restrict__ x, int64_t n, T lo, T hi) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    // std::min(std::max(x, lo), hi), NaN passing through as on the CPU.
    T v = x[i];
    v = v < lo ? lo : v;
    v = hi < v ? hi : v;
    x[i] = v;
  }
}

// ---- host side: fill the lists, launch when full ----

// set(list, index, slot) stores one slot's pointers and extras; launch(list, blocks) runs one kernel.
template <typename List, typename Slot, typename Set, typename Launch>
void multi_tensor_apply(const Slot* slots, int64_t count, Set set, Launch launch) {
  static_assert(sizeof(List) <= 4096, "multi_tensor_apply: the tensor list must fit a kernel's 4 KB of parameters");
  List L{};
  int ns = 0, nb = 0;
  for (int64_t s = 0; s < count; ++s) {
    const Slot& slot = slots[s];
    if (slot.numel <= 0) continue;
    set(L, ns, slot);
    L.numel[ns] = slot.numel;
    const int64_t chunks = (slot.numel + kChunk - 1) / kChunk;
    for (int64_t k = 0; k < chunks; ++k) {
      L.block_slot[nb] = static_cast<uint8_t>(ns);
      L.block_chunk[nb] = static_cast<int32_t>(k);
      if (++nb == kMaxBlocks) {
        launch(L, nb);
        nb = 0;
        if (k + 1 < chunks) {  // carry this parameter over into the next launch
          set(L, 0, slot);
          L.numel[0] = slot.numel;
          ns = 0;
        } else {
          ns = -1;  // done with it: the next parameter takes index 0
        }
      }
    }
    if (++ns == kMaxSlots) {
      if (nb > 0) launch(L, nb);
      nb = 0;
      ns = 0;
    }
  }
  if (nb > 0) launch(L, nb);
}

}  // namespace

template <typename T>
void sgd_step(const SgdSlot<T>* slots, int64_t count, const SgdHyper& h) {
  using List = TensorList<T, 3, SgdExtra>;
  const SgdParams<T> p{static_cast<T>(h.lr),           static_cast<T>(h.weight_decay), static_cast<T>(h.momentum),
                       static_cast<T>(1.0 - h.dampening), h.weight_decay != 0.0,        h.momentum != 0.0,
                       h.nesterov};
  multi_tensor_apply<List>(
      slots, count,
      [&](List& L, int i, const SgdSlot<T>& s) {
        L.ptr[0][i] = s.param;
        L.ptr[1][i] = const_cast<T*>(s.grad);  // read only: apply_chunk never writes array 1
        L.ptr[2][i] = p.use_momentum ? s.momentum_buffer : nullptr;
        L.extra[i].first_step = s.first_step;
      },
      [&](const List& L, int blocks) {
        launch<sgd_kernel<T>>(blocks, kThreads, 0, stream(), L, p);
      });
}

// The tensor lists of an Adam-family step (Adam, AdamW); run(list, blocks) launches the rule's kernel.
template <typename T, typename Run>
void adam_family_apply(const AdamSlot<T>* slots, int64_t count, const AdamHyper& h, Run run) {
  using List = TensorList<T, 4, AdamExtra<T>>;
  multi_tensor_apply<List>(
      slots, count,
      [&](List& L, int i, const AdamSlot<T>& s) {
        L.ptr[0][i] = s.param;
        L.ptr[1][i] = const_cast<T*>(s.grad);
        L.ptr[2][i] = s.exp_avg;
        L.ptr[3][i] = s.exp_avg_sq;
        // Bias corrections in double, as the CPU twin (and PyTorch, from Python floats).
        const double t = static_cast<double>(s.step);
        const double bc1 = 1.0 - std::pow(h.beta1, t);
        const double bc2 = 1.0 - std::pow(h.beta2, t);
        L.extra[i] = {static_cast<T>(h.lr / bc1), static_cast<T>(std::sqrt(bc2)), s.device_bias};
      },
      run);
}

template <typename T>
void adam_step(const AdamSlot<T>* slots, int64_t count, const AdamHyper& h) {
  const AdamParams<T> p{static_cast<T>(1.0 - h.beta1), static_cast<T>(h.beta2), static_cast<T>(1.0 - h.beta2),
                        static_cast<T>(h.weight_decay), static_cast<T>(h.eps),  h.weight_decay != 0.0};
  adam_family_apply(slots, count, h, [&](const TensorList<T, 4, AdamExtra<T>>& L, int blocks) {
    launch<adam_kernel<T>>(blocks, kThreads, 0, stream(), L, p);
  });
}

template <typename T>
void adamw_step(const AdamSlot<T>* slots, int64_t count, const AdamHyper& h) {
  const AdamWParams<T> p{static_cast<T>(h.beta1),     static_cast<T>(1.0 - h.beta1),
                         static_cast<T>(h.beta2),     static_cast<T>(1.0 - h.beta2),
                         static_cast<T>(1.0 - h.lr * h.weight_decay), static_cast<T>(h.eps)};
  adam_family_apply(slots, count, h, [&](const TensorList<T, 4, AdamExtra<T>>& L, int blocks) {
    launch<adamw_kernel<T>>(blocks, kThreads, 0, stream(), L, p);
  });
}

template <typename T>
void rmsprop_step(const RmspropSlot<T>* slots, int64_t count, const RmspropHyper& h) {
  using List = TensorList<T, 5, NoExtra>;
  const RmspropParams<T> p{static_cast<T>(h.lr),    static_cast<T>(h.alpha),        static_cast<T>(1.0 - h.alpha),
                           static_cast<T>(h.weight_decay), static_cast<T>(h.eps),   static_cast<T>(h.momentum),
                           h.weight_decay != 0.0,   h.momentum > 0.0,               h.centered};
  multi_tensor_apply<List>(
      slots, count,
      [&](List& L, int i, const RmspropSlot<T>& s) {
        L.ptr[0][i] = s.param;
        L.ptr[1][i] = const_cast<T*>(s.grad);
        L.ptr[2][i] = s.square_avg;
        L.ptr[3][i] = p.centered ? s.grad_avg : nullptr;
        L.ptr[4][i] = p.use_momentum ? s.momentum_buffer : nullptr;
      },
      [&](const List& L, int blocks) {
        launch<rmsprop_kernel<T>>(blocks, kThreads, 0, stream(), L, p);
      });
}

template <typename T>
void clamp_inplace(T* x, int64_t n, double lo, double hi) {
  if (n <= 0) return;
  const int64_t blocks = std::clamp<int64_t>((n + kThreads * 4 - 1) / (kThreads * 4), 1, 4096);
  launch<clamp_kernel<T>>(static_cast<unsigned>(blocks), kThreads, 0, stream(), x, n, static_cast<T>(lo),
                          static_cast<T>(hi));
}

#define GAN_INSTANTIATE(T)                                                            \
  template void sgd_step<T>(const SgdSlot<T>*, int64_t, const SgdHyper&);             \
  template void adam_step<T>(const AdamSlot<T>*, int64_t, const AdamHyper&);          \
  template void adamw_step<T>(const AdamSlot<T>*, int64_t, const AdamHyper&);         \
  template void rmsprop_step<T>(const RmspropSlot<T>*, int64_t, const RmspropHyper&); \
  template void clamp_inplace<T>(T*, int64_t, double, double);
GAN_INSTANTIATE(float)
GAN_INSTANTIATE(double)
#undef GAN_INSTANTIATE

}  // namespace gan::kernels::cuda
