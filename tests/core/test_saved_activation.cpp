// bfloat16 storage (kernels/bfloat16.h, DType::BFloat16) and the activations saved for backward as bf16 in the
// bf16 math mode (engine/saved_activation.h): conversions round to nearest even and come back exactly; no
// arithmetic op takes bf16; packing changes no gradient (first and second order, bit for bit against the same
// step with packing off) and keeps fewer bytes alive between forward and backward.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/saved_activation.h"
#include "engine/storage.h"
#include "kernels/math_mode.h"
#include "small_gan_net.h"

namespace gan::testing {
namespace {

using kernels::FloatMath;
using kernels::ScopedFloatMath;

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(BFloat16Storage, ConvertsByRoundingToNearestEvenAndBackExactly) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> v = {1.0f,  1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -2.5f, std::numeric_limits<float>::max(),
                                -inf,  1e-40f,          -0.0f,              std::numeric_limits<float>::quiet_NaN()};
  const Tensor b = from_vector(v, {static_cast<int64_t>(v.size())}).to(DType::BFloat16);
  EXPECT_EQ(b.dtype(), DType::BFloat16);
  EXPECT_EQ(b.storage()->nbytes(), v.size() * 2);
  const std::vector<float> back = b.to(DType::Float32).to_vector<float>();
  ASSERT_EQ(back.size(), v.size());
  for (size_t i = 0; i + 1 < v.size(); ++i)
    EXPECT_EQ(bits_of(back[i]), bits_of(kernels::bf16_round(v[i]))) << "element " << i << " = " << v[i];
  EXPECT_TRUE(std::isnan(back.back()));
  EXPECT_EQ(back[1], 1.0f) << "a tie rounds to the even significand";
  EXPECT_EQ(back[4], inf) << "past bf16's largest value: infinity";
  EXPECT_EQ(b.to_vector<double>()[3], -2.5);
  EXPECT_EQ(from_vector<double>({0.1}, {1}).to(DType::BFloat16).item(), double(kernels::bf16_round(0.1f)));
  const Tensor strided = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3}).t().to(DType::BFloat16);
  EXPECT_EQ(strided.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(BFloat16Storage, IsRefusedByArithmeticAndByIntegerAndDifferentiableConversions) {
  const Tensor b = ones({3}).to(DType::BFloat16);
  try {
    add(b, b);
    FAIL() << "add of bfloat16 tensors did not throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bfloat16"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(".to(DType::Float32)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(b.to(DType::Int64), std::invalid_argument);
  EXPECT_THROW(arange(3.0, DType::Int64).to(DType::BFloat16), std::invalid_argument);
  Tensor x = ones({3});
  x.requires_grad_();
  EXPECT_THROW(x.to(DType::BFloat16), std::invalid_argument) << "bf16 is not differentiable: a silent detach";
  EXPECT_NO_THROW(x.detach().to(DType::BFloat16));
}

TEST(SavedActivation, PacksOnlyWhereTheBackwardReadsTheSameValues) {
  namespace F = nn::functional;
  Tensor leaf = randn({4, 5});
  leaf.requires_grad_();
  const Tensor activation = mul(leaf, 2.0);  // has a grad_fn; float32 values
  const Tensor constant = randn({4, 5});
  Tensor w = randn({3, 2, 2, 2});
  w.requires_grad_();
  {
    const ScopedFloatMath mode(FloatMath::Tf32);
    EXPECT_FALSE(SavedActivation(activation, SavedUse::Sign).is_packed()) << "tf32 mode";
    EXPECT_FALSE(F::conv2d(randn({1, 2, 3, 3}), w).impl()->bf16_values) << "tf32 mode";
  }
  const ScopedFloatMath mode(FloatMath::Bf16);
  const Tensor conv_out = F::conv2d(randn({1, 2, 3, 3}), w);
  EXPECT_TRUE(conv_out.impl()->bf16_values) << "a conv output in the bf16 mode holds bf16 values";
  EXPECT_TRUE(SavedActivation(conv_out, SavedUse::Values).is_packed());
  EXPECT_FALSE(SavedActivation(activation, SavedUse::Values).is_packed()) << "float32 values: a copy would round";
  Tensor overwritten = F::conv2d(randn({1, 2, 3, 3}), w);
  fill_(overwritten, 0.1);
  EXPECT_FALSE(SavedActivation(overwritten, SavedUse::Values).is_packed()) << "written over by fill_";
  EXPECT_TRUE(SavedActivation(activation, SavedUse::Sign).is_packed());
  EXPECT_TRUE(SavedActivation(constant, SavedUse::Bf16Operand).is_packed());
  EXPECT_FALSE(SavedActivation(leaf, SavedUse::Sign).is_packed()) << "a leaf that requires grad stays as it is";
  EXPECT_FALSE(SavedActivation(randn({3}, DType::Float64), SavedUse::Sign).is_packed()) << "float64";
  set_pack_saved_activations(false);
  EXPECT_FALSE(SavedActivation(activation, SavedUse::Sign).is_packed()) << "packing turned off";
  set_pack_saved_activations(true);

  const SavedActivation saved(activation, SavedUse::Sign);
  const Tensor back = saved.unpack();
  EXPECT_EQ(back.dtype(), DType::Float32);
  EXPECT_EQ(back.shape(), activation.shape());
  EXPECT_TRUE(back.grad_fn() == activation.grad_fn()) << "the unpacked tensor keeps the history";
  const std::vector<float> a = activation.to_vector<float>(), b = back.to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(b[i], kernels::bf16_round(a[i]));
  EXPECT_EQ(SavedActivation(conv_out, SavedUse::Values).unpack().to_vector<float>(), conv_out.to_vector<float>())
      << "bf16 values come back exactly";

  // A second saver of the same tensor shares the copy: no new bytes.
  const int64_t before = host_memory_stats().allocated_bytes;
  const SavedActivation again(activation, SavedUse::Bf16Operand);
  EXPECT_EQ(host_memory_stats().allocated_bytes, before);
  EXPECT_TRUE(again.is_packed());
}

}  // namespace

TEST(SavedActivation, PackingChangesNoGradientFirstOrSecondOrderAndKeepsFewerBytes) {
  expect_packing_changes_no_gradient(Device::cpu());
}

TEST(SavedActivation, RecomputingBatchNormChangesNoGradientFirstOrSecondOrderAndKeepsFewerBytes) {
  for (const FloatMath mode : {FloatMath::Fp32, FloatMath::Bf16}) {
    SCOPED_TRACE(mode == FloatMath::Fp32 ? "fp32" : "bf16");
    expect_recomputation_changes_no_gradient(Device::cpu(), mode);
  }
}

// layer_norm's affine multiplies batch norm's own output, so mul keeps its Recomputation: a critic layer keeps x
// and the activation's output, as PyTorch's does, not also the normalized values. Gradients (first order, and the
// gradient penalty's second order) are bit-identical with recomputation off.
TEST(SavedActivation, LayerNormKeepsItsNormalizedValuesAsARecomputation) {
  namespace F = nn::functional;
  Generator gen(4);
  const auto param = [&](const Shape& shape, double mean) {
    Tensor t = randn(shape, DType::Float32, &gen, mean, 0.3);
    t.requires_grad_();
    return t;
  };
  const std::vector<Tensor> params = {param({4, 3, 3, 3}, 0.0), param({4, 5, 5}, 1.0), param({4, 5, 5}, 0.0),
                                      param({1, 4, 5, 5}, 0.0)};
  const auto critic = [&](const Tensor& x) {
    const Tensor h = F::layer_norm(F::conv2d(x, params[0]), {4, 5, 5}, params[1], params[2]);
    return F::conv2d(leaky_relu(h, 0.2), params[3]);
  };
  const Tensor x = randn({3, 3, 7, 7}, DType::Float32, &gen);
  struct Result {
    int64_t kept_bytes = 0;
    std::vector<std::vector<float>> grads;
  };
  const auto run = [&](bool recompute) {
    set_recompute_saved_activations(recompute);
    Result r;
    const int64_t before = host_memory_stats().allocated_bytes;
    const Tensor scores = critic(x);
    r.kept_bytes = host_memory_stats().allocated_bytes - before;
    for (const Tensor& g : gan::grad({sum(scores)}, params)) r.grads.push_back(g.to_vector<float>());
    Tensor x_hat = x.detach();
    x_hat.requires_grad_();
    const Tensor gx = gan::grad({sum(critic(x_hat))}, {x_hat}, {}, /*create_graph=*/true)[0];
    for (const Tensor& g : gan::grad({sum(mul(gx, gx))}, params)) r.grads.push_back(g.to_vector<float>());
    set_recompute_saved_activations(true);
    return r;
  };
  const Result kept = run(false), recomputed = run(true);
  ASSERT_EQ(kept.grads.size(), recomputed.grads.size());
  for (size_t i = 0; i < kept.grads.size(); ++i) EXPECT_EQ(kept.grads[i], recomputed.grads[i]) << "gradient " << i;
  // The normalized values, [1, 3, 100] floats, are no longer kept; the statistics, 3 x 2 doubles, are.
  EXPECT_EQ(kept.kept_bytes - recomputed.kept_bytes, 3 * 100 * 4 - 3 * 2 * 8);
}

// A write into a recomputable tensor drops its Recomputation: a saver then keeps the written values themselves.
TEST(SavedActivation, AWriteIntoABatchNormOutputDropsItsRecomputation) {
  namespace F = nn::functional;
  Tensor w = ones({3});
  w.requires_grad_();
  const Tensor x = randn({4, 3, 2, 2});
  Tensor y = F::batch_norm(x, Tensor(), Tensor(), w, Tensor(), /*training=*/true);
  EXPECT_TRUE(SavedActivation(y, SavedUse::Values).is_recomputed());
  const std::vector<float> values = y.to_vector<float>();
  EXPECT_EQ(SavedActivation(y, SavedUse::Values).unpack().to_vector<float>(), values) << "recomputed bit for bit";
  fill_(y, 0.5);
  const SavedActivation after(y, SavedUse::Values);
  EXPECT_FALSE(after.is_recomputed());
  for (float v : after.unpack().to_vector<float>()) EXPECT_EQ(v, 0.5f);
  set_recompute_saved_activations(false);
  EXPECT_FALSE(SavedActivation(F::batch_norm(x, Tensor(), Tensor(), w, Tensor(), true), SavedUse::Values)
                   .is_recomputed())
      << "recomputation turned off";
  set_recompute_saved_activations(true);
  EXPECT_FALSE(SavedActivation(F::batch_norm(x, Tensor(), Tensor(), ones({3}), Tensor(), true), SavedUse::Values)
                   .is_recomputed())
      << "nothing to differentiate: nothing recorded";
}

}  // namespace gan::testing
