// The CUDA convolution kernels (kernels/cuda/conv.cu) against the CPU ones (kernels/cpu/conv.cpp), kernel by
// kernel: forward, backward-data and backward-weight on every DCGAN-64 layer at batch 2 and on random and edge
// shapes (odd sizes, stride 1-3, padding 0-2, kernel 1-5 with kh != kw, batch 1, channel counts that are not
// multiples of any tile, a stride larger than the kernel), with dilation, groups (depthwise too), per-axis
// stride and padding, and a conv output shorter than its formula (a transposed conv whose output_padding reaches
// the stride), and every tile shape and split-K path with the planner told how many SMs to plan for. Every output
// starts as NaN (0xFF bytes) and must come
// back finite, so an element the kernel never writes fails; float32 must agree to a relative error of 1e-5
// (||gpu - cpu|| / ||cpu||), float64 to 1e-12. The weight gradient, whose reduction is split across blocks, must
// also be bitwise identical from run to run. The engine's ops are checked on CUDA tensors at the end.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/nn/functional.h"
#include "conv_test_util.h"
#include "gpu_test_util.h"
#include "kernels/conv.h"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/runtime.h"

namespace gan::testing {
namespace {

namespace kcpu = kernels::cpu;
using namespace conv_test;  // kcuda, Conv2dShape and the shared helpers

template <typename T>
::testing::AssertionResult matches(const Tensor& gpu, const std::vector<T>& cpu, const std::string& what) {
  const std::vector<double> g = gpu.to_vector<double>();
  std::vector<double> c(cpu.begin(), cpu.end());
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (!std::isfinite(g[i]) && bad++ == 0) first = i;
  if (bad > 0)
    return ::testing::AssertionFailure() << what << ": " << bad << " of " << g.size()
                                         << " outputs not finite (unwritten?), first at " << first;
  const double err = relative_error(g, c);
  if (err <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": relative error " << err << " > " << tol;
}

// All three kernels on one shape (bias on the forward and backward-data calls when with_bias), each against the
// CPU; the weight gradient twice, bitwise equal. With `plans`, the plan each kernel ran is added to it.
template <typename T>
void check_shape(const Conv2dShape& s, bool with_bias, std::mt19937& rng, std::set<std::string>* plans = nullptr) {
  // Records the plan of the kernel `run` launches.
  const auto record = [plans](const char* family, auto run) {
    kcuda::reset_launch_counts();
    run();
    if (plans) plans->insert(plan_launched(family));
  };
  SCOPED_TRACE(str(s) + (with_bias ? ", bias" : "") + (sizeof(T) == 4 ? ", float32" : ", float64"));
  const int64_t nx = s.N * s.Cin * s.H * s.W, nw = s.Cout * (s.Cin / s.groups) * s.kh * s.kw;
  const int64_t ny = s.N * s.Cout * s.Ho * s.Wo;
  const Buffer<T> x = random_buffer<T>(nx, rng), w = random_buffer<T>(nw, rng), gy = random_buffer<T>(ny, rng);
  const Buffer<T> b_out = random_buffer<T>(s.Cout, rng), b_in = random_buffer<T>(s.Cin, rng);

  {
    std::vector<T> ref(static_cast<size_t>(ny));
    kcpu::conv2d_forward<T>(s, x.host.data(), w.host.data(), with_bias ? b_out.host.data() : nullptr, ref.data());
    Tensor y = nan_output<T>(ny);
    record("gather",
           [&] { CudaConv<T>::forward(s, x.ptr(), w.ptr(), with_bias ? b_out.ptr() : nullptr, y.data<T>()); });
    EXPECT_TRUE(matches(y, ref, "conv2d_forward"));
  }
  {
    std::vector<T> ref(static_cast<size_t>(nx));
    kcpu::conv2d_backward_data<T>(s, gy.host.data(), w.host.data(), with_bias ? b_in.host.data() : nullptr,
                                  ref.data());
    Tensor gx = nan_output<T>(nx);
    record("gather",
           [&] { CudaConv<T>::backward_data(s, gy.ptr(), w.ptr(), with_bias ? b_in.ptr() : nullptr, gx.data<T>()); });
    EXPECT_TRUE(matches(gx, ref, "conv2d_backward_data"));
  }
  {
    std::vector<T> ref(static_cast<size_t>(nw));
    kcpu::conv2d_backward_weight<T>(s, x.host.data(), gy.host.data(), ref.data());
    Tensor gw = nan_output<T>(nw), gw2 = nan_output<T>(nw);
    record("weight", [&] { CudaConv<T>::backward_weight(s, x.ptr(), gy.ptr(), gw.data<T>()); });
    CudaConv<T>::backward_weight(s, x.ptr(), gy.ptr(), gw2.data<T>());
    EXPECT_TRUE(matches(gw, ref, "conv2d_backward_weight"));
    const std::vector<T> a = gw.to_vector<T>(), b = gw2.to_vector<T>();
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(T)))
        << "conv2d_backward_weight differs between two runs on the same inputs";
  }
}

class ConvParity : public CudaTest {};

// Every conv of DCGAN-64 (ngf = ndf = 64, nz = 100) at batch 2, in the conv's view: the discriminator's convs, and
// the generator's transposed convs as the convs they are adjoint to (their forward is backward-data here).
TEST_F(ConvParity, Dcgan64LayersFloat32) {
  std::mt19937 rng(64);
  const Conv2dShape layers[] = {
      make(2, 3, 64, 64, 64, 4, 4, 2, 1),     // D 3->64 (and G 64->3 transposed)
      make(2, 64, 32, 32, 128, 4, 4, 2, 1),   // D 64->128 (G 128->64)
      make(2, 128, 16, 16, 256, 4, 4, 2, 1),  // D 128->256 (G 256->128)
      make(2, 256, 8, 8, 512, 4, 4, 2, 1),    // D 256->512 (G 512->256)
      make(2, 512, 4, 4, 1, 4, 4, 1, 0),      // D 512->1, 4x4 -> 1x1
      make(2, 512, 4, 4, 100, 4, 4, 1, 0),    // G 100->512, 1x1 -> 4x4 (transposed)
  };
  for (const Conv2dShape& s : layers) check_shape<float>(s, false, rng);
}

TEST_F(ConvParity, EdgeShapesFloat32) {
  std::mt19937 rng(7);
  const Conv2dShape edges[] = {
      make(1, 1, 1, 1, 1, 1, 1, 1, 0),        // everything 1
      make(1, 3, 5, 7, 2, 5, 5, 1, 2),        // kernel 5 with padding 2 on an odd image
      make(1, 2, 4, 4, 3, 4, 4, 1, 0),        // kernel covers the whole image: 1x1 output
      make(3, 5, 9, 7, 4, 1, 1, 3, 0),        // stride larger than the kernel: most input pixels get bias only
      make(2, 4, 10, 10, 6, 3, 3, 2, 1),      // (H + 2p - k) % s != 0: the last rows get no tap
      make(2, 7, 11, 6, 5, 2, 5, 3, 2),       // kh != kw, stride 3
      make(1, 129, 6, 6, 130, 3, 3, 1, 1),    // channels one past a tile multiple
      make(2, 65, 5, 5, 17, 3, 2, 2, 0),      // M just past the thin tile
      make(1, 16, 3, 3, 16, 3, 3, 1, 1),      // exactly the thin tile
      make(4, 3, 13, 13, 70, 4, 4, 2, 1),     // odd size with the DCGAN kernel
  };
  for (const Conv2dShape& s : edges) {
    check_shape<float>(s, true, rng);
    check_shape<float>(s, false, rng);
  }
}

TEST_F(ConvParity, RandomShapesFloat32) {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> u(0, 1 << 20);
  for (int it = 0; it < 60; ++it) {
    const int64_t k = 1 + u(rng) % 5, kw = u(rng) % 4 == 0 ? 1 + u(rng) % 5 : k;
    const int64_t s = 1 + u(rng) % 3, p = u(rng) % 3;
    const int64_t H = std::max<int64_t>(k - 2 * p, 1) + u(rng) % 12;
    const int64_t W = std::max<int64_t>(kw - 2 * p, 1) + u(rng) % 12;
    const int64_t N = 1 + u(rng) % 3, Cin = 1 + u(rng) % 70, Cout = 1 + u(rng) % (u(rng) % 2 ? 20 : 200);
    check_shape<float>(make(N, Cin, H, W, Cout, k, kw, s, p), it % 2 == 0, rng);
  }
}

TEST_F(ConvParity, ShapesFloat64) {
  std::mt19937 rng(11);
  const Conv2dShape shapes[] = {
      make(2, 64, 8, 8, 128, 4, 4, 2, 1),
      make(2, 512, 4, 4, 1, 4, 4, 1, 0),
      make(3, 5, 9, 7, 4, 1, 1, 3, 0),
      make(2, 7, 11, 6, 5, 2, 5, 3, 2),
      make(1, 129, 6, 6, 130, 3, 3, 1, 1),
  };
  for (const Conv2dShape& s : shapes) check_shape<double>(s, true, rng);
}

// Dilation, groups, depthwise, per-axis stride and padding, with per-group M from thin to wide and long reductions
// (split-K) at the device's own SM count; EveryTileShapeAndSplitKPathWithGroupsAndDilation below makes sure every
// one of the 32 plans runs with groups and dilation.
TEST_F(ConvParity, DilationGroupsPerAxisFloat32) {
  std::mt19937 rng(15);
  const Conv2dShape shapes[] = {
      make_ext(2, 3, 9, 8, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1),        // dilation 2, "same" padding
      make_ext(1, 2, 11, 9, 5, 3, 2, 2, 1, 0, 2, 1, 3, 1),       // per-axis stride, padding, dilation; kh != kw
      make_ext(2, 4, 7, 7, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2),        // two groups, stride 2
      make_ext(2, 8, 10, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8),       // depthwise
      make_ext(2, 6, 9, 10, 12, 5, 3, 2, 3, 2, 1, 2, 1, 6),      // depthwise, multiplier 2, mixed axes
      make_ext(1, 64, 9, 9, 96, 3, 3, 3, 2, 1, 1, 2, 3, 2),      // stride 3 x 2 with dilation 2 x 3: phases whose
                                                                 // taps skip (gcd(3, 2) = 1, gcd(2, 3) = 1)
      make_ext(2, 8, 12, 12, 8, 3, 3, 2, 2, 2, 2, 2, 2, 4),      // stride 2 with dilation 2: gcd 2, half the
                                                                 // phases get no tap
      make_ext(1, 256, 4, 4, 64, 3, 3, 1, 1, 1, 1, 2, 2, 2),     // split-K on forward/backward data (K = 1152)
      make_ext(8, 8, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 4),     // split-K on the weight gradient (R = 8192)
      make_ext(2, 256, 8, 8, 512, 3, 3, 1, 1, 1, 1, 1, 1, 2),    // big/wide tiles per group
      make_ext(3, 5, 9, 7, 5, 1, 1, 3, 2, 0, 0, 1, 1, 5),        // 1x1 depthwise, stride larger than the kernel
  };
  for (const Conv2dShape& s : shapes) {
    check_shape<float>(s, true, rng);
    check_shape<float>(s, false, rng);
  }
}

TEST_F(ConvParity, RandomDilationGroupsFloat32) {
  std::mt19937 rng(4242);
  std::uniform_int_distribution<int> u(0, 1 << 20);
  for (int it = 0; it < 60; ++it) {
    const int64_t groups = u(rng) % 3 == 0 ? 1 : 1 + u(rng) % 6;
    const int64_t Cin = groups * (u(rng) % 4 == 0 ? 1 : 1 + u(rng) % 12);
    const int64_t Cout = groups * (1 + u(rng) % (u(rng) % 2 ? 8 : 40));
    const int64_t kh = 1 + u(rng) % 4, kw = 1 + u(rng) % 4, sh = 1 + u(rng) % 3, sw = 1 + u(rng) % 3;
    const int64_t ph = u(rng) % 3, pw = u(rng) % 3, dh = 1 + u(rng) % 3, dw = 1 + u(rng) % 3;
    const int64_t H = std::max<int64_t>(dh * (kh - 1) + 1 - 2 * ph, 1) + u(rng) % 10;
    const int64_t W = std::max<int64_t>(dw * (kw - 1) + 1 - 2 * pw, 1) + u(rng) % 10;
    check_shape<float>(make_ext(1 + u(rng) % 3, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, dh, dw, groups), it % 2 == 0,
                       rng);
  }
}

TEST_F(ConvParity, DilationGroupsFloat64) {
  std::mt19937 rng(16);
  const Conv2dShape shapes[] = {
      make_ext(2, 6, 9, 10, 12, 5, 3, 2, 3, 2, 1, 2, 1, 6),
      make_ext(1, 64, 9, 9, 96, 3, 3, 3, 2, 1, 1, 2, 3, 2),
      make_ext(1, 256, 4, 4, 64, 3, 3, 1, 1, 1, 1, 2, 2, 2),
  };
  for (const Conv2dShape& s : shapes) check_shape<double>(s, true, rng);
}

// A conv output one row and column shorter than the formula's: the shape of a transposed conv whose
// output_padding (1) reaches its stride (1) but stays below its dilation (2). All three kernels must leave the
// missing rows out, as the CPU does.
TEST_F(ConvParity, OutputShorterThanTheFormula) {
  std::mt19937 rng(17);
  for (int64_t groups : {int64_t{1}, int64_t{2}}) {
    Conv2dShape s = make_ext(2, 4, 8, 7, 6, 2, 3, 1, 1, 0, 1, 2, 2, groups);
    s.Ho -= 1, s.Wo -= 1;
    check_shape<float>(s, true, rng);
  }
}

// The engine's ops on CUDA tensors (GAN_KERNEL picks the CUDA twin) against the same ops on the CPU, including a
// transposed conv with output_padding.
TEST_F(ConvParity, EngineOpsOnCudaTensors) {
  namespace F = nn::functional;
  Generator gen(5);
  const Tensor x = randn({2, 6, 9, 9}, DType::Float32, &gen), w = randn({8, 6, 4, 4}, DType::Float32, &gen);
  const Tensor b = randn({8}, DType::Float32, &gen);
  const F::Conv2dArgs args{2, 1, 0};
  const Tensor y_cpu = F::conv2d(x, w, b, args);
  const Tensor y_gpu = F::conv2d(x.to(Device::cuda(0)), w.to(Device::cuda(0)), b.to(Device::cuda(0)), args);
  EXPECT_TRUE(parity(y_gpu, y_cpu, "conv2d"));

  const Tensor xt = randn({2, 8, 4, 4}, DType::Float32, &gen), bt = randn({6}, DType::Float32, &gen);
  const F::Conv2dArgs targs{2, 1, 1};  // output 9x9 from 4x4: output_padding 1
  const Tensor wt = randn({8, 6, 4, 4}, DType::Float32, &gen);
  const Tensor t_cpu = F::conv_transpose2d(xt, wt, bt, targs);
  const Tensor t_gpu =
      F::conv_transpose2d(xt.to(Device::cuda(0)), wt.to(Device::cuda(0)), bt.to(Device::cuda(0)), targs);
  EXPECT_TRUE(parity(t_gpu, t_cpu, "conv_transpose2d"));

  const Tensor g = randn(y_cpu.shape(), DType::Float32, &gen);
  const Tensor gw_cpu = F::conv2d_weight_grad(x, g, 4, 4, args);
  const Tensor gw_gpu = F::conv2d_weight_grad(x.to(Device::cuda(0)), g.to(Device::cuda(0)), 4, 4, args);
  EXPECT_TRUE(parity(gw_gpu, gw_cpu, "conv2d_weight_grad"));

  // Grouped and dilated, per-axis: the three ops through the engine.
  const F::Conv2dArgs gargs{.stride = {2, 1}, .padding = {1, 2}, .dilation = {1, 2}, .groups = 3};
  const Tensor wg = randn({6, 2, 3, 3}, DType::Float32, &gen);
  const Tensor yg_cpu = F::conv2d(x, wg, Tensor(), gargs);
  EXPECT_TRUE(parity(F::conv2d(x.to(Device::cuda(0)), wg.to(Device::cuda(0)), Tensor(), gargs), yg_cpu,
                     "grouped conv2d"));
  const F::Conv2dArgs targs2{.stride = 2, .padding = 1, .output_padding = {1, 0}, .groups = 2};
  const Tensor wt2 = randn({8, 3, 3, 3}, DType::Float32, &gen);
  EXPECT_TRUE(parity(F::conv_transpose2d(xt.to(Device::cuda(0)), wt2.to(Device::cuda(0)), Tensor(), targs2),
                     F::conv_transpose2d(xt, wt2, Tensor(), targs2), "grouped conv_transpose2d"));
  const Tensor gg = randn(yg_cpu.shape(), DType::Float32, &gen);
  EXPECT_TRUE(parity(F::conv2d_weight_grad(x.to(Device::cuda(0)), gg.to(Device::cuda(0)), 3, 3, gargs),
                     F::conv2d_weight_grad(x, gg, 3, 3, gargs), "grouped conv2d_weight_grad"));
}

// ---- every tile shape and split-K path ----

// check_shape (float32, with bias) with the planner told there are `sms` SMs, adding the plans that ran to `seen`.
void check_planned(const Conv2dShape& s, int sms, std::set<std::string>& seen, std::mt19937& rng) {
  const PlannerSmCount planner(sms);
  SCOPED_TRACE("planned for " + std::to_string(sms) + " SMs");
  check_shape<float>(s, true, rng, &seen);
}

// The convolution has four tile shapes and a split-K path for each of its two GEMM kernels (gather: forward and
// backward data; weight: backward weight). Which one runs depends on the shape and the GPU's SM count, and the
// shapes a test can afford on a small GPU (or the emulator at 132 SMs) mostly get the 64x64 tile with split-K. With
// the planner told there are 1 or 2 SMs, small shapes get every plan, including the 128x128 and 64x128 tiles that
// DCGAN-64 gets at batch 128 on a 132-SM GPU; each must still match the CPU, and all 32 (expect_every_plan) must
// have run.
TEST_F(ConvParity, EveryTileShapeAndSplitKPath) {
  struct Case {
    Conv2dShape shape;
    int sms;
  };
  const Case cases[] = {
      {make(1, 3, 5, 5, 1, 1, 1, 1, 0), 1},     {make(1, 3, 5, 5, 17, 1, 1, 1, 0), 1},
      {make(1, 3, 5, 5, 17, 1, 1, 1, 0), 2},    {make(2, 3, 8, 8, 1, 1, 1, 1, 0), 1},
      {make(1, 129, 5, 5, 1, 1, 1, 1, 0), 1},   {make(1, 3, 5, 5, 65, 1, 1, 1, 0), 1},
      {make(2, 3, 8, 8, 17, 1, 1, 1, 0), 1},    {make(2, 3, 8, 8, 17, 1, 1, 1, 0), 2},
      {make(2, 3, 8, 8, 65, 1, 1, 1, 0), 1},    {make(1, 5, 5, 5, 17, 5, 5, 2, 2), 1},
      {make(1, 5, 5, 5, 17, 5, 5, 2, 2), 2},    {make(1, 5, 5, 5, 65, 5, 5, 2, 2), 1},
      // The same with 8 or 136 input channels: the forward's K loop in the tap-major order.
      {make(1, 8, 5, 5, 1, 1, 1, 1, 0), 1},     {make(1, 8, 5, 5, 17, 1, 1, 1, 0), 1},
      {make(1, 8, 5, 5, 17, 1, 1, 1, 0), 2},    {make(2, 8, 8, 8, 1, 1, 1, 1, 0), 1},
      {make(1, 136, 5, 5, 1, 1, 1, 1, 0), 1},   {make(1, 8, 5, 5, 65, 1, 1, 1, 0), 1},
      {make(2, 8, 8, 8, 17, 1, 1, 1, 0), 1},    {make(2, 8, 8, 8, 17, 1, 1, 1, 0), 2},
      {make(2, 8, 8, 8, 65, 1, 1, 1, 0), 1},    {make(1, 8, 5, 5, 17, 5, 5, 2, 2), 1},
      {make(1, 8, 5, 5, 17, 5, 5, 2, 2), 2},    {make(1, 8, 5, 5, 65, 5, 5, 2, 2), 1},
      // 3x3 kernels over a longer reduction: the weight kernel's per-column loads, split (R 128) and whole (R 25).
      {make(2, 3, 8, 8, 1, 3, 3, 1, 1), 1},     {make(1, 3, 5, 5, 1, 3, 3, 1, 1), 1},
      {make(2, 3, 8, 8, 65, 3, 3, 1, 1), 1},    {make(2, 3, 8, 8, 17, 3, 3, 1, 1), 1},
      {make(2, 3, 8, 8, 17, 3, 3, 1, 1), 2},
  };
  std::mt19937 rng(3);
  std::set<std::string> seen;
  for (const Case& c : cases) check_planned(c.shape, c.sms, seen, rng);
  expect_every_plan(seen);
}

// The same 32 plans with groups, dilation and per-axis stride and padding (the group index on the grid's y, the
// stride phases with dilated taps, the per-group split-K workspace). Each shape runs under a sweep of SM counts:
// one SM gives the largest tile a group's M allows without split-K (two groups already fill it), a count equal to
// the tile count gives that tile with split-K, and a count beyond every tile count gives the 64x64 tile.
TEST_F(ConvParity, EveryTileShapeAndSplitKPathWithGroupsAndDilation) {
  const Conv2dShape shapes[] = {
      // og 8, cg 16 (thin); forward K 144, weight R 2 x 7 x 16 = 224: long enough to split.
      make_ext(2, 32, 16, 16, 16, 3, 3, 2, 1, 1, 2, 2, 1, 2),
      // og = cg = 32 (wide); stride phases 2 x 1 whose dilated taps differ in count.
      make_ext(2, 64, 16, 12, 64, 3, 3, 2, 1, 1, 2, 2, 1, 2),
      // og = cg = 72 (big); per-axis everything the other way round.
      make_ext(3, 144, 8, 12, 144, 3, 3, 1, 2, 2, 1, 1, 2, 2),
      // og = cg = 20 with reductions too short to split (forward K 60, weight R 28): the whole 64x64 tile.
      make_ext(1, 40, 6, 7, 40, 3, 1, 1, 1, 1, 0, 2, 1, 2),
      // depthwise, stride 2 x 1 with dilation 1 x 2.
      make_ext(2, 8, 16, 16, 8, 3, 3, 2, 1, 1, 1, 1, 2, 8),
      // The K order the shapes above leave out for some plans (tap-major when a group's channel count is a
      // multiple of 8): channel order with og = cg = 68 (big), 36 (wide), cg 18 and og 8 (thin); tap order with
      // og = cg = 24 and short reductions (the whole 64x64 tile).
      make_ext(3, 136, 8, 12, 136, 3, 3, 1, 2, 2, 1, 1, 2, 2),
      make_ext(2, 72, 16, 12, 72, 3, 3, 2, 1, 1, 2, 2, 1, 2),
      make_ext(2, 36, 16, 16, 16, 3, 3, 2, 1, 1, 2, 2, 1, 2),
      make_ext(1, 48, 6, 7, 48, 3, 1, 1, 1, 1, 0, 2, 1, 2),
      // 2x2 kernels (dilated): the weight kernel with one tap per step, under groups and dilation.
      make_ext(2, 32, 16, 16, 16, 2, 2, 2, 1, 1, 1, 2, 1, 2),
      make_ext(2, 64, 16, 12, 64, 2, 2, 2, 1, 1, 1, 2, 1, 2),
      make_ext(3, 144, 8, 12, 144, 2, 2, 1, 2, 1, 1, 1, 2, 2),
      make_ext(1, 40, 6, 7, 40, 2, 2, 1, 1, 1, 0, 2, 1, 2),
  };
  std::mt19937 rng(5);
  std::set<std::string> seen;
  for (const Conv2dShape& s : shapes)
    for (int sms : {1, 2, 4, 6, 8, 12, 16, 24, 1024}) check_planned(s, sms, seen, rng);
  expect_every_plan(seen);
}

}  // namespace
}  // namespace gan::testing
