// bfloat16 storage and bf16-saved activations (engine/saved_activation.h) on CUDA: the copy kernels convert as
// the CPU's do, bit for bit, and packing or recomputing batch norm's outputs changes no gradient of a small GAN
// step, first or second order.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/small_gan_net.h"
#include "gpu_test_util.h"

namespace gan::testing {
namespace {

class SavedActivationCuda : public CudaTest {};

TEST_F(SavedActivationCuda, Bf16ConversionsMatchTheCpuBitForBit) {
  Generator gen(5);
  // Normal values, huge ones (some round to infinity, some overflow float32 already), subnormals, and a
  // transposed (strided) view.
  const Tensor x = randn({7, 33}, DType::Float32, &gen);
  const Tensor host = concat({x, mul(x, 3.0e38), mul(x, 1e-39)}, 0).t();
  const Tensor cpu_bf16 = host.to(DType::BFloat16);
  const Tensor cuda_bf16 = host.to(Device::cuda()).to(DType::BFloat16);
  const std::vector<float> a = cpu_bf16.to_vector<float>(), b = cuda_bf16.to_vector<float>();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
  const std::vector<float> back = cuda_bf16.to(DType::Float32).to_vector<float>();
  EXPECT_EQ(0, std::memcmp(a.data(), back.data(), a.size() * sizeof(float))) << "bf16 -> float32 on CUDA";
  EXPECT_EQ(cuda_bf16.to(DType::Float64).to_vector<double>(), cpu_bf16.to_vector<double>());
}

TEST_F(SavedActivationCuda, PackingChangesNoGradientFirstOrSecondOrderAndKeepsFewerBytes) {
  expect_packing_changes_no_gradient(Device::cuda());
}

TEST_F(SavedActivationCuda, RecomputingBatchNormChangesNoGradientFirstOrSecondOrderAndKeepsFewerBytes) {
  for (const kernels::FloatMath mode : {kernels::FloatMath::Tf32, kernels::FloatMath::Fp32,
                                        kernels::FloatMath::Bf16}) {
    SCOPED_TRACE(static_cast<int>(mode));
    expect_recomputation_changes_no_gradient(Device::cuda(), mode);
  }
}

}  // namespace
}  // namespace gan::testing
