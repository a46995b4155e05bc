// Tensor-core and asynchronous-copy instructions as small device functions: inline PTX on a GPU (sm_80 and later;
// the project builds for sm_90), the emulator's versions in a GAN_CUDA=EMU build (kernels/cuda/emu/tensor_core.h,
// which follow the PTX ISA's fragment layouts and completion rules and say how).
//
//   tf32_round(x)            cvt.rna.tf32.f32: x rounded to TF32 (10-bit mantissa, ties away from zero), as a float
//                            whose low 13 bits are zero. A tensor core ignores those bits of an operand (truncates),
//                            so kernels round each operand with this first, as CUTLASS does.
//   mma_tf32_m16n8k8(d,a,b,c) mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32, d = A B + c for the warp, FP32
//                            accumulation. All 32 lanes call it together; with g = lane / 4, t = lane % 4:
//                              a: A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4]      (A 16x8, row-major)
//                              b: B[t][g], B[t+4][g]                              (B 8x8, "col": k runs down)
//                              c, d: C[g][2t], C[g][2t+1], C[g+8][2t], C[g+8][2t+1] (C 16x8)
//   mma_tf32_tile<FM, FN>(acc, a, b)  the FM x FN mmas of a warp tile, acc[i][j] = A_i B_j + acc[i][j] with A
//                            fragments a[i] and B fragments b[j]: exactly FM FN mma_tf32_m16n8k8 calls (one warp
//                            collective in the emulator, which makes it several times faster there).
//   bf16x2_pack(lo, hi)      cvt.rn.bf16x2.f32: lo and hi rounded to bf16 (8-bit significand, nearest, ties to
//                            even; NaN stays NaN) and packed in one .b32, lo in the low 16 bits (the PTX instruction
//                            puts its first source in the upper half, so the asm passes hi first).
//   mma_bf16_m16n8k16(d,a,b,c) mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, d = A B + c for the warp, FP32
//                            accumulation; each register of a and b holds two bf16 along k, the lower k low:
//                              a: {A[g][2t], A[g][2t+1]}, {A[g+8][2t], A[g+8][2t+1]},
//                                 {A[g][2t+8], A[g][2t+9]}, {A[g+8][2t+8], A[g+8][2t+9]}    (A 16x16, row-major)
//                              b: {B[2t][g], B[2t+1][g]}, {B[2t+8][g], B[2t+9][g]}          (B 16x8, "col")
//                              c, d: as for m16n8k8
//   mma_bf16_tile<FM, FN>(acc, a, b)  the FM x FN bf16 mmas of a warp tile, as mma_tf32_tile.
//   cp_async_4/16(dst, src, valid)  cp.async global -> shared of 4 (.ca) or 16 (.cg) bytes; valid == false
//                            zero-fills the destination and reads nothing (src-size 0), for padding and tails.
//   cp_async_commit_group()  closes the calling thread's open copies into a group.
//   cp_async_wait_group<N>() waits until at most N of the thread's committed groups are pending. Other threads
//                            see the data only after a barrier that follows their writers' waits.
#pragma once

#include <cstdint>

#if defined(GAN_CUDA_EMU)
#include <source_location>

#include "kernels/cuda/emu/tensor_core.h"
#endif

namespace gan::kernels::cuda {

#if defined(GAN_CUDA_EMU)

__device__ __forceinline__ float tf32_round(float x) { return gan::emu::tf32_round(x); }

inline void mma_tf32_m16n8k8(float (&d)[4], const float (&a)[4], const float (&b)[2], const float (&c)[4],
                             const std::source_location& where = std::source_location::current()) {
  gan::emu::mma_m16n8k8_tf32(d, a, b, c, where);
}

template <int FM, int FN>
inline void mma_tf32_tile(float (&acc)[FM][FN][4], const float (&a)[FM][4], const float (&b)[FN][2],
                          const std::source_location& where = std::source_location::current()) {
  gan::emu::mma_m16n8k8_tf32_tile(FM, FN, &acc[0][0][0], &a[0][0], &b[0][0], where);
}

__device__ __forceinline__ uint32_t bf16x2_pack(float lo, float hi) { return gan::emu::bf16x2_pack(lo, hi); }

inline void mma_bf16_m16n8k16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4],
                              const std::source_location& where = std::source_location::current()) {
  gan::emu::mma_m16n8k16_bf16(d, a, b, c, where);
}

template <int FM, int FN>
inline void mma_bf16_tile(float (&acc)[FM][FN][4], const uint32_t (&a)[FM][4], const uint32_t (&b)[FN][2],
                          const std::source_location& where = std::source_location::current()) {
  gan::emu::mma_m16n8k16_bf16_tile(FM, FN, &acc[0][0][0], &a[0][0], &b[0][0], where);
}

inline void cp_async_4(void* dst, const void* src, bool valid,
                       const std::source_location& where = std::source_location::current()) {
  gan::emu::cp_async(dst, src, 4, valid ? 4 : 0, where);
}
inline void cp_async_16(void* dst, const void* src, bool valid,
                        const std::source_location& where = std::source_location::current()) {
  gan::emu::cp_async(dst, src, 16, valid ? 16 : 0, where);
}
inline void cp_async_commit_group() { gan::emu::cp_async_commit_group(); }
template <int N>
inline void cp_async_wait_group() {
  static_assert(N >= 0, "wait_group takes a count of pending groups");
  gan::emu::cp_async_wait_group(N);
}

#else

__device__ __forceinline__ float tf32_round(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
  return __uint_as_float(r);
}

__device__ __forceinline__ void mma_tf32_m16n8k8(float (&d)[4], const float (&a)[4], const float (&b)[2],
                                                 const float (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(__float_as_uint(a[0])), "r"(__float_as_uint(a[1])), "r"(__float_as_uint(a[2])),
        "r"(__float_as_uint(a[3])), "r"(__float_as_uint(b[0])), "r"(__float_as_uint(b[1])), "f"(c[0]), "f"(c[1]),
        "f"(c[2]), "f"(c[3]));
}

template <int FM, int FN>
__device__ __forceinline__ void mma_tf32_tile(float (&acc)[FM][FN][4], const float (&a)[FM][4],
                                              const float (&b)[FN][2]) {
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) mma_tf32_m16n8k8(acc[i][j], a[i], b[j], acc[i][j]);
}

__device__ __forceinline__ uint32_t bf16x2_pack(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

__device__ __forceinline__ void mma_bf16_m16n8k16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                  const float (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
}

template <int FM, int FN>
__device__ __forceinline__ void mma_bf16_tile(float (&acc)[FM][FN][4], const uint32_t (&a)[FM][4],
                                              const uint32_t (&b)[FN][2]) {
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) mma_bf16_m16n8k16(acc[i][j], a[i], b[j], acc[i][j]);
}

__device__ __forceinline__ void cp_async_4(void* dst, const void* src, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(s), "l"(src), "r"(valid ? 4 : 0) : "memory");
}
__device__ __forceinline__ void cp_async_16(void* dst, const void* src, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(s), "l"(src), "r"(valid ? 16 : 0) : "memory");
}
__device__ __forceinline__ void cp_async_commit_group() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait_group() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

#endif

}  // namespace gan::kernels::cuda
