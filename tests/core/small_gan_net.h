// A small DCGAN-shaped generator and critic (16x16 images) built from the functional ops the zoo uses: transposed
// convs, batch norm with and without a fused activation, relu, leaky_relu, tanh and strided convs; and the check
// that saving its activations as bf16 or recomputing them (engine/saved_activation.h) changes no gradient. Shared
// by the saved-activation tests on the CPU (tests/core) and on CUDA (tests/gpu).
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <utility>
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

// Runs the step and the penalty with `saving` off, then on, in `mode` on `device`: the gradients must be
// bit-identical. Returns the bytes the graph kept after the forward, off and on.
inline std::pair<int64_t, int64_t> expect_same_gradients(Device device, kernels::FloatMath mode_value,
                                                        void (*saving)(bool), const char* what) {
  const SmallGanNet net = SmallGanNet::make(device, 3);
  const kernels::ScopedFloatMath mode(mode_value);
  saving(false);
  const StepResult plain = first_order_step(net, device);
  const auto plain_penalty = penalty_grads(net, device);
  saving(true);
  const StepResult saved = first_order_step(net, device);
  const auto saved_penalty = penalty_grads(net, device);
  EXPECT_EQ(plain.grads.size(), saved.grads.size());
  for (size_t i = 0; i < plain.grads.size() && i < saved.grads.size(); ++i)
    EXPECT_EQ(0, std::memcmp(plain.grads[i].data(), saved.grads[i].data(), plain.grads[i].size() * 4))
        << "gradient of parameter " << i << " changed by " << what;
  EXPECT_EQ(plain_penalty.size(), saved_penalty.size());
  for (size_t i = 0; i < plain_penalty.size() && i < saved_penalty.size(); ++i)
    EXPECT_EQ(0, std::memcmp(plain_penalty[i].data(), saved_penalty[i].data(), plain_penalty[i].size() * 4))
        << "gradient-penalty gradient of critic parameter " << i << " changed (double backward) by " << what;
  std::printf("[ saved    ] bytes the graph keeps after the forward on %s without / with %s: %lld / %lld (%.2fx)\n",
              device.str().c_str(), what, static_cast<long long>(plain.graph_bytes),
              static_cast<long long>(saved.graph_bytes), double(saved.graph_bytes) / double(plain.graph_bytes));
  return {plain.graph_bytes, saved.graph_bytes};
}

// Packing in the bf16 mode (recomputation off, so that every activation is saved): gradients bit-identical.
inline void expect_packing_changes_no_gradient(Device device) {
  set_recompute_saved_activations(false);
  const auto [plain, packed] =
      expect_same_gradients(device, kernels::FloatMath::Bf16, set_pack_saved_activations, "bf16 packing");
  set_recompute_saved_activations(true);
  // Every saved activation but tanh's output (read as 1 - y^2, not packed) and the small per-channel statistics
  // halves: well under 3/4 (the GPU's allocator rounds each block up to 512 bytes, which these small tensors feel).
  EXPECT_LT(double(packed), 0.75 * double(plain));
}

// Recomputing batch norm's outputs in backward (engine/saved_activation.h: Recomputation), in `mode`: gradients
// bit-identical, and the graph keeps fewer bytes: the generator's batch-norm output (kept by batch norm's own node
// for its activation mask) and the critic's (also the next conv's saved input) are no longer kept.
inline void expect_recomputation_changes_no_gradient(Device device, kernels::FloatMath mode) {
  const auto [kept, recomputed] =
      expect_same_gradients(device, mode, set_recompute_saved_activations, "batch-norm recomputation");
  EXPECT_LT(recomputed, kept);
}

}  // namespace gan::testing
