// The device side of CUDA C++ as the emulator compiles it with the host compiler (GAN_CUDA=EMU): qualifiers,
// built-in variables, barriers, warp-collective operations, atomics and intrinsics, so that the unmodified
// kernels/cuda/*.cu sources build with g++ and run on the CPU.
//
// How a kernel runs (kernels/cuda/emu/scheduler.cpp): each block on one OS thread of a small pool, each CUDA
// thread of the block a fiber (Boost.Context) that runs until it reaches a barrier, a warp-collective operation
// or its end. So:
//   __shared__ variables are `static thread_local`: one instance per OS thread, which is one per running block;
//   threadIdx/blockIdx/blockDim/gridDim are __thread variables the scheduler sets before it resumes a fiber;
//   __syncthreads() parks the fiber until every thread of the block has reached the same barrier;
//   __shfl_*_sync, __ballot_sync, __any/__all_sync and __syncwarp go through warp_collective() below: every lane
//   named in the mask deposits its operand, the last one to arrive computes all lanes' results.
// Errors a GPU would not report (a barrier reached from different source lines, a deadlock, a mask naming lanes
// that exited or do not exist, a source lane outside the mask) stop the kernel and make its launch throw, naming
// the kernel, the block, the thread and the source line.
#pragma once

#include <math.h>  // the C++ <math.h>: float overloads of exp, log, ... in the global namespace, as in CUDA

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <type_traits>
#include <typeinfo>

#include "kernels/cuda/emu/vector_types.h"

// ---- qualifiers ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __grid_constant__
#define __align__(n) alignas(n)
#define __shared__ static thread_local
#define __constant__ static

// ---- built-in variables: set by the scheduler for the fiber it resumes ----
// GCC's __thread, not C++ thread_local: an `extern thread_local` of class type is read through a TLS wrapper
// function that returns a pointer, which UBSan null-checks with `add x@gottpoff(%rip), %reg; je`. The linker
// relaxes that add (initial-exec to local-exec) into a `lea`, which sets no flags, so the `je` tests stale flags
// and UBSan reports "member access within null pointer of type 'uint3'" on correct code (seen in the ASan+UBSan
// emulator build). __thread needs constant initialisation, so there is no wrapper, no check and no TLS init call.
#define GAN_EMU_TLS __attribute__((tls_model("initial-exec")))
extern __thread uint3 threadIdx GAN_EMU_TLS;
extern __thread uint3 blockIdx GAN_EMU_TLS;
extern __thread dim3 blockDim GAN_EMU_TLS;
extern __thread dim3 gridDim GAN_EMU_TLS;
constexpr int warpSize = 32;

namespace gan::emu {

// ---- the scheduler's entry points (scheduler.cpp) ----
namespace detail {

enum class BarrierKind : int { Plain, Count, And, Or };

// Parks the calling thread at a block-wide barrier; returns the reduction of `predicate` for Count/And/Or.
int barrier(BarrierKind kind, int predicate, const std::source_location& where);

// One lane's part of a warp-collective operation, type-erased (see warp_collective below).
struct Collective {
  const char* name;               // e.g. "__shfl_down_sync"
  unsigned mask;                  // the lanes taking part
  std::source_location where;     // this lane's call site
  const std::type_info* type;     // lanes of one operation must agree on it (operation and operand types)
  void (*combine)(void* ctx, const void* const* in, void* const* out, unsigned mask);
  void* ctx;
};
void collective(const Collective& op, const void* in, void* out);

// Lane of the calling thread in its warp (threads are numbered x-fastest, 32 to a warp); lanes of its warp that
// have not exited.
unsigned lane_id();
unsigned active_lanes();

// Stops the running kernel with an error naming the kernel, block, thread and `where` (never returns).
[[noreturn]] void kernel_error(const char* what, const std::source_location& where);

// The running block's dynamic shared memory (the bytes requested at launch).
void* dynamic_shared_memory();

}  // namespace detail

// Inputs of the lanes of a collective operation, indexed by lane (only lanes in the mask are valid).
template <typename T>
struct LaneInputs {
  const void* const* lanes;
  const T& operator[](unsigned lane) const { return *static_cast<const T*>(lanes[lane]); }
};

// Outputs of the lanes of a collective operation, indexed by lane (only lanes in the mask are valid).
template <typename T>
struct LaneOutputs {
  void* const* lanes;
  T& operator[](unsigned lane) const { return *static_cast<T*>(lanes[lane]); }
};

// A warp-collective operation: every lane named in `mask` calls this with its own `in`; when the last of them
// arrives, `combine(LaneInputs<In>, LaneOutputs<Out>, mask)` runs once, on that lane, and fills every named lane's
// output; each lane returns its own. The scheduler checks that the calling lane is in the mask, that every named
// lane exists and has not exited, that the lanes meet in the same operation (same name, operand types and
// combine), and reports a deadlock when a named lane never arrives. Shuffles, votes and __syncwarp are built on
// it; so can be mma.sync and ldmatrix (all 32 lanes contribute fragments, each receives its own).
template <typename In, typename Out, typename Combine>
Out warp_collective(const char* name, unsigned mask, const In& in, Combine combine,
                    const std::source_location& where) {
  Out out{};
  const detail::Collective op{
      name, mask, where, &typeid(Combine),
      [](void* ctx, const void* const* ins, void* const* outs, unsigned m) {
        (*static_cast<Combine*>(ctx))(LaneInputs<In>{ins}, LaneOutputs<Out>{outs}, m);
      },
      &combine};
  detail::collective(op, &in, &out);
  return out;
}

namespace detail {

enum class ShuffleMode { Index, Up, Down, Xor };

// The lane whose value `lane` receives in a shuffle, or -1 for its own value (CUDA's rules for each mode and
// sub-warp width).
int shuffle_source(ShuffleMode mode, unsigned lane, int arg, int width, const std::source_location& where);

// A lane of a shuffle reads from a lane outside the mask: the value would be undefined on a GPU.
[[noreturn]] void shuffle_source_error(unsigned lane, int source, unsigned mask, const std::source_location& where);

template <typename T>
T shuffle(const char* name, ShuffleMode mode, unsigned mask, T var, int arg, int width,
          const std::source_location& where) {
  static_assert(std::is_trivially_copyable_v<T>, "shuffles move trivially copyable values");
  struct In {
    T value;
    int source;  // -1: keep its own value
  };
  const In in{var, shuffle_source(mode, lane_id(), arg, width, where)};
  return warp_collective<In, T>(
      name, mask, in,
      [where](LaneInputs<In> ins, LaneOutputs<T> outs, unsigned m) {
        for (unsigned lane = 0; lane < 32; ++lane) {
          if (!(m >> lane & 1u)) continue;
          const int src = ins[lane].source;
          if (src >= 0 && !(m >> src & 1u)) shuffle_source_error(lane, src, m, where);
          outs[lane] = ins[src >= 0 ? static_cast<unsigned>(src) : lane].value;
        }
      },
      where);
}

enum class VoteKind { Ballot, Any, All };

unsigned vote(const char* name, VoteKind kind, unsigned mask, int predicate, const std::source_location& where);

}  // namespace detail
}  // namespace gan::emu

// ---- barriers ----
inline void __syncthreads(const std::source_location& where = std::source_location::current()) {
  gan::emu::detail::barrier(gan::emu::detail::BarrierKind::Plain, 0, where);
}
inline int __syncthreads_count(int predicate, const std::source_location& where = std::source_location::current()) {
  return gan::emu::detail::barrier(gan::emu::detail::BarrierKind::Count, predicate, where);
}
inline int __syncthreads_and(int predicate, const std::source_location& where = std::source_location::current()) {
  return gan::emu::detail::barrier(gan::emu::detail::BarrierKind::And, predicate, where);
}
inline int __syncthreads_or(int predicate, const std::source_location& where = std::source_location::current()) {
  return gan::emu::detail::barrier(gan::emu::detail::BarrierKind::Or, predicate, where);
}

// ---- warp-collective operations ----
inline void __syncwarp(unsigned mask = 0xffffffffu,
                       const std::source_location& where = std::source_location::current()) {
  gan::emu::warp_collective<char, char>("__syncwarp", mask, 0, [](auto, auto, unsigned) {}, where);
}

template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize,
              const std::source_location& where = std::source_location::current()) {
  using gan::emu::detail::ShuffleMode;
  return gan::emu::detail::shuffle("__shfl_sync", ShuffleMode::Index, mask, var, src_lane, width, where);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                 const std::source_location& where = std::source_location::current()) {
  using gan::emu::detail::ShuffleMode;
  return gan::emu::detail::shuffle("__shfl_up_sync", ShuffleMode::Up, mask, var, static_cast<int>(delta), width,
                                   where);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                   const std::source_location& where = std::source_location::current()) {
  using gan::emu::detail::ShuffleMode;
  return gan::emu::detail::shuffle("__shfl_down_sync", ShuffleMode::Down, mask, var, static_cast<int>(delta),
                                   width, where);
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                  const std::source_location& where = std::source_location::current()) {
  using gan::emu::detail::ShuffleMode;
  return gan::emu::detail::shuffle("__shfl_xor_sync", ShuffleMode::Xor, mask, var, lane_mask, width, where);
}

inline unsigned __ballot_sync(unsigned mask, int predicate,
                              const std::source_location& where = std::source_location::current()) {
  return gan::emu::detail::vote("__ballot_sync", gan::emu::detail::VoteKind::Ballot, mask, predicate, where);
}
inline int __any_sync(unsigned mask, int predicate,
                      const std::source_location& where = std::source_location::current()) {
  return static_cast<int>(gan::emu::detail::vote("__any_sync", gan::emu::detail::VoteKind::Any, mask, predicate,
                                                 where));
}
inline int __all_sync(unsigned mask, int predicate,
                      const std::source_location& where = std::source_location::current()) {
  return static_cast<int>(gan::emu::detail::vote("__all_sync", gan::emu::detail::VoteKind::All, mask, predicate,
                                                 where));
}
inline unsigned __activemask() { return gan::emu::detail::active_lanes(); }

// ---- memory fences and cache-hinted loads (memory is coherent host memory) ----
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }  // one OS thread
template <typename T>
inline T __ldg(const T* p) { return *p; }
template <typename T>
inline T __ldcg(const T* p) { return *p; }
template <typename T>
inline T __ldca(const T* p) { return *p; }
template <typename T>
inline T __ldcs(const T* p) { return *p; }
template <typename T>
inline T __ldlu(const T* p) { return *p; }
template <typename T>
inline void __stcg(T* p, T v) { *p = v; }
template <typename T>
inline void __stcs(T* p, T v) { *p = v; }
template <typename T>
inline void __stwb(T* p, T v) { *p = v; }

// ---- atomics: device-wide, on host memory shared by the OS threads that run blocks ----
template <typename T>
inline T atomicAdd(T* address, T value) { return std::atomic_ref<T>(*address).fetch_add(value); }
template <typename T>
inline T atomicSub(T* address, T value) { return std::atomic_ref<T>(*address).fetch_sub(value); }
template <typename T>
inline T atomicExch(T* address, T value) { return std::atomic_ref<T>(*address).exchange(value); }
template <typename T>
inline T atomicCAS(T* address, T compare, T value) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, value);
  return compare;  // the old value, whether or not it was replaced
}
template <typename T>
inline T atomicAnd(T* address, T value) { return std::atomic_ref<T>(*address).fetch_and(value); }
template <typename T>
inline T atomicOr(T* address, T value) { return std::atomic_ref<T>(*address).fetch_or(value); }
template <typename T>
inline T atomicXor(T* address, T value) { return std::atomic_ref<T>(*address).fetch_xor(value); }
template <typename T>
inline T atomicMax(T* address, T value) {
  std::atomic_ref<T> a(*address);
  T old = a.load();
  while (old < value && !a.compare_exchange_weak(old, value)) {
  }
  return old;
}
template <typename T>
inline T atomicMin(T* address, T value) {
  std::atomic_ref<T> a(*address);
  T old = a.load();
  while (value < old && !a.compare_exchange_weak(old, value)) {
  }
  return old;
}
inline unsigned atomicInc(unsigned* address, unsigned limit) {  // ((old >= limit) ? 0 : old + 1)
  std::atomic_ref<unsigned> a(*address);
  unsigned old = a.load();
  while (!a.compare_exchange_weak(old, old >= limit ? 0u : old + 1u)) {
  }
  return old;
}
inline unsigned atomicDec(unsigned* address, unsigned limit) {  // ((old == 0 || old > limit) ? limit : old - 1)
  std::atomic_ref<unsigned> a(*address);
  unsigned old = a.load();
  while (!a.compare_exchange_weak(old, (old == 0u || old > limit) ? limit : old - 1u)) {
  }
  return old;
}

// ---- integer intrinsics ----
inline unsigned __umulhi(unsigned a, unsigned b) { return static_cast<unsigned>((uint64_t{a} * b) >> 32); }
inline int __mulhi(int a, int b) { return static_cast<int>((int64_t{a} * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
inline int __clzll(long long x) { return x == 0 ? 64 : __builtin_clzll(static_cast<unsigned long long>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __ffsll(long long x) { return __builtin_ffsll(x); }
inline unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0f0f0f0fu) | ((x & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(x);
}

// ---- floating-point intrinsics: single correctly rounded operations (the EMU build compiles with
// -ffp-contract=off, so these stay separate, as on the GPU) ----
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline double __drcp_rn(double a) { return 1.0 / a; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
// The fast approximations are exact here: the GPU's differ in the last bits (README: what the emulator cannot
// check).
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __powf(float x, float y) { return std::pow(x, y); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : (x == x ? x : 0.0f)); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline int __float2int_rn(float x) { return static_cast<int>(std::nearbyint(x)); }
inline int __float2int_rz(float x) { return static_cast<int>(x); }
inline float __int2float_rn(int x) { return static_cast<float>(x); }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline unsigned __float_as_uint(float x) { unsigned i; std::memcpy(&i, &x, 4); return i; }
inline float __uint_as_float(unsigned i) { float x; std::memcpy(&x, &i, 4); return x; }
inline long long __double_as_longlong(double x) { long long i; std::memcpy(&i, &x, 8); return i; }
inline double __longlong_as_double(long long i) { double x; std::memcpy(&x, &i, 8); return x; }

// CUDA's global min/max, for any mix of arithmetic types (the usual arithmetic conversions decide the type).
template <typename A, typename B, typename = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(b) < static_cast<C>(a) ? static_cast<C>(b) : static_cast<C>(a);
}
template <typename A, typename B, typename = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
inline std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}

// A kernel that traps ends its launch with an error naming where.
[[noreturn]] inline void __trap(const std::source_location& where = std::source_location::current()) {
  gan::emu::detail::kernel_error("__trap() called", where);
}
