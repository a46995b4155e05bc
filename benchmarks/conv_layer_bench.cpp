// Times one DCGAN-64 convolution layer on the default device (GAN_DEVICE; a real GPU, the SIMT emulator of a
// GAN_CUDA=EMU build, or the CPU): the discriminator's 64 -> 128 channel conv, 4x4, stride 2, padding 1, 32x32 ->
// 16x16, at batch 128, in its three passes: forward, backward data (the transposed conv of the output gradient)
// and backward weight. One warm-up call per pass is excluded. On the emulator it measures the emulator's speed,
// which says how long CI's kernel tests take, not how fast the kernels are on a GPU (README: the emulator).
#include <benchmark/benchmark.h>

#include "engine/device.h"
#include "engine/nn/functional.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "kernels/blas_core.h"
#include "kernels/cuda/runtime.h"

namespace {

using namespace gan;
namespace F = nn::functional;

constexpr int64_t kCin = 64, kCout = 128, kH = 32, kK = 4;
const F::Conv2dArgs kArgs{2, 1, 0};  // stride 2, padding 1

struct Layer {
  Tensor x, w, b, gy;
  explicit Layer(int64_t batch) {
    const Device d = default_device();
    Generator gen(1);
    x = randn({batch, kCin, kH, kH}, DType::Float32, &gen).to(d);
    w = randn({kCout, kCin, kK, kK}, DType::Float32, &gen).to(d);
    b = randn({kCout}, DType::Float32, &gen).to(d);
    gy = randn({batch, kCout, kH / 2, kH / 2}, DType::Float32, &gen).to(d);
  }
};

void sync(const Tensor& t) {
  if (t.device().is_cuda()) kernels::cuda::synchronize(t.device().index);
}

template <typename Pass>
void run(benchmark::State& state, Pass pass) {
  const Layer layer(state.range(0));
  sync(pass(layer));  // warm-up
  for (auto _ : state) sync(pass(layer));
  state.SetLabel(default_device().str());
}

void BM_Forward(benchmark::State& state) {
  run(state, [](const Layer& l) { return F::conv2d(l.x, l.w, l.b, kArgs); });
}
void BM_BackwardData(benchmark::State& state) {
  run(state, [](const Layer& l) { return F::conv_transpose2d(l.gy, l.w, Tensor(), kArgs); });
}
void BM_BackwardWeight(benchmark::State& state) {
  run(state, [](const Layer& l) { return F::conv2d_weight_grad(l.x, l.gy, kK, kK, kArgs); });
}

BENCHMARK(BM_Forward)->ArgName("batch")->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_BackwardData)->ArgName("batch")->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_BackwardWeight)->ArgName("batch")->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

}  // namespace

int main(int argc, char** argv) {
  gan::kernels::rerun_with_matching_blas_core(argc, argv);  // OpenBLAS's fast kernels on CPUs it misreads
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("blas_core", gan::kernels::blas_core_name());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
