// Element types. float32 is the training type, float64 serves gradient checks, int64 holds labels and indices.
// bfloat16 is a storage type only (kernels/bfloat16.h): tensors of it can be made, copied and converted with
// .to(dtype), saved and loaded, but no arithmetic op takes them (an op names the dtype in its error); the bf16
// math mode keeps the activations it saves for the backward pass in it (engine/saved_activation.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/bfloat16.h"

namespace gan {

enum class DType : uint8_t { Float32, Float64, Int64, BFloat16 };

using bfloat16 = kernels::bfloat16;

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::BFloat16: return 2;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::BFloat16: return "bfloat16";
  }
  return "unknown";
}

// The dtypes arithmetic ops compute in (bfloat16 is not one of them).
inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<bfloat16>() { return DType::BFloat16; }

[[noreturn]] inline void throw_unsupported_dtype(const char* op, DType t) {
  if (t == DType::BFloat16)
    throw std::invalid_argument(std::string(op) + ": dtype bfloat16 is a storage type that no arithmetic op takes; "
                                "convert the tensor with .to(DType::Float32) first");
  throw std::invalid_argument(std::string(op) + ": dtype " + dtype_name(t) +
                              " is not supported (expected float32 or float64)");
}

}  // namespace gan

// One case of the dispatch macros below: the lambda body run with `scalar_t` bound to TYPE.
#define GAN_DISPATCH_CASE(ENUM, TYPE, ...) \
  case ::gan::DType::ENUM: {               \
    using scalar_t = TYPE;                 \
    return __VA_ARGS__();                  \
  }

// Runs the lambda body with `scalar_t` bound to the C++ type of a floating dtype.
#define GAN_DISPATCH_FLOATING(DTYPE, OPNAME, ...)             \
  [&] {                                                       \
    switch (DTYPE) {                                          \
      GAN_DISPATCH_CASE(Float32, float, __VA_ARGS__)          \
      GAN_DISPATCH_CASE(Float64, double, __VA_ARGS__)         \
      default: ::gan::throw_unsupported_dtype(OPNAME, DTYPE); \
    }                                                         \
  }()

// The same over float32, float64 and int64 (not bfloat16, a storage type).
#define GAN_DISPATCH_ALL(DTYPE, OPNAME, ...)               \
  [&] {                                                    \
    switch (DTYPE) {                                       \
      GAN_DISPATCH_CASE(Float32, float, __VA_ARGS__)       \
      GAN_DISPATCH_CASE(Float64, double, __VA_ARGS__)      \
      GAN_DISPATCH_CASE(Int64, int64_t, __VA_ARGS__)       \
      default: break;                                      \
    }                                                      \
    ::gan::throw_unsupported_dtype(OPNAME, DTYPE);         \
  }()

// The same over every dtype, bfloat16 included (scalar_t = kernels::bfloat16): for code that only moves or
// converts elements (copy_, to_vector, item).
#define GAN_DISPATCH_STORAGE(DTYPE, OPNAME, ...)               \
  [&] {                                                        \
    switch (DTYPE) {                                           \
      GAN_DISPATCH_CASE(Float32, float, __VA_ARGS__)           \
      GAN_DISPATCH_CASE(Float64, double, __VA_ARGS__)          \
      GAN_DISPATCH_CASE(Int64, int64_t, __VA_ARGS__)           \
      GAN_DISPATCH_CASE(BFloat16, ::gan::bfloat16, __VA_ARGS__) \
    }                                                          \
    ::gan::throw_unsupported_dtype(OPNAME, DTYPE);             \
  }()
