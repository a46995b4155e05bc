// Shared by the gpu suite: skipping where no CUDA device can run, and CUDA-vs-CPU parity checks.
//
// Every test that needs a GPU starts with GAN_REQUIRE_CUDA() (or derives from CudaTest / CudaParamTest, whose
// SetUp does it). Without a usable device the test is skipped with one message, "no CUDA device: <why>", never
// failed and never passed silently. CudaTest also turns on allocator poisoning (kernels/cuda/allocator.h): every
// device allocation starts as 0xFF bytes, NaN in float and double, so an output element a kernel forgets to
// write shows up as NaN in the comparisons below.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda_query.h"
#include "kernels/math_mode.h"

namespace gan::testing {

// Why this process cannot run CUDA work, or "" when it can.
inline std::string cuda_unavailable_reason() {
  if (!kernels::cuda_compiled()) return "this build has no CUDA backend (configured with GAN_CUDA=OFF or no toolkit)";
  try {
    if (kernels::cuda_device_count() == 0) return "the CUDA build found no usable GPU or driver on this machine";
  } catch (const std::exception& e) {
    return std::string("the CUDA device query failed: ") + e.what();
  }
  return "";
}

inline bool cuda_available() { return cuda_unavailable_reason().empty(); }

}  // namespace gan::testing

// Skips the current test (from a test body or a fixture's SetUp) when no CUDA device can run.
#define GAN_REQUIRE_CUDA()                                                                \
  do {                                                                                    \
    const std::string gan_no_cuda_why_ = ::gan::testing::cuda_unavailable_reason();       \
    if (!gan_no_cuda_why_.empty()) GTEST_SKIP() << "no CUDA device: " << gan_no_cuda_why_; \
  } while (0)

namespace gan::testing {

// A fixture that skips without a device, poisons device allocations and runs float32 convolutions and GEMMs in
// strict FP32 (kernels/math_mode.h: FloatMath::Fp32) for the test's duration, restoring the previous mode after:
// the parity tests built on it compare with the CPU at FP32 tolerances. Tests of the TF32 and BF16 paths set their
// mode themselves (Tf32Scope, kernels::ScopedFloatMath).
template <typename Base>
class CudaFixture : public Base {
 protected:
  void SetUp() override {
    GAN_REQUIRE_CUDA();
    previous_poison_ = kernels::cuda::poison_enabled();
    kernels::cuda::set_poison(true);
    previous_math_ = kernels::float_math();
    kernels::set_float_math(kernels::FloatMath::Fp32);
  }
  void TearDown() override {
    if (!cuda_available()) return;
    kernels::cuda::set_poison(previous_poison_);
    kernels::set_float_math(previous_math_);
  }

 private:
  bool previous_poison_ = false;
  kernels::FloatMath previous_math_ = kernels::FloatMath::Fp32;
};

// Sets the float32 math mode (TF32 tensor cores or strict FP32) for a scope, then restores the previous one.
class Tf32Scope {
 public:
  explicit Tf32Scope(bool on) : previous_(kernels::cuda::tf32_enabled()) { kernels::cuda::set_tf32(on); }
  ~Tf32Scope() { kernels::cuda::set_tf32(previous_); }
  Tf32Scope(const Tf32Scope&) = delete;
  Tf32Scope& operator=(const Tf32Scope&) = delete;

 private:
  bool previous_;
};

using CudaTest = CudaFixture<::testing::Test>;
template <typename Param>
using CudaParamTest = CudaFixture<::testing::TestWithParam<Param>>;

// The values of t (any device, any dtype) as doubles, in row-major order.
inline std::vector<double> host_values(const Tensor& t) { return t.to_vector<double>(); }

// Passes when every element is finite; otherwise names the first NaN/Inf and how many there are.
inline ::testing::AssertionResult all_finite(const Tensor& t, const std::string& what = "tensor") {
  const std::vector<double> v = host_values(t);
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]) && bad++ == 0) first = i;
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << v.size()
                                       << " elements are NaN/Inf (first at flat index " << first << ": " << v[first]
                                       << "); on a poisoned device an unwritten output element reads as NaN";
}

// Relative error ||out - ref||_2 / ||ref||_2 (the absolute norm of the difference when ref is all zeros).
inline double relative_error(const std::vector<double>& out, const std::vector<double>& ref) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    diff += (out[i] - ref[i]) * (out[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// Passes when out and ref have the same shape, out has no NaN/Inf, and ||out - ref|| / ||ref|| <= tol (default:
// float32 parity, 1e-5). The failure message names the shapes, the error, and the worst element.
inline ::testing::AssertionResult parity(const Tensor& out, const Tensor& ref, const std::string& what,
                                         double tol = 1e-5) {
  if (out.shape() != ref.shape())
    return ::testing::AssertionFailure() << what << ": shape " << shape_str(out.shape()) << " on "
                                         << out.device().str() << " vs reference shape " << shape_str(ref.shape());
  if (auto finite = all_finite(out, what + " (" + out.device().str() + ")"); !finite) return finite;
  if (auto finite = all_finite(ref, what + " (reference, " + ref.device().str() + ")"); !finite) return finite;
  const std::vector<double> o = host_values(out), r = host_values(ref);
  const double err = relative_error(o, r);
  if (err <= tol) return ::testing::AssertionSuccess();
  size_t worst = 0;
  for (size_t i = 1; i < r.size(); ++i)
    if (std::abs(o[i] - r[i]) > std::abs(o[worst] - r[worst])) worst = i;
  return ::testing::AssertionFailure() << what << ": relative error " << err << " > " << tol << " for shape "
                                       << shape_str(ref.shape()) << " (" << out.device().str() << " vs "
                                       << ref.device().str() << "); worst element at flat index " << worst << ": "
                                       << o[worst] << " vs " << r[worst];
}

}  // namespace gan::testing
