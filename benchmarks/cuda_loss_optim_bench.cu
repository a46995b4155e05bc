// The fused losses (kernels/cuda/losses.cu), Adam over every parameter of DCGAN-64 (G and D, one multi-tensor
// apply; kernels/cuda/optim.cu), and Linear-sized GEMMs through our gemm (kernels/cuda/gemm.cu) against a direct
// cublasSgemm call (a sanity check: ours is cuBLAS, so the ratio should be ~1).
//
// Bytes counted are each op's minimum traffic: a loss reads its inputs and writes the gradients asked for (the
// scalar loss and its copy back to the host are part of the timed call); Adam reads param, grad, exp_avg,
// exp_avg_sq and writes param, exp_avg, exp_avg_sq (7 floats per parameter). The copy reference (a
// cudaMemcpyAsync D2D over a buffer of the same byte count) is the baseline column for these memory-bound ops,
// so "ours/base" is time over the time of moving as many bytes by copy.
#include <cublas_v2.h>

#include <random>
#include <string>
#include <vector>

#include "benchmarks/cuda_bench_util.h"
#include "kernels/cuda/runtime.h"
#include "kernels/gemm.h"
#include "kernels/losses.h"
#include "kernels/optim.h"
#include "models/dcgan.h"

namespace {

namespace k = gan::kernels;
namespace kc = gan::kernels::cuda;
namespace bench = gan::bench;

float* device_random(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> host(n);
  for (float& v : host) v = dist(rng);
  float* p = nullptr;
  GAN_CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(float)));
  if (n) kc::memcpy_h2d(p, host.data(), n * sizeof(float));
  return p;
}

// Time of a D2D copy moving `bytes` bytes in all (bytes / 2 read, bytes / 2 written).
double copy_ms(bench::L2Flush& flush, size_t bytes) {
  const size_t half = std::max<size_t>(bytes / 2, 16);
  void *src = nullptr, *dst = nullptr;
  GAN_CUDA_CHECK(cudaMalloc(&src, half));
  GAN_CUDA_CHECK(cudaMalloc(&dst, half));
  const double ms = bench::time_ms(flush, [&] {
                      GAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, half, cudaMemcpyDeviceToDevice, kc::stream()));
                    }).mean_ms;
  cudaFree(src);
  cudaFree(dst);
  return ms;
}

// ---- losses ----

enum class Loss { Bce, Mse, Kl, Wasserstein };

const char* loss_name(Loss l) {
  switch (l) {
    case Loss::Bce: return "bce_with_logits";
    case Loss::Mse: return "mse";
    case Loss::Kl: return "kl_normal";
    case Loss::Wasserstein: return "wasserstein";
  }
  return "?";
}

void BM_Loss(benchmark::State& state, Loss loss, int64_t n) {
  bench::L2Flush& flush = bench::l2_flush();
  const size_t un = static_cast<size_t>(n);
  float* a = device_random(un, 1, -3.f, 3.f);
  float* b = device_random(un, 2, 0.f, 1.f);
  float* ga = device_random(un, 3, 0.f, 1.f);
  float* gb = device_random(un, 4, 0.f, 1.f);
  double bytes = 0;
  std::function<void()> fn;
  switch (loss) {
    case Loss::Bce:  // D's loss: gradient for the logits only
      fn = [&] { benchmark::DoNotOptimize(kc::bce_with_logits<float>(a, b, n, double(n), nullptr, ga, nullptr)); };
      bytes = 3.0 * n * sizeof(float);
      break;
    case Loss::Mse:  // a reconstruction loss: gradient for the input only
      fn = [&] { benchmark::DoNotOptimize(kc::mse<float>(a, b, n, double(n), nullptr, ga, nullptr)); };
      bytes = 3.0 * n * sizeof(float);
      break;
    case Loss::Kl:  // the VAE's KL term: both gradients
      fn = [&] { benchmark::DoNotOptimize(kc::kl_normal<float>(a, b, n, 128.0, nullptr, ga, gb)); };
      bytes = 4.0 * n * sizeof(float);
      break;
    case Loss::Wasserstein:  // the critic's value: two means, no gradient buffer
      fn = [&] { benchmark::DoNotOptimize(kc::wasserstein<float>(a, n, double(n), b, n, double(n))); };
      bytes = 2.0 * n * sizeof(float);
      break;
  }
  const double ms = bench::time_in_loop(state, flush, fn);
  const double base = copy_ms(flush, static_cast<size_t>(bytes));
  bench::report(state, {std::string(loss_name(loss)) + " n=" + std::to_string(n), ms, bytes, bench::Unit::GBPS, base,
                        "D2D copy, same bytes"});
  for (float* p : {a, b, ga, gb}) cudaFree(p);
}

// ---- Adam over DCGAN-64 ----

void BM_AdamDcgan(benchmark::State& state) {
  bench::L2Flush& flush = bench::l2_flush();
  gan::models::DcganConfig cfg;  // 64x64, nz 100, ngf = ndf = 64
  std::vector<int64_t> sizes;
  for (const auto& net : {gan::models::dcgan_generator(cfg), gan::models::dcgan_discriminator(cfg)})
    for (const auto& [name, p] : net->named_parameters()) sizes.push_back(p.numel());
  std::vector<float*> buffers;
  std::vector<k::AdamSlot<float>> slots;
  int64_t total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const size_t n = static_cast<size_t>(sizes[i]);
    k::AdamSlot<float> s;
    float* p = device_random(n, 10 + static_cast<uint32_t>(i), -0.05f, 0.05f);
    float* g = device_random(n, 1000 + static_cast<uint32_t>(i), -0.01f, 0.01f);
    float* m = device_random(n, 2000 + static_cast<uint32_t>(i), -0.001f, 0.001f);
    float* v = device_random(n, 3000 + static_cast<uint32_t>(i), 0.f, 1e-4f);
    buffers.insert(buffers.end(), {p, g, m, v});
    s.param = p;
    s.grad = g;
    s.exp_avg = m;
    s.exp_avg_sq = v;
    s.numel = sizes[i];
    s.step = 10;
    slots.push_back(s);
    total += sizes[i];
  }
  const k::AdamHyper h{2e-4, 0.5, 0.999, 1e-8, 0.0};
  const double ms = bench::time_in_loop(
      state, flush, [&] { kc::adam_step<float>(slots.data(), static_cast<int64_t>(slots.size()), h); });
  const double bytes = 7.0 * static_cast<double>(total) * sizeof(float);
  const double base = copy_ms(flush, static_cast<size_t>(bytes));
  bench::report(state, {"adam DCGAN-64 G+D (" + std::to_string(sizes.size()) + " tensors, " + std::to_string(total) +
                            " params)",
                        ms, bytes, bench::Unit::GBPS, base, "D2D copy, same bytes"});
  state.counters["params"] = static_cast<double>(total);
  for (float* p : buffers) cudaFree(p);
}

// ---- Linear: our gemm vs cublasSgemm ----

cublasHandle_t cublas() {
  static cublasHandle_t h = [] {
    cublasHandle_t handle = nullptr;
    GAN_CUBLAS_CHECK(cublasCreate(&handle));
    GAN_CUBLAS_CHECK(cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH));  // FP32, as our gemm by default
    return handle;
  }();
  GAN_CUBLAS_CHECK(cublasSetStream(h, kc::stream()));
  return h;
}

// y[M, N] = x[M, K] W[N, K]^T, row-major (nn.Linear's forward without the bias).
void BM_Linear(benchmark::State& state, int64_t M, int64_t K, int64_t N) {
  bench::L2Flush& flush = bench::l2_flush();
  float* x = device_random(static_cast<size_t>(M * K), 1, -1.f, 1.f);
  float* w = device_random(static_cast<size_t>(N * K), 2, -0.05f, 0.05f);
  float* y = device_random(static_cast<size_t>(M * N), 3, 0.f, 1.f);
  const double ms = bench::time_in_loop(state, flush, [&] {
    kc::gemm<float>(false, true, M, N, K, 1.f, x, K, w, K, 0.f, y, N);
  });
  const float one = 1.f, zero = 0.f;
  // Column-major view: y^T[N, M] = W[N, K] x^T[K, M], i.e. op(W_cm) = T, op(x_cm) = N.
  const double base = bench::time_ms(flush, [&] {
                        GAN_CUBLAS_CHECK(cublasSgemm(cublas(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N),
                                                     static_cast<int>(M), static_cast<int>(K), &one, w,
                                                     static_cast<int>(K), x, static_cast<int>(K), &zero, y,
                                                     static_cast<int>(N)));
                      }).mean_ms;
  bench::report(state, {"linear " + std::to_string(M) + "x" + std::to_string(K) + " -> " + std::to_string(N), ms,
                        2.0 * M * N * K, bench::Unit::TFLOPS, base, "cublasSgemm direct"});
  for (float* p : {x, w, y}) cudaFree(p);
}

}  // namespace

int main(int argc, char** argv) {
  // Losses at DCGAN's batch (128 logits: latency-bound) and at image-sized inputs (bandwidth-bound).
  for (Loss l : {Loss::Bce, Loss::Mse, Loss::Kl, Loss::Wasserstein})
    for (int64_t n : {int64_t{128}, int64_t{128} * 3 * 64 * 64})
      benchmark::RegisterBenchmark((std::string("loss/") + loss_name(l) + "/" + std::to_string(n)).c_str(), BM_Loss,
                                   l, n)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("adam/dcgan64", BM_AdamDcgan)->UseManualTime()->Unit(benchmark::kMicrosecond);
  // Linear layers of the MLP GANs (batch 128: 100 -> 256 -> 512 -> 1024 -> 784) and a larger square one.
  const int64_t linear[][3] = {{128, 100, 256}, {128, 512, 1024}, {128, 1024, 784}, {128, 784, 1024}, {4096, 4096, 4096}};
  for (const auto& s : linear)
    benchmark::RegisterBenchmark(("linear/" + std::to_string(s[0]) + "x" + std::to_string(s[1]) + "x" +
                                  std::to_string(s[2])).c_str(),
                                 BM_Linear, s[0], s[1], s[2])
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  return bench::run_main(argc, argv, "Fused losses, Adam over DCGAN-64, Linear GEMM (FP32)");
}
