// The emulator's tensor-core and asynchronous-copy instructions, behind the wrappers of kernels/cuda/mma.cuh:
// mma.sync m16n8k8 TF32, cvt.rna.tf32.f32, mma.sync m16n8k16 BF16, cvt.rn.bf16x2.f32 and cp.async with its commit
// and wait groups. They follow the PTX ISA ("Matrix Fragments for mma.m16n8k8", "Matrix Fragments for
// mma.m16n8k16 with floating point type", "cvt", "cp.async", "cp.async.wait_group"), so that a kernel written
// against the wrappers is checked here for what would be wrong on a GPU:
//   mma: a warp collective (device_api.h): all 32 lanes must take part, each deposits its A, B and C fragments
//        and receives its own D fragment, in the ISA's layout (g = lane / 4, t = lane % 4):
//          A (16x8, row): a0 (g, t), a1 (g + 8, t), a2 (g, t + 4), a3 (g + 8, t + 4)
//          B (8x8, col):  b0 (t, g), b1 (t + 4, g)
//          C, D (16x8):   c0 (g, 2t), c1 (g, 2t + 1), c2 (g + 8, 2t), c3 (g + 8, 2t + 1)
//        A tensor core reads only the 19 high bits of a .tf32 operand register (sign, exponent, 10 mantissa bits)
//        and ignores the low 13: an operand that was not rounded first is truncated toward zero. The emulator
//        does the same, so a kernel that skips cvt.rna gets the truncated (biased) products it would get on the
//        GPU. Products of TF32 values are exact in FP32; the 8 products and c are summed in double and rounded
//        once to FP32 (the hardware's internal order and width are unspecified; exact when the sum is, as in the
//        tests). A warp tile of such mmas (mma_tf32_tile in mma.cuh) runs as one collective: the same products,
//        one fiber switch per lane instead of one per mma.
//   mma m16n8k16 .bf16: the same collective with 16 k, each .b32 operand register holding two bf16 elements,
//        the lower k in the low 16 bits:
//          A (16x16, row): a0 {(g, 2t), (g, 2t + 1)}, a1 {(g + 8, 2t), (g + 8, 2t + 1)},
//                          a2 {(g, 2t + 8), (g, 2t + 9)}, a3 {(g + 8, 2t + 8), (g + 8, 2t + 9)}
//          B (16x8, col):  b0 {(2t, g), (2t + 1, g)}, b1 {(2t + 8, g), (2t + 9, g)}
//          C, D (16x8):   as for m16n8k8
//        Products of two bf16 values (8-bit significands) are exact in FP32; the 16 products and c are summed in
//        double and rounded once to FP32, as for TF32.
//   cp.async: the copy is recorded for the issuing thread, its source read at issue time, and its destination
//        filled with 0xFF bytes (NaN) at once. The data land in shared memory only when the thread's
//        cp.async.wait_group retires the group the copy was committed in, so a kernel that reads the
//        destination before waiting (or before the barrier after the wait, for another thread's copy) reads NaN,
//        and so does one that overwrites a buffer other threads still read. Copies never committed stay pending
//        (wait_group concerns committed groups only, as in the ISA).
#pragma once

#include <cstdint>
#include <cstring>
#include <source_location>
#include <vector>

#include "kernels/math_mode.h"

namespace gan::emu {

// cvt.rna.tf32.f32: round to the nearest value with a 10-bit mantissa, ties away from zero (adding half an ulp
// of TF32 to the magnitude bits and truncating does exactly that; a carry into the exponent is correct rounding
// up, to infinity past TF32's largest finite value). Infinities pass unchanged; a NaN stays a NaN (the canonical
// one, 0x7fffffff, so that clearing low payload bits cannot turn it into an infinity). Low 13 bits of the result
// are zero.
inline float tf32_round(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) {
    if ((u & 0x007fffffu) != 0) u = 0x7fffffffu;
  } else {
    u = (u + 0x1000u) & 0xffffe000u;
  }
  std::memcpy(&x, &u, 4);
  return x;
}

// What the tensor core reads of an operand register: the low 13 bits dropped (truncation toward zero).
inline float tf32_truncate(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u &= 0xffffe000u;
  std::memcpy(&x, &u, 4);
  return x;
}

// cvt.rn.bf16.f32 of one value, as the 16 bits of a bf16: round to the nearest value with an 8-bit significand,
// ties to even, overflow to infinity, subnormals rounded like normals (kernels/math_mode.h: bf16_round, the CPU
// twins' rounding); a NaN becomes the canonical NaN 0x7fff, as the instruction gives.
inline uint16_t bf16_bits(float x) {
  if (x != x) return 0x7fffu;
  uint32_t u;
  const float r = gan::kernels::bf16_round(x);
  std::memcpy(&u, &r, 4);
  return static_cast<uint16_t>(u >> 16);
}

// The float a bf16 stands for (exact: bf16 is the high half of an FP32).
inline float bf16_value(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// cvt.rn.bf16x2.f32 d, hi, lo: two floats rounded to bf16 and packed, `lo` in the low 16 bits (the instruction's
// first source operand goes to the upper half).
inline uint32_t bf16x2_pack(float lo, float hi) { return uint32_t(bf16_bits(lo)) | (uint32_t(bf16_bits(hi)) << 16); }

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 for the calling lane: d = A B + C over the warp.
void mma_m16n8k8_tf32(float (&d)[4], const float (&a)[4], const float (&b)[2], const float (&c)[4],
                      const std::source_location& where);

// The fm x fn mmas of a warp tile in one warp collective: acc[i][j] (4 floats at acc + 4 (i fn + j)) = A_i B_j +
// acc[i][j] with lane fragments a + 4 i and b + 2 j. The same results as fm fn calls of the one above, with fm fn
// times fewer fiber switches.
void mma_m16n8k8_tf32_tile(int fm, int fn, float* acc, const float* a, const float* b,
                           const std::source_location& where);

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 for the calling lane: d = A B + C over the warp, a and b
// holding bf16 pairs (bf16x2_pack).
void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4],
                       const std::source_location& where);

// The fm x fn bf16 mmas of a warp tile in one collective, as mma_m16n8k8_tf32_tile: acc + 4 (i fn + j) += A_i B_j
// with lane fragments a + 4 i and b + 2 j.
void mma_m16n8k16_bf16_tile(int fm, int fn, float* acc, const uint32_t* a, const uint32_t* b,
                            const std::source_location& where);

// cp.async of `bytes` (4, 8 or 16) bytes from global `src` to shared `dst`, of which the first `src_bytes` are read
// and the rest zero-filled; then commit_group and wait_group(n) for the calling thread.
void cp_async(void* dst, const void* src, int bytes, int src_bytes, const std::source_location& where);
void cp_async_commit_group();
void cp_async_wait_group(int n);

namespace detail {

// The calling CUDA thread's cp.async state (kept by the scheduler per thread, fresh for every block): copies in
// issue order, and where each committed group ends in that list (copies past the last end are not committed).
struct AsyncCopy {
  unsigned char* dst;
  unsigned char data[16];
  int bytes;
};
struct AsyncCopies {
  std::vector<AsyncCopy> copies;
  std::vector<size_t> group_ends;
};
AsyncCopies& async_copies(const char* what);

}  // namespace detail
}  // namespace gan::emu
