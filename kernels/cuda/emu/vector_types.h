// CUDA's vector types (dim3, uint3, float4, double2, ...) and their make_ functions, with CUDA's sizes and
// alignments (float4 and double2 are 16-byte aligned, so a cast of a 16-byte aligned pointer to float4* is the
// 128-bit access it is on a GPU). Part of the emulator build (kernels/cuda/emu/runtime_api.h).
#pragma once

#define GAN_EMU_VECTOR_TYPES(T, NAME, A2, A4)                                                            \
  struct NAME##1 { T x; };                                                                                \
  struct alignas(A2) NAME##2 { T x, y; };                                                                 \
  struct NAME##3 { T x, y, z; };                                                                          \
  struct alignas(A4) NAME##4 { T x, y, z, w; };                                                           \
  constexpr NAME##1 make_##NAME##1(T x) { return {x}; }                                                   \
  constexpr NAME##2 make_##NAME##2(T x, T y) { return {x, y}; }                                           \
  constexpr NAME##3 make_##NAME##3(T x, T y, T z) { return {x, y, z}; }                                   \
  constexpr NAME##4 make_##NAME##4(T x, T y, T z, T w) { return {x, y, z, w}; }
GAN_EMU_VECTOR_TYPES(float, float, 8, 16)
GAN_EMU_VECTOR_TYPES(double, double, 16, 16)
GAN_EMU_VECTOR_TYPES(int, int, 8, 16)
GAN_EMU_VECTOR_TYPES(unsigned, uint, 8, 16)
GAN_EMU_VECTOR_TYPES(long long, longlong, 16, 16)
GAN_EMU_VECTOR_TYPES(unsigned long long, ulonglong, 16, 16)
GAN_EMU_VECTOR_TYPES(short, short, 4, 8)
GAN_EMU_VECTOR_TYPES(unsigned short, ushort, 4, 8)
GAN_EMU_VECTOR_TYPES(signed char, char, 2, 4)
GAN_EMU_VECTOR_TYPES(unsigned char, uchar, 2, 4)
#undef GAN_EMU_VECTOR_TYPES

// Grid and block sizes; unspecified dimensions are 1.
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};
