// The process-wide float32 math mode (kernels/math_mode.h): its start value from the environment, and the names.
#include "kernels/math_mode.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace gan::kernels {

namespace {

FloatMath start_value() {
  if (const char* v = std::getenv("GAN_PRECISION"); v != nullptr && *v != '\0') {
    if (const auto mode = parse_float_math(v)) return *mode;
    throw std::invalid_argument(std::string("GAN_PRECISION is '") + v +
                                "'; expected fp32, tf32 or bf16 (or unset it for the default)");
  }
  const char* tf32 = std::getenv("GAN_TF32");
  if (tf32 != nullptr && std::string(tf32) == "0") return FloatMath::Fp32;
#if defined(GAN_WITH_CUDA)
  return FloatMath::Tf32;
#else
  return FloatMath::Fp32;  // nothing in this build computes in TF32
#endif
}

std::atomic<FloatMath>& mode_flag() {
  static std::atomic<FloatMath> flag{start_value()};
  return flag;
}

}  // namespace

FloatMath float_math() { return mode_flag().load(std::memory_order_relaxed); }
void set_float_math(FloatMath mode) { mode_flag().store(mode, std::memory_order_relaxed); }

const char* float_math_name(FloatMath mode) {
  switch (mode) {
    case FloatMath::Fp32: return "fp32";
    case FloatMath::Tf32: return "tf32";
    case FloatMath::Bf16: return "bf16";
  }
  return "?";
}

std::optional<FloatMath> parse_float_math(std::string_view name) {
  if (name == "fp32") return FloatMath::Fp32;
  if (name == "tf32") return FloatMath::Tf32;
  if (name == "bf16") return FloatMath::Bf16;
  return std::nullopt;
}

}  // namespace gan::kernels
