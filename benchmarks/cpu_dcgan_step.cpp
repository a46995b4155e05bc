// Times whole DCGAN-32 training iterations on the CPU: nz 100, ngf = ndf = 64, 3 channels, Adam (2e-4, 0.5, 0.999),
// BCE-with-logits; D on real + fake, then G. Warm-up iterations are excluded. The PyTorch peer is
// benchmarks/pytorch_cpu_dcgan_step.py (same model, same thread count); benchmarks/run_cpu_dcgan.sh runs both and
// writes benchmarks/results/cpu-dcgan32.md.
#include <benchmark/benchmark.h>

#include "engine/optim/optimizers.h"
#include "kernels/blas_core.h"
#include "models/dcgan.h"

namespace {

using namespace gan;

void BM_Dcgan32TrainStep(benchmark::State& state) {
  const int64_t batch = state.range(0);
  manual_seed(0);
  models::DcganConfig cfg;
  cfg.image_size = 32;
  cfg.fuse_bn_activation = state.range(1) != 0;
  auto G = models::dcgan_generator(cfg);
  auto D = models::dcgan_discriminator(cfg);
  const optim::AdamOptions adam{.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999};
  optim::Adam opt_g(G->named_parameters(), adam), opt_d(D->named_parameters(), adam);
  const Tensor real = rand({batch, cfg.nc, 32, 32}, DType::Float32, nullptr, -1.0, 1.0);
  auto noise = [&] { return randn({batch, cfg.nz, 1, 1}); };
  for (int i = 0; i < 2; ++i) models::dcgan_train_step(*G, *D, opt_g, opt_d, real, noise());  // warm-up
  for (auto _ : state) {
    const models::DcganStepLosses l = models::dcgan_train_step(*G, *D, opt_g, opt_d, real, noise());
    benchmark::DoNotOptimize(l.g);
  }
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_Dcgan32TrainStep)
    ->ArgNames({"batch", "fused_bn"})
    ->Args({64, 1})
    ->Args({64, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(10.0);

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
