// The TF32 tensor-core convolution (kernels/cuda/conv.cu, MmaMath: mma.sync m16n8k8 with cvt.rna-rounded operands
// and FP32 accumulation) against an FP64 CPU reference, element by element, within a bound derived from TF32's
// precision and the reduction length; and the math-mode switch choosing the kernels (TF32 for float when on, SIMT
// when off and for doubles).
//
// The bound, for an output c = sum_k a_k b_k over K terms (a conv output, a data gradient or a weight gradient):
//   - each operand is rounded to TF32 (cvt.rna: 10 explicit mantissa bits, round to nearest): relative error at
//     most 2^-11 each, so each product a'_k b'_k = a_k b_k (1 + e_k) with |e_k| <= 2 * 2^-11 + 2^-22;
//   - the products of TF32 values are exact in FP32 and accumulate in FP32 (in the mma, across K steps, and across
//     split-K slices): at most K additions, each adding at most 2^-23 of a partial sum whose magnitude is at most
//     S = sum_k |a_k b_k| (2^-23 rather than the 2^-24 of round-to-nearest: the tensor core's internal additions
//     are not specified to round to nearest);
//   - the epilogue's bias addition and the final rounding: 2^-23 (|c| + |bias|).
// So |gpu - exact| <= (2^-10 + 2^-22 + K 2^-23) S + 2^-23 (|c| + |bias|), with S computed per element by the CPU
// convolution of |a| and |b| in double. A wrong fragment layout, a missing tile or a missing split-K slice gives
// errors of the order of |c| and fails; TF32 rounding itself (about 2^-11 S on average) passes, which a strict FP32
// tolerance (1e-5 relative) would not.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <random>
#include <set>
#include <utility>
#include <string>
#include <vector>

#include "conv_test_util.h"
#include "gpu_test_util.h"
#include "kernels/conv.h"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/runtime.h"

namespace gan::testing {
namespace {

namespace kcpu = kernels::cpu;
using namespace conv_test;  // kcuda, Conv2dShape and the shared helpers

// Checks `gpu` against `exact` element by element with the bound above. K: the reduction length; S: sum |a b|
// per element; bias: per element (0 without).
::testing::AssertionResult within_tf32_bound(const Tensor& gpu, const std::vector<double>& exact,
                                             const std::vector<double>& S, const std::vector<double>& bias,
                                             int64_t K, const std::string& what) {
  const double rel = std::ldexp(1.0, -10) + std::ldexp(1.0, -22) + double(K) * std::ldexp(1.0, -23);
  return within_bound(gpu.to_vector<double>(), exact, S, bias, rel, std::ldexp(1.0, -23), K, what, "TF32");
}

// The passes of one shape in the TF32 mode (all three by default), each within the bound; with `rerun`, the weight
// gradient twice, bitwise equal (split-K stays deterministic); each pass must have run on tensor cores. With
// `plans`, the plan each kernel ran is added to it.
void check_tf32(const Conv2dShape& s, bool with_bias, std::mt19937& rng, std::set<std::string>* plans = nullptr,
                bool rerun = true, int passes = kAllPasses) {
  const Tf32Scope mode(true);
  SCOPED_TRACE(str(s) + (with_bias ? ", bias" : "") + ", tf32");
  const auto record = [plans](const char* family, auto run) {
    kcuda::reset_launch_counts();
    run();
    EXPECT_TRUE(tensor_cores_launched(family)) << family << " did not run on tensor cores";
    if (plans) plans->insert(plan_launched(family));
  };
  const int64_t nx = s.N * s.Cin * s.H * s.W, nw = s.Cout * (s.Cin / s.groups) * s.kh * s.kw;
  const int64_t ny = s.N * s.Cout * s.Ho * s.Wo;
  const Buffer<float> x = random_buffer<float>(nx, rng), w = random_buffer<float>(nw, rng);
  const Buffer<float> gy = random_buffer<float>(ny, rng);
  const Buffer<float> b_out = random_buffer<float>(s.Cout, rng), b_in = random_buffer<float>(s.Cin, rng);
  const std::vector<double> xd = to_double(x.host, false), wd = to_double(w.host, false);
  const std::vector<double> gyd = to_double(gy.host, false);
  const std::vector<double> xa = to_double(x.host, true), wa = to_double(w.host, true);
  const std::vector<double> gya = to_double(gy.host, true);
  const int64_t cg = s.Cin / s.groups, og = s.Cout / s.groups;

  if (passes & kForward) {
    std::vector<double> exact(static_cast<size_t>(ny)), S(exact.size());
    const std::vector<double> bias = bias_map(with_bias ? &b_out.host : nullptr, s.N, s.Cout, s.Ho * s.Wo);
    kcpu::conv2d_forward<double>(s, xd.data(), wd.data(), nullptr, exact.data());
    kcpu::conv2d_forward<double>(s, xa.data(), wa.data(), nullptr, S.data());
    for (size_t i = 0; i < exact.size(); ++i) exact[i] += bias[i];
    Tensor y = nan_output<float>(ny);
    record("gather", [&] {
      CudaConv<float>::forward(s, x.ptr(), w.ptr(), with_bias ? b_out.ptr() : nullptr, y.data<float>());
    });
    EXPECT_TRUE(within_tf32_bound(y, exact, S, bias, cg * s.kh * s.kw, "conv2d_forward"));
  }
  if (passes & kBackwardData) {
    std::vector<double> exact(static_cast<size_t>(nx)), S(exact.size());
    const std::vector<double> bias = bias_map(with_bias ? &b_in.host : nullptr, s.N, s.Cin, s.H * s.W);
    kcpu::conv2d_backward_data<double>(s, gyd.data(), wd.data(), nullptr, exact.data());
    kcpu::conv2d_backward_data<double>(s, gya.data(), wa.data(), nullptr, S.data());
    for (size_t i = 0; i < exact.size(); ++i) exact[i] += bias[i];
    Tensor gx = nan_output<float>(nx);
    record("gather", [&] {
      CudaConv<float>::backward_data(s, gy.ptr(), w.ptr(), with_bias ? b_in.ptr() : nullptr, gx.data<float>());
    });
    EXPECT_TRUE(within_tf32_bound(gx, exact, S, bias, og * s.kh * s.kw, "conv2d_backward_data"));
  }
  if (passes & kBackwardWeight) {
    std::vector<double> exact(static_cast<size_t>(nw)), S(exact.size());
    kcpu::conv2d_backward_weight<double>(s, xd.data(), gyd.data(), exact.data());
    kcpu::conv2d_backward_weight<double>(s, xa.data(), gya.data(), S.data());
    Tensor gw = nan_output<float>(nw), gw2 = rerun ? nan_output<float>(nw) : Tensor();
    record("weight", [&] { CudaConv<float>::backward_weight(s, x.ptr(), gy.ptr(), gw.data<float>()); });
    EXPECT_TRUE(within_tf32_bound(gw, exact, S, std::vector<double>(exact.size(), 0.0), s.N * s.Ho * s.Wo,
                                  "conv2d_backward_weight"));
    if (rerun) {
      CudaConv<float>::backward_weight(s, x.ptr(), gy.ptr(), gw2.data<float>());
      const std::vector<float> a = gw.to_vector<float>(), b = gw2.to_vector<float>();
      EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
          << "conv2d_backward_weight differs between two runs on the same inputs";
    }
  }
}

// The DCGAN-64 layers at batch 64 (conv_test_util.h), each pass on tensor cores within the bound, planned for the
// emulated device's own 132 SMs.
class ConvTf32Dcgan64 : public CudaParamTest<Dcgan64Case> {};

TEST_P(ConvTf32Dcgan64, Batch64) {
  std::mt19937 rng(64);
  // Determinism is checked on the smaller shapes below.
  check_tf32(GetParam().shape, false, rng, nullptr, /*rerun=*/false, GetParam().pass);
}

INSTANTIATE_TEST_SUITE_P(Layers, ConvTf32Dcgan64, ::testing::ValuesIn(dcgan64_cases()), dcgan64_case_name);

class ConvTf32Parity : public CudaTest {};

// Odd channel counts and spatial sizes, strides, padding, dilation, groups (conv_test_util.h: odd_shapes).
TEST_F(ConvTf32Parity, OddShapesDilationAndGroups) {
  std::mt19937 rng(9);
  for (const Conv2dShape& s : odd_shapes()) {
    check_tf32(s, true, rng);
    check_tf32(s, false, rng);
  }
}

// Every tile shape (128x128, 64x128, 64x64, 16x128) and the split-K path of both GEMM kernels in the TF32 mode,
// with the planner told 1 to 1024 SMs so that small shapes get every plan; all 32 (both load variants of each
// kernel) must run and pass.
TEST_F(ConvTf32Parity, EveryTileShapeAndSplitKPath) {
  std::mt19937 rng(5);
  std::set<std::string> seen;
  for (const Conv2dShape& s : every_plan_shapes())
    for (int sms : kPlannerSmCounts) {
      const PlannerSmCount planner(sms);
      SCOPED_TRACE("planned for " + std::to_string(sms) + " SMs");
      check_tf32(s, true, rng, &seen);
    }
  expect_every_plan(seen);
}

// The switch: float32 runs on tensor cores in the TF32 mode and on the SIMT kernels in strict FP32 (then at FP32's
// 1e-5, as the strict parity suite checks everywhere); float64 always runs strict, TF32 mode or not.
TEST_F(ConvTf32Parity, MathModeChoosesTheKernels) {
  const Conv2dShape s = make(2, 16, 9, 9, 24, 3, 3, 1, 1);
  std::mt19937 rng(1);
  const int64_t nx = s.N * s.Cin * s.H * s.W, nw = s.Cout * s.Cin * s.kh * s.kw, ny = s.N * s.Cout * s.Ho * s.Wo;
  const Buffer<float> xf = random_buffer<float>(nx, rng), wf = random_buffer<float>(nw, rng);
  const Buffer<double> xd = random_buffer<double>(nx, rng), wd = random_buffer<double>(nw, rng);
  std::vector<float> ref(static_cast<size_t>(ny));
  kcpu::conv2d_forward<float>(s, xf.host.data(), wf.host.data(), nullptr, ref.data());
  std::vector<double> y_tf32, y_fp32;
  for (const bool tf32 : {true, false}) {
    const Tf32Scope mode(tf32);
    Tensor y = nan_output<float>(ny);
    kcuda::reset_launch_counts();
    CudaConv<float>::forward(s, xf.ptr(), wf.ptr(), nullptr, y.data<float>());
    EXPECT_EQ(tensor_cores_launched("gather"), tf32) << "float32, tf32 " << tf32;
    (tf32 ? y_tf32 : y_fp32) = y.to_vector<double>();
    Tensor yd = nan_output<double>(ny);
    kcuda::reset_launch_counts();
    CudaConv<double>::forward(s, xd.ptr(), wd.ptr(), nullptr, yd.data<double>());
    EXPECT_FALSE(tensor_cores_launched("gather")) << "float64 ran on tensor cores, tf32 " << tf32;
  }
  EXPECT_LE(relative_error(y_fp32, std::vector<double>(ref.begin(), ref.end())), 1e-5);
  EXPECT_NE(y_tf32, y_fp32) << "the TF32 mode gave the strict FP32 result: no TF32 rounding happened";
}

// ---- GAN_TF32: read once per process, so each case runs in a child that re-executes this binary ----

// In the child: sets GAN_TF32 (unsets it for nullptr), then prints the math mode the first query sees.
[[noreturn]] void report_math_mode(const char* value) {
  if (value)
    setenv("GAN_TF32", value, 1);
  else
    unsetenv("GAN_TF32");
  std::fprintf(stderr, "tf32=%d\n", kcuda::tf32_enabled() ? 1 : 0);
  std::exit(0);
}

TEST(ConvTf32MathMode, GanTf32ZeroSelectsStrictFp32AndTf32IsTheDefault) {
  GAN_REQUIRE_CUDA();  // a build without CUDA has no math mode (always strict)
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(report_math_mode(nullptr), ::testing::ExitedWithCode(0), "tf32=1");
  EXPECT_EXIT(report_math_mode("0"), ::testing::ExitedWithCode(0), "tf32=0");
  EXPECT_EXIT(report_math_mode("1"), ::testing::ExitedWithCode(0), "tf32=1");
}

}  // namespace
}  // namespace gan::testing
