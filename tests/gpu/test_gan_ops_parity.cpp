// CUDA-vs-CPU parity of the GAN-field ops beyond their op-table rows (which every op also has, in
// tests/gradcheck/op_table_gan.cpp, run by test_op_parity.cpp): the resampling kernels on random odd shapes, strided
// inputs and every mode, in float and double; spectral norm as a layer (power iteration and gradients on the
// device); AdamW and parameter groups through the fused multi-tensor kernels, which must match the CPU bit for bit.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/nn/functional.h"
#include "engine/nn/layers.h"
#include "engine/nn/spectral_norm.h"
#include "engine/optim/optimizers.h"
#include "gpu_test_util.h"
#include "models/common.h"

namespace gan::testing {
namespace {

namespace F = gan::nn::functional;

class GanOpsParity : public CudaTest {};

// y = op(x) and d<v, y>/dx on both devices, from the same x (viewed through `view`, so the device sees a strided
// input) and the same v.
using TensorMap = std::function<Tensor(const Tensor&)>;
void check_map(const std::string& what, const Shape& shape, DType dtype, const TensorMap& view, const TensorMap& op,
               double tol) {
  Generator g(static_cast<uint64_t>(std::hash<std::string>{}(what)));
  const Tensor base = rand(shape, dtype, &g, -1.0, 1.0);
  Tensor outs[2], grads[2];
  for (int d = 0; d < 2; ++d) {
    Tensor x = base.to(d == 0 ? Device::cpu() : Device::cuda(0)).detach();
    x.requires_grad_(true);
    outs[d] = op(view(x));
    Generator vg(7);
    const Tensor v = randn(outs[d].shape(), dtype, &vg).to(x.device());
    grads[d] = grad({outs[d]}, {x}, {v})[0];
  }
  EXPECT_EQ(outs[1].device(), Device::cuda(0)) << what;
  EXPECT_TRUE(parity(outs[1], outs[0], what + " output", tol));
  EXPECT_TRUE(parity(grads[1], grads[0], what + " input gradient", tol));
}

void check_resampling(DType dtype, double tol) {
  using M = F::InterpolateMode;
  const auto plain = [](const Tensor& x) { return x; };
  const auto transposed = [](const Tensor& x) { return transpose(x, 2, 3); };  // a strided [N, C, W, H] view
  struct Case {
    std::string name;
    Shape shape;
    std::function<Tensor(const Tensor&)> op;
  };
  const std::vector<Case> cases = {
      {"nearest x2", {3, 5, 7, 9}, [](const Tensor& x) { return F::upsample_nearest(x, 2.0); }},
      {"nearest size 13x5", {2, 3, 7, 9}, [](const Tensor& x) { return F::interpolate(x, {.size = {13, 5}}); }},
      {"nearest scale 1.7x0.45", {2, 3, 11, 9},
       [](const Tensor& x) { return F::interpolate(x, {.scale_factor = {1.7, 0.45}}); }},
      {"bilinear x2", {3, 5, 7, 9}, [](const Tensor& x) { return F::upsample_bilinear(x, 2.0); }},
      {"bilinear align 15x4", {2, 3, 7, 9},
       [](const Tensor& x) {
         return F::interpolate(x, {.size = {15, 4}, .mode = M::Bilinear, .align_corners = true});
       }},
      {"bilinear scale 2.3x0.6", {1, 4, 9, 11},
       [](const Tensor& x) { return F::interpolate(x, {.scale_factor = {2.3, 0.6}, .mode = M::Bilinear}); }},
      {"avg_pool k3 s2 p1 ceil", {3, 5, 11, 7},
       [](const Tensor& x) {
         return F::avg_pool2d(x, {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true,
                                  .count_include_pad = false});
       }},
      {"avg_pool k(4,3) s(3,1) p(2,1)", {2, 3, 13, 8},
       [](const Tensor& x) { return F::avg_pool2d(x, {.kernel_size = {4, 3}, .stride = {3, 1}, .padding = {2, 1}}); }},
      {"avg_pool k2 divisor 3", {4, 3, 9, 9},
       [](const Tensor& x) { return F::avg_pool2d(x, {.kernel_size = {2, 2}, .divisor_override = 3}); }},
  };
  for (const Case& c : cases) {
    check_map(c.name, c.shape, dtype, plain, c.op, tol);
    check_map(c.name + " (strided input)", c.shape, dtype, transposed, c.op, tol);
  }
}

TEST_F(GanOpsParity, ResamplingFloatMatchesCpu) { check_resampling(DType::Float32, 1e-6); }
TEST_F(GanOpsParity, ResamplingDoubleMatchesCpu) { check_resampling(DType::Float64, 1e-14); }

TEST_F(GanOpsParity, InstanceNormAndPenaltyMatchCpu) {
  check_map("instance_norm", {3, 4, 7, 5}, DType::Float32, [](const Tensor& x) { return x; },
            [](const Tensor& x) { return F::instance_norm(x); }, 1e-5);
  // R1 through a conv critic: the penalty's input gradient is a third-order chain on the device.
  Generator g(3);
  const Tensor w0 = randn({4, 2, 3, 3}, DType::Float32, &g, 0.0, 0.3);
  check_map("squared_gradient_penalty conv critic", {3, 2, 6, 5}, DType::Float32, [](const Tensor& x) { return x; },
            [&](const Tensor& x) {
              const Tensor w = w0.to(x.device());
              const Tensor scores = sum(tanh(F::conv2d(x, w)), {1, 2, 3});
              return reshape(F::squared_gradient_penalty(scores, x, 10.0), {1});
            },
            1e-5);
}

// Spectral norm as a layer on each device: the power iteration (u, v), the output and the gradients.
TEST_F(GanOpsParity, SpectralNormLayerMatchesCpu) {
  Generator g(5);
  auto make = [&] {
    Generator init(9);
    auto conv = std::make_shared<nn::Conv2d>(3, 6, 3, 2, 1);
    conv->load_state_dict({{"weight", randn({6, 3, 3, 3}, DType::Float32, &init, 0.0, 0.2)},
                           {"bias", randn({6}, DType::Float32, &init, 0.0, 0.2)}});
    Generator uv(11);
    return nn::spectral_norm(conv, "weight", {.n_power_iterations = 2, .gen = &uv});
  };
  auto cpu = make(), gpu = make();
  models::module_to(*gpu, Device::cuda(0));
  const Tensor x = randn({2, 3, 9, 7}, DType::Float32, &g);
  const Tensor v = randn({2, 6, 5, 4}, DType::Float32, &g);
  for (int step = 0; step < 3; ++step) {
    const std::string at = " (forward " + std::to_string(step) + ")";
    const Tensor yc = cpu->forward(x), yg = gpu->forward(x.to(Device::cuda(0)));
    EXPECT_TRUE(parity(yg, yc, "spectral-norm conv output" + at));
    sum(yc * v).backward();
    sum(yg * v.to(Device::cuda(0))).backward();
  }
  for (const auto& [name, t] : cpu->state_dict()) {
    const Tensor tg = [&]() -> Tensor {  // by value: state_dict() returns a temporary
      for (const auto& [n2, t2] : gpu->state_dict())
        if (n2 == name) return t2;
      throw std::logic_error("no " + name);
    }();
    EXPECT_EQ(tg.device(), Device::cuda(0)) << name;
    EXPECT_TRUE(parity(tg, t, name + " after three training forwards"));
  }
  EXPECT_TRUE(parity(gpu->weight.grad(), cpu->weight.grad(), "gradient of parametrizations.weight.original"));
  EXPECT_TRUE(parity(gpu->bias.grad(), cpu->bias.grad(), "bias gradient"));
}

// The fused optimizer kernels with AdamW and per-group settings: parameters of odd sizes, across a chunk
// boundary and misaligned (a view at offset 1), split into groups; three steps must match the CPU bit for bit.
TEST_F(GanOpsParity, AdamWAndGroupedOptimizersMatchCpuBitForBit) {
  const std::vector<int64_t> sizes = {1, 7, 8193, 20001};
  struct Side {
    Tensor storage;  // the misaligned parameter's base
    std::vector<Tensor> ps;
  };
  auto make = [&](const Device& d) {
    Side s;
    Generator g(21);
    for (int64_t n : sizes) {
      Tensor p = rand({n}, DType::Float32, &g, -1.0, 1.0).to(d).detach();
      p.requires_grad_(true);
      s.ps.push_back(p);
    }
    s.storage = rand({1 + 999}, DType::Float32, &g, -1.0, 1.0).to(d).detach();
    Tensor view = narrow(s.storage, 0, 1, 999).detach();  // 4 bytes past a 16-byte boundary
    view.requires_grad_(true);
    s.ps.push_back(view);
    return s;
  };
  auto set_grads = [&](Side& s, int step) {
    Generator g(100 + static_cast<uint64_t>(step));
    for (Tensor& p : s.ps) p.set_grad(rand(p.shape(), DType::Float32, &g, -1.0, 1.0).to(p.device()));
  };
  auto groups_of = [](const Side& s) {
    return std::pair{optim::NamedTensors{{"p0", s.ps[0]}, {"p2", s.ps[2]}, {"p4", s.ps[4]}},
                     optim::NamedTensors{{"p1", s.ps[1]}, {"p3", s.ps[3]}}};
  };
  using Make = std::function<std::unique_ptr<optim::Optimizer>(const Side&)>;
  const std::vector<std::pair<std::string, Make>> optimizers = {
      {"AdamW",
       [&](const Side& s) {
         const auto [a, b] = groups_of(s);
         return std::make_unique<optim::AdamW>(std::vector<optim::ParamGroup<optim::AdamWOptions>>{
             {a, {.lr = 1e-2, .beta1 = 0.8, .weight_decay = 0.1}}, {b, {.lr = 3e-3, .beta2 = 0.9, .eps = 1e-6}}});
       }},
      {"Adam groups",
       [&](const Side& s) {
         const auto [a, b] = groups_of(s);
         return std::make_unique<optim::Adam>(std::vector<optim::ParamGroup<optim::AdamOptions>>{
             {a, {.lr = 1e-2, .beta1 = 0.5}}, {b, {.lr = 1e-3, .weight_decay = 0.01}}});
       }},
      {"SGD groups",
       [&](const Side& s) {
         const auto [a, b] = groups_of(s);
         return std::make_unique<optim::SGD>(std::vector<optim::ParamGroup<optim::SGDOptions>>{
             {a, {.lr = 0.1, .momentum = 0.9, .nesterov = true}}, {b, {.lr = 0.05, .weight_decay = 0.01}}});
       }},
      {"RMSprop groups",
       [&](const Side& s) {
         const auto [a, b] = groups_of(s);
         return std::make_unique<optim::RMSprop>(std::vector<optim::ParamGroup<optim::RMSpropOptions>>{
             {a, {.lr = 1e-2, .momentum = 0.5, .centered = true}}, {b, {.lr = 3e-3, .alpha = 0.9}}});
       }},
  };
  for (const auto& [name, make_opt] : optimizers) {
    Side cpu = make(Device::cpu()), gpu = make(Device::cuda(0));
    auto oc = make_opt(cpu), og = make_opt(gpu);
    for (int step = 0; step < 3; ++step) {
      set_grads(cpu, step);
      set_grads(gpu, step);
      oc->step();
      og->step();
    }
    for (size_t i = 0; i < cpu.ps.size(); ++i)
      EXPECT_EQ(gpu.ps[i].to_vector<float>(), cpu.ps[i].to_vector<float>()) << name << ": parameter " << i;
    for (const auto& [key, t] : oc->state()) {
      bool found = false;
      for (const auto& [k2, t2] : og->state())
        if (k2 == key) {
          found = true;
          if (is_floating(t.dtype())) {
            EXPECT_EQ(t2.to_vector<double>(), t.to_vector<double>()) << name << ": " << key;
          }
        }
      EXPECT_TRUE(found) << name << ": state entry " << key << " missing on the GPU";
    }
  }
}

}  // namespace
}  // namespace gan::testing
