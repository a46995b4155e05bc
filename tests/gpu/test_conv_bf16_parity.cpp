// The BF16 tensor-core convolution (kernels/cuda/conv.cu, BfMath: operands rounded to bf16 by cvt.rn.bf16x2,
// mma.sync m16n8k16, FP32 accumulation) and the BF16 cuBLAS GEMM, element by element against two references,
// each within a stated bound; and the math-mode switch choosing the BF16 kernels for float (never for doubles).
//
// For an output c = sum_k a_k b_k over K terms (a conv output, a data gradient or a weight gradient), with
// S = sum_k |a_k b_k| and S' = sum_k |a'_k b'_k| (a' = bf16_round(a)) computed per element by the CPU convolution
// of the magnitudes in double:
//   (a) against the CPU bf16 twin before its output rounding (the CPU float convolution in strict FP32 of the
//       bf16_round'ed operands: what the twin in the BF16 math mode computes before rounding its output, as
//       tests/core/test_math_mode.cpp checks bit for bit). Both sides sum the same products a'_k b'_k, exact in
//       FP32, and differ only in the FP32 summation order: ours at most K 2^-23 S' (2^-23, not the 2^-24 of
//       round-to-nearest, per addition: the tensor core's internal additions are not specified to round to
//       nearest), the CPU's at most K 2^-24 S'; the bias addition rounds once on each side. So before our output
//       is rounded to bf16,
//         |ours - twin| <= 3 K 2^-24 S' + 2^-22 (|c| + |bias|).
//       A wrong operand pairing along k, a missing tile or split-K slice, or a different rounding of the operands
//       (to within the odd element) fails this bound, which is about 2^-9 / sqrt(K) of what such an error gives.
//   (b) against the exact result (the FP64 CPU convolution of the unrounded operands): each operand is rounded to
//       nearest with an 8-bit significand, a relative error of at most 2^-8 each, so each product is off by at most
//       (2 2^-8 + 2^-16) |a_k b_k|; then the FP32 accumulation as above, and the epilogue's rounding:
//         |ours - exact| <= (2^-7 + 2^-16 + K 2^-23) S + 2^-23 (|c| + |bias|)   before the output rounding.
//       (Normal operands only: a bf16 subnormal has a larger relative error; the random operands here have none.)
// Our output is then rounded to bf16 (kernels/conv.h), so each check asks that it be the bf16 rounding of some
// value within its bound (conv_test_util.h: within_bound with bf16_output): no slack beyond that rounding.
// Each test prints the worst error / bound it saw for both, so the bounds' tightness is on record.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "conv_test_util.h"
#include "gpu_test_util.h"
#include "kernels/conv.h"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/runtime.h"
#include "kernels/gemm.h"
#include "kernels/math_mode.h"

namespace gan::testing {
namespace {

namespace kcpu = kernels::cpu;
using namespace conv_test;  // kcuda, Conv2dShape and the shared helpers
using kernels::FloatMath;

// The largest error / bound seen by a test, for (a) and (b); printed at the test's end.
struct WorstRatios {
  double twin = 0, exact = 0;
  ~WorstRatios() {
    std::printf("[ bf16     ] worst error / bound: %.3g against the CPU bf16 twin, %.3g against the exact result\n",
                twin, exact);
  }
};

double bound_vs_twin(int64_t K) { return 3.0 * double(K) * std::ldexp(1.0, -24); }
double bound_vs_exact(int64_t K) {
  return std::ldexp(1.0, -7) + std::ldexp(1.0, -16) + double(K) * std::ldexp(1.0, -23);
}

// |bf16_round(v)| as doubles: the magnitudes of the operands the products are made of.
std::vector<double> rounded_magnitudes(const std::vector<float>& v) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = std::fabs(double(kernels::bf16_round(v[i])));
  return out;
}

// Compares ours (`gpu(out)`, run in the BF16 mode) with (a) and (b) for one product of K-term reductions, and
// returns ours. `cpu(a, b, bias, out)` is the CPU counterpart, called for doubles (exact, S, S') and for floats in
// the BF16 mode (the twin); `bias` is the float bias or null, `bias_values` its value per output element. With
// `family`, ours must have launched that conv GEMM family on the BF16 policy (its plan goes to `plans`); with
// `twin` false, (a) is skipped; `bf16_output`: ours rounds its output to bf16 (convolutions; not the GEMM).
template <class Cpu, class Gpu>
std::vector<double> compare_pass(const std::string& what, const char* family, int64_t K, const std::vector<float>& a,
                                 const std::vector<float>& b, const float* bias,
                                 const std::vector<double>& bias_values, Cpu&& cpu, Gpu&& gpu, WorstRatios& worst,
                                 std::set<std::string>* plans = nullptr, bool twin = true,
                                 bool bf16_output = true) {
  const size_t n = bias_values.size();
  const std::vector<double> ad = to_double(a, false), bd = to_double(b, false);
  const std::vector<double> aa = to_double(a, true), ba = to_double(b, true);
  const std::vector<double> ar = rounded_magnitudes(a), br = rounded_magnitudes(b);
  std::vector<double> exact(n), S(n), S_rounded(n);
  const double* no_bias = nullptr;
  cpu(ad.data(), bd.data(), no_bias, exact.data());
  for (size_t i = 0; i < n; ++i) exact[i] += bias_values[i];
  cpu(aa.data(), ba.data(), no_bias, S.data());
  cpu(ar.data(), br.data(), no_bias, S_rounded.data());
  std::vector<float> twin_out(n), a_rounded(a), b_rounded(b);
  for (float& v : a_rounded) v = kernels::bf16_round(v);
  for (float& v : b_rounded) v = kernels::bf16_round(v);
  {
    const kernels::ScopedFloatMath mode(FloatMath::Fp32);
    cpu(a_rounded.data(), b_rounded.data(), bias, twin_out.data());
  }
  Tensor out = nan_output<float>(static_cast<int64_t>(n));
  {
    const kernels::ScopedFloatMath mode(FloatMath::Bf16);
    kcuda::reset_launch_counts();
    gpu(out.data<float>());
    if (family) {
      EXPECT_EQ(math_launched(family), "BfMath") << what << " did not run on BF16 tensor cores";
      if (plans) plans->insert(plan_launched(family));
    }
  }
  const std::vector<double> got = out.to_vector<double>();
  if (twin) {
    EXPECT_TRUE(within_bound(got, to_double(twin_out, false), S_rounded, bias_values, bound_vs_twin(K),
                             std::ldexp(1.0, -22), K, what + " against the CPU bf16 twin", "BF16 twin",
                             &worst.twin, bf16_output));
  }
  EXPECT_TRUE(within_bound(got, exact, S, bias_values, bound_vs_exact(K), std::ldexp(1.0, -23), K,
                           what + " against the exact result", "BF16", &worst.exact, bf16_output));
  return got;
}

// The passes of one shape in the BF16 mode (all three by default), each against (a) and (b); with `rerun`, the
// weight gradient twice, bitwise equal (split-K stays deterministic). With `plans`, the plan each kernel ran is
// added to it.
void check_bf16(const Conv2dShape& s, bool with_bias, std::mt19937& rng, WorstRatios& worst,
                std::set<std::string>* plans = nullptr, bool rerun = true, int passes = kAllPasses) {
  SCOPED_TRACE(str(s) + (with_bias ? ", bias" : "") + ", bf16");
  const int64_t nx = s.N * s.Cin * s.H * s.W, nw = s.Cout * (s.Cin / s.groups) * s.kh * s.kw;
  const int64_t ny = s.N * s.Cout * s.Ho * s.Wo;
  const Buffer<float> x = random_buffer<float>(nx, rng), w = random_buffer<float>(nw, rng);
  const Buffer<float> gy = random_buffer<float>(ny, rng);
  const Buffer<float> b_out = random_buffer<float>(s.Cout, rng), b_in = random_buffer<float>(s.Cin, rng);
  const int64_t cg = s.Cin / s.groups, og = s.Cout / s.groups;

  if (passes & kForward) {
    compare_pass(
        "conv2d_forward", "gather", cg * s.kh * s.kw, x.host, w.host, with_bias ? b_out.host.data() : nullptr,
        bias_map(with_bias ? &b_out.host : nullptr, s.N, s.Cout, s.Ho * s.Wo),
        [&](const auto* xs, const auto* ws, const auto* bias, auto* y) { kcpu::conv2d_forward(s, xs, ws, bias, y); },
        [&](float* y) {
          CudaConv<float>::forward(s, x.ptr(), w.ptr(), with_bias ? b_out.ptr() : nullptr, y);
        },
        worst, plans);
  }
  if (passes & kBackwardData) {
    compare_pass(
        "conv2d_backward_data", "gather", og * s.kh * s.kw, gy.host, w.host, with_bias ? b_in.host.data() : nullptr,
        bias_map(with_bias ? &b_in.host : nullptr, s.N, s.Cin, s.H * s.W),
        [&](const auto* gys, const auto* ws, const auto* bias, auto* gx) {
          kcpu::conv2d_backward_data(s, gys, ws, bias, gx);
        },
        [&](float* gx) {
          CudaConv<float>::backward_data(s, gy.ptr(), w.ptr(), with_bias ? b_in.ptr() : nullptr, gx);
        },
        worst, plans);
  }
  if (passes & kBackwardWeight) {
    const float* no_bias = nullptr;
    Tensor first = rerun ? nan_output<float>(nw) : Tensor();
    const std::vector<double> gw = compare_pass(
        "conv2d_backward_weight", "weight", s.N * s.Ho * s.Wo, x.host, gy.host, no_bias,
        std::vector<double>(static_cast<size_t>(nw), 0.0),
        [&](const auto* xs, const auto* gys, const auto*, auto* out) { kcpu::conv2d_backward_weight(s, xs, gys, out); },
        [&](float* out) {
          CudaConv<float>::backward_weight(s, x.ptr(), gy.ptr(), out);
          if (rerun) CudaConv<float>::backward_weight(s, x.ptr(), gy.ptr(), first.data<float>());
        },
        worst, plans);
    if (rerun) {
      const std::vector<float> a(gw.begin(), gw.end()), b = first.to_vector<float>();  // floats, exactly
      EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)))
          << "conv2d_backward_weight differs between two runs on the same inputs";
    }
  }
}

// The DCGAN-64 layers at batch 64 (conv_test_util.h), each pass on BF16 tensor cores within both bounds, planned
// for the emulated device's own 132 SMs.
class ConvBf16Dcgan64 : public CudaParamTest<Dcgan64Case> {};

TEST_P(ConvBf16Dcgan64, Batch64) {
  std::mt19937 rng(64);
  WorstRatios worst;
  // Determinism is checked on the smaller shapes below.
  check_bf16(GetParam().shape, false, rng, worst, nullptr, /*rerun=*/false, GetParam().pass);
}

INSTANTIATE_TEST_SUITE_P(Layers, ConvBf16Dcgan64, ::testing::ValuesIn(dcgan64_cases()), dcgan64_case_name);

class ConvBf16Parity : public CudaTest {};

// Odd channel counts and spatial sizes, strides, padding, dilation, groups (conv_test_util.h: odd_shapes).
TEST_F(ConvBf16Parity, OddShapesDilationAndGroups) {
  std::mt19937 rng(9);
  WorstRatios worst;
  for (const Conv2dShape& s : odd_shapes()) {
    check_bf16(s, true, rng, worst);
    check_bf16(s, false, rng, worst);
  }
}

// Every tile shape (128x128, 64x128, 64x64, 16x128) and the split-K path of both GEMM kernels in the BF16 mode,
// with the planner told 1 to 1024 SMs so that small shapes get every plan; all 32 (both load variants of each
// kernel) must run and pass.
TEST_F(ConvBf16Parity, EveryTileShapeAndSplitKPath) {
  std::mt19937 rng(5);
  WorstRatios worst;
  std::set<std::string> seen;
  for (const Conv2dShape& s : every_plan_shapes())
    for (int sms : kPlannerSmCounts) {
      const PlannerSmCount planner(sms);
      SCOPED_TRACE("planned for " + std::to_string(sms) + " SMs");
      check_bf16(s, true, rng, worst, &seen);
    }
  expect_every_plan(seen);
}

// The switch: in the BF16 mode float32 runs on the BF16 kernels (a result different from the TF32 and strict ones)
// and float64 on the SIMT kernels, unchanged; the mode is restored afterwards.
TEST_F(ConvBf16Parity, MathModeChoosesTheKernels) {
  const Conv2dShape s = make(2, 16, 9, 9, 24, 3, 3, 1, 1);
  std::mt19937 rng(1);
  const int64_t nx = s.N * s.Cin * s.H * s.W, nw = s.Cout * s.Cin * s.kh * s.kw, ny = s.N * s.Cout * s.Ho * s.Wo;
  const Buffer<float> xf = random_buffer<float>(nx, rng), wf = random_buffer<float>(nw, rng);
  const Buffer<double> xd = random_buffer<double>(nx, rng), wd = random_buffer<double>(nw, rng);
  const FloatMath before = kernels::float_math();
  std::vector<double> y_float[3], y_double[3];
  const FloatMath modes[] = {FloatMath::Fp32, FloatMath::Tf32, FloatMath::Bf16};
  const char* want[] = {"SimtMath", "MmaMath", "BfMath"};
  for (int m = 0; m < 3; ++m) {
    const kernels::ScopedFloatMath mode(modes[m]);
    Tensor y = nan_output<float>(ny);
    kcuda::reset_launch_counts();
    CudaConv<float>::forward(s, xf.ptr(), wf.ptr(), nullptr, y.data<float>());
    EXPECT_EQ(math_launched("gather"), want[m]) << "float32, mode " << m;
    y_float[m] = y.to_vector<double>();
    Tensor yd = nan_output<double>(ny);
    kcuda::reset_launch_counts();
    CudaConv<double>::forward(s, xd.ptr(), wd.ptr(), nullptr, yd.data<double>());
    EXPECT_EQ(math_launched("gather"), "SimtMath") << "float64, mode " << m;
    y_double[m] = yd.to_vector<double>();
  }
  EXPECT_EQ(kernels::float_math(), before) << "the scope did not restore the math mode";
  EXPECT_NE(y_float[2], y_float[0]) << "the BF16 mode gave the strict FP32 result: no bf16 rounding happened";
  EXPECT_NE(y_float[2], y_float[1]) << "the BF16 mode gave the TF32 result";
  EXPECT_EQ(y_double[2], y_double[0]) << "float64 changed with the float math mode";
}

// ---- the GEMM (cuBLAS; emulated: the CPU GEMM of bf16-rounded operands) ----

#if defined(GAN_CUDA_EMU)
constexpr bool kEmulated = true;
#else
constexpr bool kEmulated = false;
#endif

template <typename T>
struct CudaGemm {
  static void run(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B,
                  int64_t ldb, T* C, int64_t ldc) {
#if defined(GAN_WITH_CUDA) && GAN_WITH_CUDA
    kcuda::gemm<T>(ta, tb, M, N, K, T(1), A, lda, B, ldb, T(0), C, ldc);
#else
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)C, (void)ldc;
    throw std::logic_error("Bf16Gemm: no CUDA backend in this build");
#endif
  }
};

// C = op(A) op(B) for odd M, N, K and every transpose combination, against the exact product with bound (b). On a
// GPU, cuBLAS's CUBLAS_COMPUTE_32F_FAST_16BF may also run the product in TF32 (more precise, within (b) too), so
// the comparison with the CPU bf16 twin, (a), is made in the emulator only, where the rounding is bf16 by
// construction.
TEST_F(ConvBf16Parity, GemmMatchesTheBoundsInEveryTransposeCombination) {
  const int64_t M = 37, N = 29, K = 531;
  std::mt19937 rng(21);
  WorstRatios worst;
  for (const bool ta : {false, true})
    for (const bool tb : {false, true}) {
      SCOPED_TRACE(std::string("ta ") + (ta ? "T" : "N") + ", tb " + (tb ? "T" : "N"));
      const int64_t lda = ta ? M : K, ldb = tb ? K : N;
      const Buffer<float> A = random_buffer<float>(M * K, rng), B = random_buffer<float>(K * N, rng);
      const auto cpu = [&](const auto* a, const auto* b, const auto*, auto* c) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(a)>>;
        kcpu::gemm<T>(ta, tb, M, N, K, T(1), a, lda, b, ldb, T(0), c, N);
      };
      const float* no_bias = nullptr;
      const std::vector<double> got = compare_pass(
          "gemm", nullptr, K, A.host, B.host, no_bias, std::vector<double>(static_cast<size_t>(M * N), 0.0), cpu,
          [&](float* c) { CudaGemm<float>::run(ta, tb, M, N, K, A.ptr(), lda, B.ptr(), ldb, c, N); }, worst,
          nullptr, /*twin=*/kEmulated, /*bf16_output=*/false);
      std::vector<float> strict(got.size());
      cpu(A.host.data(), B.host.data(), no_bias, strict.data());
      EXPECT_NE(to_double(strict, false), got) << "the BF16 GEMM gave the strict FP32 result";
    }
}

}  // namespace
}  // namespace gan::testing
