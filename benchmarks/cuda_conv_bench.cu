// Our CUDA convolutions (kernels/cuda/conv.cu) against cuDNN on every conv layer of DCGAN-64 at batch 128:
// forward, backward-data and backward-weight of each, from the layer's point of view. For a transposed conv the
// forward pass is our conv2d_backward_data (cuDNN's BackwardData) and its backward-data pass is conv2d_forward.
//
// Three math modes, one row each per layer and pass, ours and cuDNN in the same mode:
//   fp32: ours in strict FP32 (set_tf32(false): the SIMT kernels) against cuDNN with CUDNN_FMA_MATH (results that
//         report a tensor-op math type are skipped: on Ampere and later DEFAULT math would permit TF32);
//   tf32: ours in the TF32 mode (the default: mma.sync m16n8k8 TF32 kernels) against cuDNN with
//         CUDNN_TENSOR_OP_MATH, its fastest algorithm whatever math it reports (what PyTorch's default
//         allow_tf32 convolutions get);
//   bf16: ours in the BF16 mode (mma.sync m16n8k16 on operands rounded to bf16 in registers, FP32 accumulation)
//         against cuDNN on CUDNN_DATA_BFLOAT16 tensors with FP32 compute and CUDNN_TENSOR_OP_MATH. The arithmetic
//         is the same (the same RNE-rounded operands, FP32 sums, a bf16-rounded output), the storage is not: our
//         conv kernels read FP32 operands and write FP32 tensors (holding bf16 values; kernels/conv.h), so ours
//         reads twice the bytes of input and writes twice the bytes of output that cuDNN does. cuDNN's bf16 copies of the inputs are made once,
//         outside the timed region.
// Baseline: for each call cuDNN's fastest algorithm as cudnnFindConvolution*AlgorithmEx measures it, then timed
// here exactly like ours (CUDA events, L2 flushed before every repeat; see cuda_bench_util.h). The label names
// cuDNN's algorithm and marks a non-deterministic one (atomics in backward-weight): ours is always deterministic.
//
// Every benchmark also compares our output with cuDNN's and fails (SkipWithError) when the largest difference
// exceeds 1e-4 (fp32) or 5e-3 (tf32, bf16) of the largest value, so a run on a GPU doubles as a correctness check
// at full size. TF32's operand rounding (relative 2^-11 per operand, random in sign) leaves each output of either
// side about 2^-10.5 of the typical output magnitude off the exact value; 5e-3 is ten times that. In bf16 both
// sides multiply the same rounded operands and differ in the order of the FP32 sums and in cuDNN's bf16 output
// (rounded by at most 2^-9 of its value); 5e-3 is 2.5 times that rounding.
//
// Run: build/benchmarks/cuda_conv_bench [--benchmark_filter=...]; on a machine without a GPU it prints one line
// and exits with status 0.
#include <cudnn.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "benchmarks/cuda_bench_util.h"
#include "kernels/conv.h"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/runtime.h"
#include "kernels/math_mode.h"

namespace {

using gan::kernels::Conv2dShape;
namespace kc = gan::kernels::cuda;
namespace bench = gan::bench;

// ---- the layers ---------------------------------------------------------------------------------------------

struct Layer {
  std::string name;  // e.g. "D 64->128" or "G 512->256 (T)"
  bool transposed;   // a ConvTranspose2d: `conv` is its adjoint conv (its output is the conv's input)
  Conv2dShape conv;  // the convolution's view (see kernels/conv.h)
};

Conv2dShape conv_shape(int64_t N, int64_t Cin, int64_t H, int64_t Cout, int64_t k, int64_t s, int64_t p) {
  Conv2dShape c;
  c.N = N, c.Cin = Cin, c.H = H, c.W = H, c.Cout = Cout, c.kh = k, c.kw = k;
  c.stride_h = c.stride_w = s, c.pad_h = c.pad_w = p;
  c.Ho = (H + 2 * p - k) / s + 1, c.Wo = c.Ho;
  return c;
}

std::vector<Layer> dcgan64_layers(int64_t batch) {
  std::vector<Layer> layers;
  // Discriminator: conv Cin -> Cout, k4 s2 p1 halves the size; the last conv k4 s1 p0 maps 4x4 to 1x1.
  const int64_t d[][3] = {{3, 64, 64}, {64, 128, 32}, {128, 256, 16}, {256, 512, 8}};
  for (const auto& l : d)
    layers.push_back({"D " + std::to_string(l[0]) + "->" + std::to_string(l[1]), false,
                      conv_shape(batch, l[0], l[2], l[1], 4, 2, 1)});
  layers.push_back({"D 512->1", false, conv_shape(batch, 512, 4, 1, 4, 1, 0)});
  // Generator: ConvTranspose2d Cin_t -> Cout_t is the adjoint of a conv Cout_t -> Cin_t on the larger image.
  layers.push_back({"G 100->512 (T)", true, conv_shape(batch, 512, 4, 100, 4, 1, 0)});
  const int64_t g[][3] = {{512, 256, 8}, {256, 128, 16}, {128, 64, 32}, {64, 3, 64}};  // Cin_t, Cout_t, out size
  for (const auto& l : g)
    layers.push_back({"G " + std::to_string(l[0]) + "->" + std::to_string(l[1]) + " (T)", true,
                      conv_shape(batch, l[1], l[2], l[0], 4, 2, 1)});
  return layers;
}

enum class Pass { Forward, BackwardData, BackwardWeight };  // the layer's passes

// The plan of our conv call just made, from the launch counters (kernels/cuda/launch_count.h): the GEMM kernel's
// tile, its load variant (gather: K order tap- or channel-major; weight: one tap per step or per column) and
// whether a split-K reduction ran, e.g. "64x128 tap split". Timings can then be told apart by kernel variant.
std::string our_plan() {
  std::string tile = "?", variant, split;
  for (const kc::KernelLaunches& k : kc::launch_counts()) {
    const std::string& n = k.kernel;
    if (n.find("_reduce_kernel<") != std::string::npos) split = " split";
    if (n.find("_gemm_kernel<") == std::string::npos) continue;
    for (const auto& [cfg, name] : {std::pair{"TileCfg<128, 128,", "128x128"}, std::pair{"TileCfg<64, 128,", "64x128"},
                                    std::pair{"TileCfg<64, 64,", "64x64"}, std::pair{"TileCfg<16, 128,", "16x128"}})
      if (n.find(cfg) != std::string::npos) tile = name;
    if (n.find("TapMajor") != std::string::npos) variant = " tap";
    if (n.find("ChannelMajor") != std::string::npos) variant = " channel";
    if (n.rfind("weight_gemm_kernel<", 0) == 0)
      variant = n.find(", true>") != std::string::npos ? " one-tap" : " per-col";
  }
  return tile + variant + split;
}
enum class MathMode { Fp32, Tf32, Bf16 };                    // ours and cuDNN's arithmetic

const char* math_name(MathMode m) { return m == MathMode::Tf32 ? "tf32" : m == MathMode::Bf16 ? "bf16" : "fp32"; }
enum class Kernel { Fwd, Dgrad, Wgrad };                     // the conv kernels

const char* pass_name(Pass p) {
  return p == Pass::Forward ? "fwd" : p == Pass::BackwardData ? "bwd_data" : "bwd_weight";
}

Kernel kernel_of(const Layer& l, Pass p) {
  if (p == Pass::BackwardWeight) return Kernel::Wgrad;
  return (p == Pass::Forward) != l.transposed ? Kernel::Fwd : Kernel::Dgrad;
}

// ---- device buffers and cuDNN -------------------------------------------------------------------------------

struct DeviceBuffer {
  float* ptr = nullptr;
  size_t count = 0;
  explicit DeviceBuffer(size_t n) : count(n) {
    GAN_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr), std::max<size_t>(n, 1) * sizeof(float)));
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void fill_random(uint32_t seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> h(count);
    for (float& v : h) v = u(rng);
    // On the device's stream, which the kernels use: a cudaMemcpy on the legacy default stream may return before
    // its DMA from the staging buffer is done, and the non-blocking stream does not wait for it.
    kc::memcpy_h2d(ptr, h.data(), count * sizeof(float));
  }
  std::vector<float> to_host() const {
    std::vector<float> h(count);
    kc::memcpy_d2h(h.data(), ptr, count * sizeof(float));  // waits for the stream
    return h;
  }
};

cudnnHandle_t cudnn() {
  static cudnnHandle_t handle = [] {
    cudnnHandle_t h = nullptr;
    GAN_CUDNN_CHECK(cudnnCreate(&h));
    GAN_CUDNN_CHECK(cudnnSetStream(h, kc::stream()));
    return h;
  }();
  return handle;
}

// A bf16 copy of a device buffer for cuDNN's BF16 mode (each value rounded to nearest even, as our kernels round
// their operands), made on the host once; empty unless `make`.
struct Bf16Buffer {
  uint16_t* ptr = nullptr;
  size_t count = 0;
  Bf16Buffer(const DeviceBuffer& src, bool make) : count(make ? src.count : 0) {
    if (!make) return;
    GAN_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr), std::max<size_t>(count, 1) * sizeof(uint16_t)));
    const std::vector<float> f = src.to_host();
    std::vector<uint16_t> h(count);
    for (size_t i = 0; i < count; ++i) {
      uint32_t u;
      const float r = gan::kernels::bf16_round(f[i]);
      std::memcpy(&u, &r, 4);
      h[i] = static_cast<uint16_t>(u >> 16);
    }
    kc::memcpy_h2d(ptr, h.data(), count * sizeof(uint16_t));
  }
  ~Bf16Buffer() { cudaFree(ptr); }
  Bf16Buffer(const Bf16Buffer&) = delete;
  Bf16Buffer& operator=(const Bf16Buffer&) = delete;

  std::vector<float> to_host() const {
    std::vector<uint16_t> h(count);
    kc::memcpy_d2h(h.data(), ptr, count * sizeof(uint16_t));
    std::vector<float> f(count);
    for (size_t i = 0; i < count; ++i) {
      const uint32_t u = uint32_t(h[i]) << 16;
      std::memcpy(&f[i], &u, 4);
    }
    return f;
  }
};

// The descriptors of one convolution (NCHW; FP32 data with FMA or tensor-op math, or bf16 data with FP32 compute
// and tensor-op math).
struct CudnnConv {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  CudnnConv(const Conv2dShape& s, MathMode math) {
    const cudnnDataType_t data = math == MathMode::Bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    GAN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    GAN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
    GAN_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    GAN_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    GAN_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, data, int(s.N), int(s.Cin), int(s.H), int(s.W)));
    GAN_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, data, int(s.N), int(s.Cout), int(s.Ho), int(s.Wo)));
    GAN_CUDNN_CHECK(
        cudnnSetFilter4dDescriptor(w, data, CUDNN_TENSOR_NCHW, int(s.Cout), int(s.Cin), int(s.kh), int(s.kw)));
    GAN_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, int(s.pad_h), int(s.pad_w), int(s.stride_h),
                                                    int(s.stride_w), 1, 1, CUDNN_CROSS_CORRELATION,
                                                    CUDNN_DATA_FLOAT));
    GAN_CUDNN_CHECK(
        cudnnSetConvolutionMathType(conv, math == MathMode::Fp32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
  }
  ~CudnnConv() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyTensorDescriptor(x);
  }
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;
};

// cuDNN's choice for one call: the algorithm (as an int of the pass's enum), its workspace and a label.
struct Choice {
  int algo = -1;
  size_t workspace = 0;
  std::string label;
};

bool tensor_op(cudnnMathType_t m) { return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

// The fastest successful result of a Find*Ex call: any math in the TF32 and BF16 modes, FMA math only in FP32.
template <typename Perf>
Choice pick(const Perf* perf, int n, const char* const* names, int name_count, MathMode math) {
  for (int i = 0; i < n; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    if (math == MathMode::Fp32 && tensor_op(perf[i].mathType)) continue;
    Choice c;
    c.algo = static_cast<int>(perf[i].algo);
    c.workspace = perf[i].memory;
    c.label = std::string("cuDNN ") + (c.algo >= 0 && c.algo < name_count ? names[c.algo] : "algo ?");
    if (tensor_op(perf[i].mathType)) c.label += " tensor-op";
    if (perf[i].determinism == CUDNN_NON_DETERMINISTIC) c.label += " (non-deterministic)";
    return c;
  }
  throw std::runtime_error(std::string("cuDNN found no ") + math_name(math) + " algorithm for this convolution");
}

constexpr const char* kFwdNames[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT",
                                     "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
constexpr const char* kBwdDataNames[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
constexpr const char* kBwdFilterNames[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD_NONFUSED", "FFT_TILING"};

// ---- one benchmark ----------------------------------------------------------------------------------------

gan::kernels::FloatMath our_math_mode(MathMode m) {
  using gan::kernels::FloatMath;
  return m == MathMode::Tf32 ? FloatMath::Tf32 : m == MathMode::Bf16 ? FloatMath::Bf16 : FloatMath::Fp32;
}

void bench_layer_pass(benchmark::State& state, const Layer& layer, Pass pass, MathMode math) {
  const gan::kernels::ScopedFloatMath our_math(our_math_mode(math));
  const Conv2dShape& s = layer.conv;
  const Kernel kernel = kernel_of(layer, pass);
  DeviceBuffer x(size_t(s.N * s.Cin * s.H * s.W)), w(size_t(s.Cout * s.Cin * s.kh * s.kw)),
      y(size_t(s.N * s.Cout * s.Ho * s.Wo));
  x.fill_random(1), w.fill_random(2), y.fill_random(3);
  // The output of this pass, twice: ours and cuDNN's.
  const size_t out_count = kernel == Kernel::Fwd ? y.count : kernel == Kernel::Dgrad ? x.count : w.count;
  DeviceBuffer ours_out(out_count), base_out(out_count);

  const auto ours = [&] {
    switch (kernel) {
      case Kernel::Fwd: kc::conv2d_forward<float>(s, x.ptr, w.ptr, nullptr, ours_out.ptr); break;
      case Kernel::Dgrad: kc::conv2d_backward_data<float>(s, y.ptr, w.ptr, nullptr, ours_out.ptr); break;
      case Kernel::Wgrad: kc::conv2d_backward_weight<float>(s, x.ptr, y.ptr, ours_out.ptr); break;
    }
  };

  // cuDNN's operands and output: the FP32 buffers, or in the BF16 mode bf16 copies (and a bf16 output).
  const bool bf16 = math == MathMode::Bf16;
  const Bf16Buffer xb(x, bf16), wb(w, bf16), yb(y, bf16), outb(base_out, bf16);
  void* const dnn_x = bf16 ? static_cast<void*>(xb.ptr) : x.ptr;
  void* const dnn_w = bf16 ? static_cast<void*>(wb.ptr) : w.ptr;
  void* const dnn_y = bf16 ? static_cast<void*>(yb.ptr) : y.ptr;
  void* const dnn_out = bf16 ? static_cast<void*>(outb.ptr) : base_out.ptr;

  const CudnnConv d(s, math);
  cudnnHandle_t h = cudnn();
  // Find with a generous workspace; cuDNN skips algorithms that need more.
  constexpr size_t kFindWorkspace = size_t(512) << 20;
  Choice choice;
  {
    DeviceBuffer find_ws(kFindWorkspace / sizeof(float));
    int n = 0;
    if (kernel == Kernel::Fwd) {
      cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
      GAN_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, d.x, dnn_x, d.w, dnn_w, d.conv, d.y, dnn_out,
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf, find_ws.ptr,
                                                             kFindWorkspace));
      choice = pick(perf, n, kFwdNames, int(std::size(kFwdNames)), math);
    } else if (kernel == Kernel::Dgrad) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
      GAN_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w, dnn_w, d.y, dnn_y, d.conv, d.x,
                                                                  dnn_out, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                                  &n, perf, find_ws.ptr, kFindWorkspace));
      choice = pick(perf, n, kBwdDataNames, int(std::size(kBwdDataNames)), math);
    } else {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
      GAN_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
          h, d.x, dnn_x, d.y, dnn_y, d.conv, d.w, dnn_out, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf,
          find_ws.ptr, kFindWorkspace));
      choice = pick(perf, n, kBwdFilterNames, int(std::size(kBwdFilterNames)), math);
    }
  }
  DeviceBuffer base_ws(std::max<size_t>(choice.workspace, 4) / sizeof(float));
  const float one = 1.f, zero = 0.f;
  const auto baseline = [&] {
    switch (kernel) {
      case Kernel::Fwd:
        GAN_CUDNN_CHECK(cudnnConvolutionForward(h, &one, d.x, dnn_x, d.w, dnn_w, d.conv,
                                                static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo), base_ws.ptr,
                                                choice.workspace, &zero, d.y, dnn_out));
        break;
      case Kernel::Dgrad:
        GAN_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, d.w, dnn_w, d.y, dnn_y, d.conv,
                                                     static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo),
                                                     base_ws.ptr, choice.workspace, &zero, d.x, dnn_out));
        break;
      case Kernel::Wgrad:
        GAN_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, d.x, dnn_x, d.y, dnn_y, d.conv,
                                                       static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo),
                                                       base_ws.ptr, choice.workspace, &zero, d.w, dnn_out));
        break;
    }
  };

  // Same answer first: a fast wrong kernel is not a result. The launch counters say which of our plans ran.
  kc::reset_launch_counts();
  ours();
  const std::string plan = our_plan();
  baseline();
  const std::vector<float> a = ours_out.to_host(), b = bf16 ? outb.to_host() : base_out.to_host();
  double max_ref = 0, max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(double(b[i])));
    max_diff = std::max(max_diff, std::isfinite(a[i]) ? std::abs(double(a[i]) - double(b[i])) : INFINITY);
  }
  const double rel = max_diff / std::max(max_ref, 1e-30);
  state.counters["max_rel_err"] = rel;
  if (!(rel <= (math == MathMode::Fp32 ? 1e-4 : 5e-3))) {
    state.SkipWithError(("ours differs from cuDNN: max |diff| / max |ref| = " + std::to_string(rel)).c_str());
    return;
  }

  bench::L2Flush& flush = bench::l2_flush();
  const double ms = bench::time_in_loop(state, flush, ours);
  const double base_ms = bench::time_ms(flush, baseline, 30).mean_ms;
  const double flops = 2.0 * double(s.N) * double(s.Cout) * double(s.Ho * s.Wo) * double(s.Cin * s.kh * s.kw);
  const std::string row = layer.name + " " + pass_name(pass) + " " + math_name(math) + " [" + plan + "]";
  bench::report(state, {row, ms, flops, bench::Unit::TFLOPS, base_ms, choice.label});
}

void register_all() {
  for (const Layer& layer : dcgan64_layers(128)) {
    for (Pass pass : {Pass::Forward, Pass::BackwardData, Pass::BackwardWeight}) {
      for (MathMode math : {MathMode::Tf32, MathMode::Bf16, MathMode::Fp32}) {
        const std::string name = std::string("conv/") + math_name(math) + "/" + layer.name + "/" + pass_name(pass);
        benchmark::RegisterBenchmark(name.c_str(),
                                     [layer, pass, math](benchmark::State& st) {
                                       try {
                                         bench_layer_pass(st, layer, pass, math);
                                       } catch (const std::exception& e) {
                                         st.SkipWithError(e.what());
                                       }
                                     })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(0.2);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  return bench::run_main(argc, argv,
                         "DCGAN-64 convolutions, batch 128: ours vs cuDNN in TF32 (tensor-op math), BF16 (ours: "
                         "FP32 data, bf16 arithmetic; cuDNN: bf16 tensors, FP32 compute) and strict FP32 (FMA math)");
}
