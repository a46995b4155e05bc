// The CUDA convolution kernels (kernels/cuda/conv.cu) against the CPU ones (kernels/cpu/conv.cpp), kernel by
// kernel: forward, backward-data and backward-weight on every DCGAN-64 layer at batch 2 and on random and edge
// shapes (odd sizes, stride 1-3, padding 0-2, kernel 1-5 with kh != kw, batch 1, channel counts that are not
// multiples of any tile, a stride larger than the kernel), and every tile shape and split-K path with the planner
// told how many SMs to plan for. Every output starts as NaN (0xFF bytes) and must come
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
#include "gpu_test_util.h"
#include "kernels/conv.h"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/runtime.h"

namespace gan::testing {
namespace {

namespace kcpu = kernels::cpu;
namespace kcuda = kernels::cuda;
using kernels::Conv2dShape;

Conv2dShape make(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw, int64_t s,
                 int64_t p) {
  Conv2dShape c;
  c.N = N, c.Cin = Cin, c.H = H, c.W = W, c.Cout = Cout, c.kh = kh, c.kw = kw, c.stride = s, c.pad = p;
  c.Ho = (H + 2 * p - kh) / s + 1, c.Wo = (W + 2 * p - kw) / s + 1;
  return c;
}

std::string str(const Conv2dShape& s) {
  return "x [" + std::to_string(s.N) + ", " + std::to_string(s.Cin) + ", " + std::to_string(s.H) + ", " +
         std::to_string(s.W) + "], w [" + std::to_string(s.Cout) + ", " + std::to_string(s.Cin) + ", " +
         std::to_string(s.kh) + ", " + std::to_string(s.kw) + "], stride " + std::to_string(s.stride) +
         ", padding " + std::to_string(s.pad) + " -> " + std::to_string(s.Ho) + "x" + std::to_string(s.Wo);
}

// The CUDA kernels, reached only when a device is present (CudaTest skips otherwise). A build without the CUDA
// backend has no kernels::cuda definitions to link, so it gets stubs here that are never called.
template <typename T>
struct CudaConv {
#if defined(GAN_WITH_CUDA) && GAN_WITH_CUDA
  static void forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y) {
    kcuda::conv2d_forward<T>(s, x, w, b, y);
  }
  static void backward_data(const Conv2dShape& s, const T* gy, const T* w, const T* b, T* gx) {
    kcuda::conv2d_backward_data<T>(s, gy, w, b, gx);
  }
  static void backward_weight(const Conv2dShape& s, const T* x, const T* gy, T* gw) {
    kcuda::conv2d_backward_weight<T>(s, x, gy, gw);
  }
#else
  [[noreturn]] static void no_backend() { throw std::logic_error("ConvParity: no CUDA backend in this build"); }
  static void forward(const Conv2dShape&, const T*, const T*, const T*, T*) { no_backend(); }
  static void backward_data(const Conv2dShape&, const T*, const T*, const T*, T*) { no_backend(); }
  static void backward_weight(const Conv2dShape&, const T*, const T*, T*) { no_backend(); }
#endif
};

// A host array and its device copy.
template <typename T>
struct Buffer {
  std::vector<T> host;
  Tensor dev;
  T* ptr() const { return dev.data<T>(); }
};

template <typename T>
DType dtype_of() {
  return sizeof(T) == 4 ? DType::Float32 : DType::Float64;
}

template <typename T>
Buffer<T> random_buffer(int64_t n, std::mt19937& rng) {
  std::normal_distribution<double> nd;
  Buffer<T> b;
  b.host.resize(static_cast<size_t>(n));
  for (T& v : b.host) v = static_cast<T>(nd(rng));
  b.dev = empty({n}, dtype_of<T>(), Device::cuda(0));
  kcuda::memcpy_h2d(b.ptr(), b.host.data(), b.host.size() * sizeof(T));
  return b;
}

// A device output of n elements, every byte 0xFF (NaN).
template <typename T>
Tensor nan_output(int64_t n) {
  Tensor t = empty({n}, dtype_of<T>(), Device::cuda(0));
  kcuda::memset_async(t.data<T>(), 0xFF, static_cast<size_t>(n) * sizeof(T));
  return t;
}

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
// CPU; the weight gradient twice, bitwise equal.
template <typename T>
void check_shape(const Conv2dShape& s, bool with_bias, std::mt19937& rng) {
  SCOPED_TRACE(str(s) + (with_bias ? ", bias" : "") + (sizeof(T) == 4 ? ", float32" : ", float64"));
  const int64_t nx = s.N * s.Cin * s.H * s.W, nw = s.Cout * s.Cin * s.kh * s.kw, ny = s.N * s.Cout * s.Ho * s.Wo;
  const Buffer<T> x = random_buffer<T>(nx, rng), w = random_buffer<T>(nw, rng), gy = random_buffer<T>(ny, rng);
  const Buffer<T> b_out = random_buffer<T>(s.Cout, rng), b_in = random_buffer<T>(s.Cin, rng);

  {
    std::vector<T> ref(static_cast<size_t>(ny));
    kcpu::conv2d_forward<T>(s, x.host.data(), w.host.data(), with_bias ? b_out.host.data() : nullptr, ref.data());
    Tensor y = nan_output<T>(ny);
    CudaConv<T>::forward(s, x.ptr(), w.ptr(), with_bias ? b_out.ptr() : nullptr, y.data<T>());
    EXPECT_TRUE(matches(y, ref, "conv2d_forward"));
  }
  {
    std::vector<T> ref(static_cast<size_t>(nx));
    kcpu::conv2d_backward_data<T>(s, gy.host.data(), w.host.data(), with_bias ? b_in.host.data() : nullptr,
                                  ref.data());
    Tensor gx = nan_output<T>(nx);
    CudaConv<T>::backward_data(s, gy.ptr(), w.ptr(), with_bias ? b_in.ptr() : nullptr, gx.data<T>());
    EXPECT_TRUE(matches(gx, ref, "conv2d_backward_data"));
  }
  {
    std::vector<T> ref(static_cast<size_t>(nw));
    kcpu::conv2d_backward_weight<T>(s, x.host.data(), gy.host.data(), ref.data());
    Tensor gw = nan_output<T>(nw), gw2 = nan_output<T>(nw);
    CudaConv<T>::backward_weight(s, x.ptr(), gy.ptr(), gw.data<T>());
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
}

// ---- every tile shape and split-K path ----

// Makes the planner plan for `sms` SMs while it lives (kernels/cuda/runtime.h), then restores the device's count.
class PlannerSmCount {
 public:
  explicit PlannerSmCount(int sms) { kcuda::set_planner_sm_count(sms); }
  ~PlannerSmCount() { kcuda::set_planner_sm_count(0); }
  PlannerSmCount(const PlannerSmCount&) = delete;
  PlannerSmCount& operator=(const PlannerSmCount&) = delete;
};

// "<family>/<tile>/<split>" for the kernels one call launched, read from the launch counters: the GEMM kernel's
// tile configuration, and whether the split-K reduction ran.
std::string plan_launched(const char* family) {
  std::string tile = "?";
  bool split = false;
  for (const kcuda::KernelLaunches& k : kcuda::launch_counts()) {
    const std::string& n = k.kernel;
    if (n.rfind(std::string(family) + "_gemm_kernel<", 0) == 0) {
      for (const auto& [cfg, name] : {std::pair{"TileCfg<128, 128,", "Big"}, std::pair{"TileCfg<64, 128,", "Wide"},
                                      std::pair{"TileCfg<64, 64,", "Mid"}, std::pair{"TileCfg<16, 128,", "Thin"}})
        if (n.find(cfg) != std::string::npos) tile = name;
    }
    if (n.rfind(std::string(family) + "_reduce_kernel<", 0) == 0) split = true;
  }
  return std::string(family) + "/" + tile + "/" + (split ? "split" : "whole");
}

// The convolution has four tile shapes and a split-K path for each of its two GEMM kernels (gather: forward and
// backward data; weight: backward weight). Which one runs depends on the shape and the GPU's SM count, and the
// shapes a test can afford on a small GPU (or the emulator at 132 SMs) mostly get the 64x64 tile with split-K. With
// the planner told there are 1 or 2 SMs, small shapes get every plan, including the 128x128 and 64x128 tiles that
// DCGAN-64 gets at batch 128 on a 132-SM GPU; each must still match the CPU, and all 16 must have run.
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
  };
  std::mt19937 rng(3);
  std::set<std::string> seen;
  for (const Case& c : cases) {
    const PlannerSmCount planner(c.sms);
    const Conv2dShape& s = c.shape;
    SCOPED_TRACE(str(s) + ", planned for " + std::to_string(c.sms) + " SMs");
    const int64_t nx = s.N * s.Cin * s.H * s.W, nw = s.Cout * s.Cin * s.kh * s.kw, ny = s.N * s.Cout * s.Ho * s.Wo;
    const Buffer<float> x = random_buffer<float>(nx, rng), w = random_buffer<float>(nw, rng);
    const Buffer<float> gy = random_buffer<float>(ny, rng), b = random_buffer<float>(s.Cout, rng);
    const Buffer<float> b_in = random_buffer<float>(s.Cin, rng);
    std::vector<float> ref_y(ny), ref_gx(nx), ref_gw(nw);
    kcpu::conv2d_forward<float>(s, x.host.data(), w.host.data(), b.host.data(), ref_y.data());
    kcpu::conv2d_backward_data<float>(s, gy.host.data(), w.host.data(), b_in.host.data(), ref_gx.data());
    kcpu::conv2d_backward_weight<float>(s, x.host.data(), gy.host.data(), ref_gw.data());
    Tensor y = nan_output<float>(ny), gx = nan_output<float>(nx), gw = nan_output<float>(nw);
    kcuda::reset_launch_counts();
    CudaConv<float>::forward(s, x.ptr(), w.ptr(), b.ptr(), y.data<float>());
    seen.insert(plan_launched("gather"));
    kcuda::reset_launch_counts();
    CudaConv<float>::backward_data(s, gy.ptr(), w.ptr(), b_in.ptr(), gx.data<float>());
    seen.insert(plan_launched("gather"));
    kcuda::reset_launch_counts();
    CudaConv<float>::backward_weight(s, x.ptr(), gy.ptr(), gw.data<float>());
    seen.insert(plan_launched("weight"));
    EXPECT_TRUE(matches(y, ref_y, "conv2d_forward"));
    EXPECT_TRUE(matches(gx, ref_gx, "conv2d_backward_data"));
    EXPECT_TRUE(matches(gw, ref_gw, "conv2d_backward_weight"));
  }
  for (const char* family : {"gather", "weight"})
    for (const char* tile : {"Big", "Wide", "Mid", "Thin"})
      for (const char* split : {"whole", "split"}) {
        const std::string plan = std::string(family) + "/" + tile + "/" + split;
        EXPECT_TRUE(seen.count(plan)) << plan << " never ran";
      }
}

}  // namespace
}  // namespace gan::testing
