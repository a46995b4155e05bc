// Helpers shared by the convolution parity tests (test_conv_parity.cpp: strict FP32 and FP64;
// test_conv_tf32_parity.cpp and test_conv_bf16_parity.cpp: the tensor-core paths): shapes, the CUDA entry points,
// device buffers with host copies, NaN-filled outputs, the planner's SM count, the plan and arithmetic a call
// launched, element-wise error bounds and the DCGAN-64 layer cases.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"
#include "kernels/conv.h"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/runtime.h"
#include "kernels/math_mode.h"

namespace gan::testing::conv_test {

namespace kcuda = kernels::cuda;
using kernels::Conv2dShape;

inline Conv2dShape make(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                        int64_t s, int64_t p) {
  Conv2dShape c;
  c.N = N, c.Cin = Cin, c.H = H, c.W = W, c.Cout = Cout, c.kh = kh, c.kw = kw;
  c.stride_h = c.stride_w = s, c.pad_h = c.pad_w = p;
  c.Ho = (H + 2 * p - kh) / s + 1, c.Wo = (W + 2 * p - kw) / s + 1;
  return c;
}

// Per-axis stride, padding and dilation, and groups; Ho and Wo from the formula.
inline Conv2dShape make_ext(int64_t N, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int64_t kh, int64_t kw,
                            int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups) {
  Conv2dShape c = make(N, Cin, H, W, Cout, kh, kw, 1, 0);
  c.stride_h = sh, c.stride_w = sw, c.pad_h = ph, c.pad_w = pw, c.dil_h = dh, c.dil_w = dw, c.groups = groups;
  c.Ho = kernels::conv_out_size(H, kh, sh, ph, dh), c.Wo = kernels::conv_out_size(W, kw, sw, pw, dw);
  return c;
}

inline std::string str(const Conv2dShape& s) {
  return "x [" + std::to_string(s.N) + ", " + std::to_string(s.Cin) + ", " + std::to_string(s.H) + ", " +
         std::to_string(s.W) + "], w [" + std::to_string(s.Cout) + ", " + std::to_string(s.Cin) + ", " +
         std::to_string(s.kh) + ", " + std::to_string(s.kw) + "], stride " + std::to_string(s.stride_h) + "x" +
         std::to_string(s.stride_w) + ", padding " + std::to_string(s.pad_h) + "x" + std::to_string(s.pad_w) +
         ", dilation " + std::to_string(s.dil_h) + "x" + std::to_string(s.dil_w) + ", groups " +
         std::to_string(s.groups) + " -> " + std::to_string(s.Ho) + "x" + std::to_string(s.Wo);
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
inline DType dtype_of() {
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

// Makes the planner plan for `sms` SMs while it lives (kernels/cuda/runtime.h), then restores the device's count.
class PlannerSmCount {
 public:
  explicit PlannerSmCount(int sms) { kcuda::set_planner_sm_count(sms); }
  ~PlannerSmCount() { kcuda::set_planner_sm_count(0); }
  PlannerSmCount(const PlannerSmCount&) = delete;
  PlannerSmCount& operator=(const PlannerSmCount&) = delete;
};

// "<family>/<tile>/<split>" for the kernels one call launched, read from the launch counters: the GEMM kernel's
// tile configuration, and whether the split-K reduction ran; for the gather kernel also "/tap" or "/channel", the
// order its K loop visits k in (KOrder in kernels/cuda/conv.cu: tap-major when the channel count is a multiple of
// the tile's K step), for the weight kernel "/one-tap" or "/per-column", how its loads check bounds (SharedTap:
// one tap per step when kh kw divides the distance between a thread's columns).
inline std::string plan_launched(const char* family) {
  std::string tile = "?", order;
  bool split = false;
  for (const kcuda::KernelLaunches& k : kcuda::launch_counts()) {
    const std::string& n = k.kernel;
    if (n.rfind(std::string(family) + "_gemm_kernel<", 0) == 0) {
      for (const auto& [cfg, name] : {std::pair{"TileCfg<128, 128,", "Big"}, std::pair{"TileCfg<64, 128,", "Wide"},
                                      std::pair{"TileCfg<64, 64,", "Mid"}, std::pair{"TileCfg<16, 128,", "Thin"}})
        if (n.find(cfg) != std::string::npos) tile = name;
      if (n.find("KOrder::TapMajor") != std::string::npos) order = "/tap";
      if (n.find("KOrder::ChannelMajor") != std::string::npos) order = "/channel";
      if (std::string(family) == "weight") order = n.find(", true>") != std::string::npos ? "/one-tap" : "/per-column";
    }
    if (n.rfind(std::string(family) + "_reduce_kernel<", 0) == 0) split = true;
  }
  return std::string(family) + "/" + tile + "/" + (split ? "split" : "whole") + order;
}

// Fails naming every one of the 32 plans missing from `seen`: each GEMM kernel's four tiles, whole or split-K, in
// both of its load variants (plan_launched).
inline void expect_every_plan(const std::set<std::string>& seen) {
  for (const char* family : {"gather", "weight"})
    for (const char* tile : {"Big", "Wide", "Mid", "Thin"})
      for (const char* split : {"whole", "split"}) {
        const bool gather = std::string(family) == "gather";
        for (const char* variant : {gather ? "/tap" : "/one-tap", gather ? "/channel" : "/per-column"}) {
          const std::string plan = std::string(family) + "/" + tile + "/" + split + variant;
          EXPECT_TRUE(seen.count(plan)) << plan << " never ran";
        }
      }
}

// The arithmetic policy of the GEMM kernel of `family` ("gather" or "weight") that a call launched, read from the
// launch counters: "MmaMath" (TF32 tensor cores), "BfMath" (BF16 tensor cores), "SimtMath" (FP32/FP64 FMAs), or
// "none" when no such kernel ran.
inline std::string math_launched(const char* family) {
  for (const kcuda::KernelLaunches& k : kcuda::launch_counts())
    if (k.kernel.rfind(std::string(family) + "_gemm_kernel<", 0) == 0) {
      for (const char* policy : {"MmaMath", "BfMath", "SimtMath"})
        if (k.kernel.find(policy) != std::string::npos) return policy;
      return "?";
    }
  return "none";
}

// Whether that kernel ran on TF32 tensor cores (the MmaMath policy) rather than SIMT FMAs.
inline bool tensor_cores_launched(const char* family) { return math_launched(family) == "MmaMath"; }

// Host values as doubles, or their magnitudes.
inline std::vector<double> to_double(const std::vector<float>& v, bool absolute) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = absolute ? std::fabs(double(v[i])) : double(v[i]);
  return out;
}

// The per-element bias of an NCHW output with C channels of `plane` pixels each (zeros without a bias).
inline std::vector<double> bias_map(const std::vector<float>* bias, int64_t N, int64_t C, int64_t plane) {
  std::vector<double> out(static_cast<size_t>(N * C * plane), 0.0);
  if (bias == nullptr) return out;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      std::fill_n(out.begin() + (n * C + c) * plane, plane, double((*bias)[c]));
  return out;
}

// The bf16 value next to the bf16 value g, upward or downward (g finite).
inline double bf16_next(float g, bool up) {
  if (g == 0.0f) return up ? std::ldexp(1.0, -133) : -std::ldexp(1.0, -133);
  uint32_t u;
  std::memcpy(&u, &g, 4);
  const bool away_from_zero = up == !(u >> 31);
  u = away_from_zero ? u + 0x10000u : u - 0x10000u;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// How far ref lies outside the values that round to the bf16 value g (the cell between the midpoints to its
// neighbours): 0 inside it.
inline double distance_to_bf16_cell(float g, double ref) {
  const double down = (double(g) + bf16_next(g, false)) / 2, up = (double(g) + bf16_next(g, true)) / 2;
  return ref < down ? down - ref : ref > up ? ref - up : 0.0;
}

// Checks `got` against `ref` element by element: |got - ref| <= rel S + abs_rel (|ref| + |bias|), with S (sum
// |a b| of the element's reduction) and bias per element. With `bf16_output` (the BF16 mode's outputs are rounded
// to bf16, kernels/conv.h), got must instead be a bf16 value that some value within that bound of ref rounds to:
// the error compared with the bound is ref's distance to got's rounding cell, so the bound keeps its tightness and
// the output rounding adds exactly its own error, no more. `bound` names the bound in the message; the largest
// error / bound seen is kept in *worst when given (also on success, for reporting how tight a bound is).
inline ::testing::AssertionResult within_bound(const std::vector<double>& got, const std::vector<double>& ref,
                                               const std::vector<double>& S, const std::vector<double>& bias,
                                               double rel, double abs_rel, int64_t K, const std::string& what,
                                               const char* bound, double* worst = nullptr, bool bf16_output = false) {
  double largest = 0;  // the largest error / bound
  size_t worst_at = 0, bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i]))
      return ::testing::AssertionFailure() << what << ": output " << i << " is " << got[i] << " (unwritten?)";
    const double limit = rel * S[i] + abs_rel * (std::fabs(ref[i]) + std::fabs(bias[i]));
    double ratio;
    if (bf16_output) {
      const float g = static_cast<float>(got[i]);
      if (double(kernels::bf16_round(g)) != got[i])
        return ::testing::AssertionFailure() << what << ": output " << i << " = " << got[i] << " is not a bf16 value";
      ratio = distance_to_bf16_cell(g, ref[i]) / std::max(limit, 1e-300);
    } else {
      ratio = std::fabs(got[i] - ref[i]) / std::max(limit, 1e-300);
    }
    if (ratio > 1) ++bad;
    if (ratio > largest) largest = ratio, worst_at = i;
  }
  if (worst) *worst = std::max(*worst, largest);
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << got.size() << " outputs exceed the "
                                       << bound << " bound; worst at " << worst_at << ": got " << got[worst_at]
                                       << ", reference " << ref[worst_at] << ", sum|ab| " << S[worst_at] << ", K "
                                       << K << ", error / bound " << largest;
}

// The shapes the tensor-core parity suites check every pass of: odd channel counts and spatial sizes, kernel 1-5
// with kh != kw, stride 1-3, padding, dilation, groups and depthwise, per-axis stride/padding/dilation, and a conv
// output shorter than its formula.
inline std::vector<Conv2dShape> odd_shapes() {
  Conv2dShape shorter = make_ext(2, 4, 8, 7, 6, 2, 3, 1, 1, 0, 1, 2, 2, 2);
  shorter.Ho -= 1, shorter.Wo -= 1;
  return {
      make(1, 1, 1, 1, 1, 1, 1, 1, 0),
      make(1, 3, 5, 7, 2, 5, 5, 1, 2),
      make(3, 5, 9, 7, 4, 1, 1, 3, 0),                        // stride larger than the kernel
      make(2, 7, 11, 6, 5, 2, 5, 3, 2),                       // kh != kw, stride 3
      make(1, 129, 6, 6, 130, 3, 3, 1, 1),                    // channels one past a tile multiple
      make(2, 65, 5, 5, 17, 3, 2, 2, 0),                      // M just past the thin tile
      make(4, 3, 13, 13, 70, 4, 4, 2, 1),                     // odd size with the DCGAN kernel
      make_ext(2, 3, 9, 8, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1),     // dilation 2
      make_ext(1, 2, 11, 9, 5, 3, 2, 2, 1, 0, 2, 1, 3, 1),    // per-axis stride, padding, dilation
      make_ext(2, 8, 10, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8),    // depthwise
      make_ext(2, 6, 9, 10, 12, 5, 3, 2, 3, 2, 1, 2, 1, 6),   // depthwise, multiplier 2, mixed axes
      make_ext(1, 64, 9, 9, 96, 3, 3, 3, 2, 1, 1, 2, 3, 2),   // stride 3 x 2, dilation 2 x 3, two groups
      make_ext(1, 256, 4, 4, 64, 3, 3, 1, 1, 1, 1, 2, 2, 2),  // long reductions: split-K
      shorter,
  };
}

// Small shapes that, planned for 1, 2, 4, 8, 16 and 1024 SMs (kPlannerSmCounts), run every tile shape (128x128,
// 64x128, 64x64, 16x128) and the split-K path of both tensor-core GEMM kernels, each in both load variants: all 32
// plans (expect_every_plan).
inline std::vector<Conv2dShape> every_plan_shapes() {
  return {
      make(4, 32, 8, 8, 1, 3, 3, 1, 1),                        // forward / weight M = 1: thin; R 256
      make(2, 8, 8, 8, 64, 3, 3, 1, 1),                        // backward data M = 8: thin; K 576
      make(2, 32, 8, 8, 40, 3, 3, 1, 1),                       // M = 40: 64x64 and 64x128
      make(2, 72, 8, 8, 72, 3, 3, 1, 1),                       // M = 72: 128x128; K 648
      make_ext(4, 64, 8, 8, 144, 3, 3, 1, 1, 1, 1, 1, 1, 2),   // two groups of 72 (grid y) with split-K
      // The gather kernel's plans in the K order the shapes above leave out (tap-major when the channel count is a
      // multiple of 16): 128x128 whole in channel order (K 216), 64x128 and 64x64 whole in tap order (K 144),
      // 16x128 in channel order whole (K 216) and split (K 360).
      make(2, 24, 8, 8, 72, 3, 3, 1, 1),
      make(2, 16, 8, 8, 40, 3, 3, 1, 1),
      make(4, 24, 8, 8, 1, 3, 3, 1, 1),
      make(4, 40, 8, 8, 1, 3, 3, 1, 1),
      // The weight kernel with one tap per step (a 1x1 kernel): the first five shapes' plans again.
      make(4, 32, 8, 8, 1, 1, 1, 1, 0),
      make(2, 8, 8, 8, 64, 1, 1, 1, 0),
      make(2, 32, 8, 8, 40, 1, 1, 1, 0),
      make(2, 72, 8, 8, 72, 1, 1, 1, 0),
      make_ext(4, 64, 8, 8, 144, 1, 1, 1, 1, 0, 0, 1, 1, 2),
      make(2, 16, 8, 8, 1, 1, 1, 1, 0),  // 16x128 whole (R 128)
  };
}
inline constexpr int kPlannerSmCounts[] = {1, 2, 4, 8, 16, 1024};

// The passes a tensor-core parity check runs (a bit set).
enum Passes : int { kForward = 1, kBackwardData = 2, kBackwardWeight = 4, kAllPasses = 7 };

// DCGAN-64 layers (ngf = ndf = 64, nz = 100) at batch 64, one case per layer and pass (the emulator takes seconds
// per pass): the discriminator's convs, whose backward-data passes are the generator's transposed convs. The
// 64->128 and 256->512 layers have the FLOPs of 128->256 and differ only in their M, N, K split; they are left out
// to keep CI's emulator stage short.
struct Dcgan64Case {
  std::string name;  // layer and pass, e.g. "D128to256_bwd_weight"
  Conv2dShape shape;
  int pass;
};

inline void PrintTo(const Dcgan64Case& c, std::ostream* os) { *os << c.name << ": " << str(c.shape); }

inline std::vector<Dcgan64Case> dcgan64_cases() {
  const std::pair<const char*, Conv2dShape> layers[] = {
      {"D3to64", make(64, 3, 64, 64, 64, 4, 4, 2, 1)},          // 64x64 -> 32x32
      {"D128to256", make(64, 128, 16, 16, 256, 4, 4, 2, 1)},    // 16x16 -> 8x8
      {"D512to1", make(64, 512, 4, 4, 1, 4, 4, 1, 0)},          // 4x4 -> 1x1
      {"G100to512", make(64, 512, 4, 4, 100, 4, 4, 1, 0)},      // 1x1 -> 4x4 (transposed)
  };
  const std::pair<const char*, int> passes[] = {
      {"fwd", kForward}, {"bwd_data", kBackwardData}, {"bwd_weight", kBackwardWeight}};
  std::vector<Dcgan64Case> cases;
  for (const auto& [layer, shape] : layers)
    for (const auto& [pass, bit] : passes) cases.push_back({std::string(layer) + "_" + pass, shape, bit});
  return cases;
}

inline std::string dcgan64_case_name(const ::testing::TestParamInfo<Dcgan64Case>& info) { return info.param.name; }

}  // namespace gan::testing::conv_test
