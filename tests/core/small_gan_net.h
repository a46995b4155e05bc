// A small DCGAN-shaped generator and critic (16x16 images) built from the functional ops the zoo uses: transposed
// convs, batch norm with and without a fused activation, relu, leaky_relu, tanh and strided convs; and the check
// that saving its activations as bf16 (engine/saved_activation.h) changes no gradient. Shared by the
// saved-activation tests on the CPU (tests/core) and on CUDA (tests/gpu).
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/autograd.h"
#include "engine/nn/functional.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "engine/saved_activation.h"
#include "engine/storage.h"
#include "engine/tensor.h"
#include "kernels/cuda/allocator.h"
#include "kernels/math_mode.h"

namespace gan::testing {

struct SmallGanNet {
  Tensor g1, g_bn_w, g_bn_b, g2;           // generator: z [N, 8, 4, 4] -> [N, 3, 16, 16]
  Tensor d1, d2, d_bn_w, d_bn_b, d3, d3b;  // critic: [N, 3, 16, 16] -> [N, 1, 1, 1]

  static SmallGanNet make(Device device, uint64_t seed) {
    Generator gen(seed);
    const auto param = [&](const Shape& shape, double scale, double mean = 0.0) {
      Tensor t = randn(shape, DType::Float32, &gen, mean, scale, device);
      t.requires_grad_();
      return t;
    };
    SmallGanNet n;
    n.g1 = param({8, 6, 4, 4}, 0.3);
    n.g_bn_w = param({6}, 0.1, 1.0);
    n.g_bn_b = param({6}, 0.1);
    n.g2 = param({6, 3, 4, 4}, 0.3);
    n.d1 = param({6, 3, 4, 4}, 0.3);
    n.d2 = param({8, 6, 4, 4}, 0.3);
    n.d_bn_w = param({8}, 0.1, 1.0);
    n.d_bn_b = param({8}, 0.1);
    n.d3 = param({1, 8, 4, 4}, 0.3);
    n.d3b = param({1}, 0.1);
    return n;
  }

  std::vector<Tensor> params() const { return {g1, g_bn_w, g_bn_b, g2, d1, d2, d_bn_w, d_bn_b, d3, d3b}; }

  Tensor generator(const Tensor& z) const {
    namespace F = nn::functional;
    const F::Conv2dArgs up{.stride = 2, .padding = 1};
    Tensor h = F::conv_transpose2d(z, g1, Tensor(), up);                          // [N, 6, 8, 8]
    h = relu(F::batch_norm(h, Tensor(), Tensor(), g_bn_w, g_bn_b, /*training=*/true));
    return tanh(F::conv_transpose2d(h, g2, Tensor(), up));                        // [N, 3, 16, 16]
  }

  Tensor critic(const Tensor& x) const {
    namespace F = nn::functional;
    const F::Conv2dArgs down{.stride = 2, .padding = 1};
    Tensor h = leaky_relu(F::conv2d(x, d1, Tensor(), down), 0.2);                // [N, 6, 8, 8]
    h = F::batch_norm(F::conv2d(h, d2, Tensor(), down), Tensor(), Tensor(), d_bn_w, d_bn_b, /*training=*/true, 0.1,
                      1e-5, {F::Activation::LeakyReLU, 0.2});                     // [N, 8, 4, 4]
    return F::conv2d(h, d3, d3b);                                                  // [N, 1, 1, 1]
  }
};

// One generator + critic step's gradients (first order), and the bytes the graph kept alive after the forward.
struct StepResult {
  std::vector<std::vector<float>> grads;
  int64_t graph_bytes = 0;
};

// Tensor bytes in use on `device`: the host's storages, or the caching allocator's blocks handed out.
inline int64_t bytes_in_use(Device device) {
  if (device.is_cpu()) return host_memory_stats().allocated_bytes;
  return static_cast<int64_t>(kernels::cuda::allocator_stats(device.index).allocated_bytes);
}

inline StepResult first_order_step(const SmallGanNet& net, Device device) {
  for (const Tensor& p : net.params()) p.set_grad(Tensor());
  Generator gen(7);
  const Tensor z = randn({5, 8, 4, 4}, DType::Float32, &gen, 0.0, 1.0, device);
  const Tensor weights = randn({5, 1, 1, 1}, DType::Float32, &gen, 0.0, 1.0, device);
  StepResult r;
  const int64_t before = bytes_in_use(device);
  Tensor loss = sum(mul(net.critic(net.generator(z)), weights));
  r.graph_bytes = bytes_in_use(device) - before;
  loss.backward();
  for (const Tensor& p : net.params()) r.grads.push_back(p.grad().to_vector<float>());
  return r;
}

// The critic's gradient penalty (WGAN-GP): its gradient w.r.t. every critic parameter, through a double backward.
inline std::vector<std::vector<float>> penalty_grads(const SmallGanNet& net, Device device) {
  Generator gen(11);
  Tensor x_hat = randn({4, 3, 16, 16}, DType::Float32, &gen, 0.0, 1.0, device);
  x_hat.requires_grad_();
  const Tensor scores = net.critic(x_hat);
  const Tensor g = gan::grad({sum(scores)}, {x_hat}, {}, /*create_graph=*/true)[0];
  const Tensor penalty = sum(pow(g, 2.0));
  const std::vector<Tensor> critic = {net.d1, net.d2, net.d_bn_w, net.d_bn_b, net.d3};
  std::vector<std::vector<float>> out;
  for (const Tensor& t : gan::grad({penalty}, critic)) out.push_back(t.to_vector<float>());
  return out;
}

// Runs the step with packing on and off in the bf16 mode on `device`: the gradients must be bit-identical and the
// packed graph must keep fewer bytes.
inline void expect_packing_changes_no_gradient(Device device) {
  const SmallGanNet net = SmallGanNet::make(device, 3);
  const kernels::ScopedFloatMath mode(kernels::FloatMath::Bf16);
  set_pack_saved_activations(false);
  const StepResult plain = first_order_step(net, device);
  const auto plain_penalty = penalty_grads(net, device);
  set_pack_saved_activations(true);
  const StepResult packed = first_order_step(net, device);
  const auto packed_penalty = penalty_grads(net, device);
  ASSERT_EQ(plain.grads.size(), packed.grads.size());
  for (size_t i = 0; i < plain.grads.size(); ++i)
    EXPECT_EQ(0, std::memcmp(plain.grads[i].data(), packed.grads[i].data(), plain.grads[i].size() * 4))
        << "gradient of parameter " << i << " changed when the activations were saved as bf16";
  ASSERT_EQ(plain_penalty.size(), packed_penalty.size());
  for (size_t i = 0; i < plain_penalty.size(); ++i)
    EXPECT_EQ(0, std::memcmp(plain_penalty[i].data(), packed_penalty[i].data(), plain_penalty[i].size() * 4))
        << "gradient-penalty gradient of critic parameter " << i << " changed (double backward)";
  std::printf("[ saved    ] bytes the graph keeps after the forward on %s: %lld float32, %lld bf16-packed (%.2fx)\n",
              device.str().c_str(), static_cast<long long>(plain.graph_bytes),
              static_cast<long long>(packed.graph_bytes), double(packed.graph_bytes) / double(plain.graph_bytes));
  // Every saved activation but tanh's output (read as 1 - y^2, not packed) and the small per-channel statistics
  // halves: well under 3/4 (the GPU's allocator rounds each block up to 512 bytes, which these small tensors feel).
  EXPECT_LT(double(packed.graph_bytes), 0.75 * double(plain.graph_bytes));
}

}  // namespace gan::testing
