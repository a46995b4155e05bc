// Element types. float32 is the training type, float64 serves gradient checks, int64 holds labels and indices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace gan {

enum class DType : uint8_t { Float32, Float64, Int64 };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
  }
  return "unknown";
}

inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }

[[noreturn]] inline void throw_unsupported_dtype(const char* op, DType t) {
  throw std::invalid_argument(std::string(op) + ": dtype " + dtype_name(t) +
                              " is not supported (expected float32 or float64)");
}

}  // namespace gan

// Runs the lambda body with `scalar_t` bound to the C++ type of a floating dtype.
#define GAN_DISPATCH_FLOATING(DTYPE, OPNAME, ...)                  \
  [&] {                                                            \
    switch (DTYPE) {                                               \
      case ::gan::DType::Float32: {                                \
        using scalar_t = float;                                    \
        return __VA_ARGS__();                                      \
      }                                                            \
      case ::gan::DType::Float64: {                                \
        using scalar_t = double;                                   \
        return __VA_ARGS__();                                      \
      }                                                            \
      default: ::gan::throw_unsupported_dtype(OPNAME, DTYPE);      \
    }                                                              \
  }()

// The same over every dtype, int64 included.
#define GAN_DISPATCH_ALL(DTYPE, OPNAME, ...)                       \
  [&] {                                                            \
    switch (DTYPE) {                                               \
      case ::gan::DType::Float32: {                                \
        using scalar_t = float;                                    \
        return __VA_ARGS__();                                      \
      }                                                            \
      case ::gan::DType::Float64: {                                \
        using scalar_t = double;                                   \
        return __VA_ARGS__();                                      \
      }                                                            \
      case ::gan::DType::Int64: {                                  \
        using scalar_t = int64_t;                                  \
        return __VA_ARGS__();                                      \
      }                                                            \
    }                                                              \
    ::gan::throw_unsupported_dtype(OPNAME, DTYPE);                 \
  }()
