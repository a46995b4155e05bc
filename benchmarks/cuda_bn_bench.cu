// Batch norm + activation at every batch-norm shape of DCGAN-64, batch 128, FP32 NCHW: our fused kernels
// (kernels/cuda/batch_norm.cu) against cuDNN, training forward and backward, with both measured against the
// device-to-device copy bandwidth on the same buffer size.
//
// Bytes counted are the minimum traffic of the fused op, the same for ours and cuDNN: forward reads x and writes
// y (2 n floats), backward reads dy, x, y and writes dx (4 n floats); per-channel arrays are negligible. The copy
// reference is cudaMemcpyAsync D2D of n floats (2 n floats moved); "of copy" = our GB/s / copy GB/s.
//
// cuDNN baseline: cudnnBatchNormalizationForwardTrainingEx / BackwardEx with CUDNN_BATCHNORM_OPS_BN_ACTIVATION is
// tried first; cuDNN supports that fusion only for NHWC half precision, so for this FP32 NCHW data it normally
// reports NOT_SUPPORTED and the baseline becomes cudnnBatchNormalizationForwardTraining followed by
// cudnnActivationForward (backward: cudnnActivationBackward then cudnnBatchNormalizationBackward), with the faster
// of the SPATIAL and SPATIAL_PERSISTENT modes. The row's label says which ran. cuDNN has no LeakyReLU activation,
// so the discriminator's rows (LeakyReLU 0.2 in ours) use ReLU in cuDNN: the same memory traffic.
#include <cudnn.h>

#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "benchmarks/cuda_bench_util.h"
#include "kernels/batch_norm.h"
#include "kernels/cuda/runtime.h"

namespace {

namespace k = gan::kernels;
namespace kc = gan::kernels::cuda;
namespace bench = gan::bench;

struct BnCase {
  const char* net;  // "D" or "G"
  int64_t N, C, H, W;
  k::BnActivationParams act;
};

// DCGAN-64 (ndf = ngf = 64): D's batch norms feed LeakyReLU(0.2), G's feed ReLU.
const BnCase kCases[] = {
    {"D", 128, 64, 32, 32, {k::BnActivation::LeakyReLU, 0.2}},  {"D", 128, 128, 16, 16, {k::BnActivation::LeakyReLU, 0.2}},
    {"D", 128, 256, 8, 8, {k::BnActivation::LeakyReLU, 0.2}},   {"D", 128, 512, 4, 4, {k::BnActivation::LeakyReLU, 0.2}},
    {"G", 128, 512, 4, 4, {k::BnActivation::ReLU, 0.0}},        {"G", 128, 256, 8, 8, {k::BnActivation::ReLU, 0.0}},
    {"G", 128, 128, 16, 16, {k::BnActivation::ReLU, 0.0}},      {"G", 128, 64, 32, 32, {k::BnActivation::ReLU, 0.0}},
};

cudnnHandle_t cudnn() {
  static cudnnHandle_t handle = [] {
    cudnnHandle_t h = nullptr;
    GAN_CUDNN_CHECK(cudnnCreate(&h));
    return h;
  }();
  GAN_CUDNN_CHECK(cudnnSetStream(handle, kc::stream()));
  return handle;
}

float* device_random(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> host(n);
  for (float& v : host) v = dist(rng);
  float* p = nullptr;
  GAN_CUDA_CHECK(cudaMalloc(&p, n * sizeof(float)));
  kc::memcpy_h2d(p, host.data(), n * sizeof(float));
  return p;
}

// Device buffers of one case, freed at scope exit.
struct Buffers {
  size_t n, C;
  float *x, *y, *gy, *dx, *dz, *w, *b, *rm, *rv, *sm, *siv, *dw, *db;
  explicit Buffers(const BnCase& c)
      : n(static_cast<size_t>(c.N * c.C * c.H * c.W)), C(static_cast<size_t>(c.C)) {
    x = device_random(n, 1, -2.f, 3.f);
    y = device_random(n, 2, 0.f, 1.f);
    gy = device_random(n, 3, -1.f, 1.f);
    dx = device_random(n, 4, 0.f, 1.f);
    dz = device_random(n, 5, 0.f, 1.f);
    w = device_random(C, 6, 0.5f, 1.5f);
    b = device_random(C, 7, -0.5f, 0.5f);
    rm = device_random(C, 8, -0.1f, 0.1f);
    rv = device_random(C, 9, 0.9f, 1.1f);
    sm = device_random(C, 10, 0.f, 1.f);
    siv = device_random(C, 11, 0.f, 1.f);
    dw = device_random(C, 12, 0.f, 1.f);
    db = device_random(C, 13, 0.f, 1.f);
  }
  ~Buffers() {
    for (float* p : {x, y, gy, dx, dz, w, b, rm, rv, sm, siv, dw, db}) cudaFree(p);
  }
  Buffers(const Buffers&) = delete;
  Buffers& operator=(const Buffers&) = delete;
};

struct CudnnDescs {
  cudnnTensorDescriptor_t x = nullptr, bn = nullptr;
  cudnnActivationDescriptor_t act = nullptr;
  explicit CudnnDescs(const BnCase& c) {
    GAN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
    GAN_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(c.N),
                                               static_cast<int>(c.C), static_cast<int>(c.H), static_cast<int>(c.W)));
    GAN_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bn));
    GAN_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(bn, x, CUDNN_BATCHNORM_SPATIAL));
    GAN_CUDNN_CHECK(cudnnCreateActivationDescriptor(&act));
    GAN_CUDNN_CHECK(cudnnSetActivationDescriptor(act, CUDNN_ACTIVATION_RELU, CUDNN_PROPAGATE_NAN, 0.0));
  }
  ~CudnnDescs() {
    cudnnDestroyTensorDescriptor(x);
    cudnnDestroyTensorDescriptor(bn);
    cudnnDestroyActivationDescriptor(act);
  }
};

constexpr double kEps = 1e-5, kMomentum = 0.1;

// cuDNN's fused BN + activation (the Ex API), when it supports this layout and type: ok is false otherwise.
struct CudnnFused {
  static constexpr cudnnBatchNormMode_t kMode = CUDNN_BATCHNORM_SPATIAL_PERSISTENT;
  static constexpr cudnnBatchNormOps_t kOps = CUDNN_BATCHNORM_OPS_BN_ACTIVATION;
  bool ok = false;
  void *ws = nullptr, *bws = nullptr, *reserve = nullptr;
  size_t ws_bytes = 0, bws_bytes = 0, reserve_bytes = 0;

  CudnnFused(const CudnnDescs& d, Buffers& b) {
    if (cudnnGetBatchNormalizationForwardTrainingExWorkspaceSize(cudnn(), kMode, kOps, d.x, nullptr, d.x, d.bn, d.act,
                                                                 &ws_bytes) != CUDNN_STATUS_SUCCESS ||
        cudnnGetBatchNormalizationBackwardExWorkspaceSize(cudnn(), kMode, kOps, d.x, d.x, d.x, nullptr, d.x, d.bn,
                                                          d.act, &bws_bytes) != CUDNN_STATUS_SUCCESS ||
        cudnnGetBatchNormalizationTrainingExReserveSpaceSize(cudnn(), kMode, kOps, d.act, d.x, &reserve_bytes) !=
            CUDNN_STATUS_SUCCESS)
      return;
    GAN_CUDA_CHECK(cudaMalloc(&ws, ws_bytes + 256));
    GAN_CUDA_CHECK(cudaMalloc(&bws, bws_bytes + 256));
    GAN_CUDA_CHECK(cudaMalloc(&reserve, reserve_bytes + 256));
    ok = forward(d, b) == CUDNN_STATUS_SUCCESS && backward(d, b) == CUDNN_STATUS_SUCCESS;
    GAN_CUDA_CHECK(cudaStreamSynchronize(kc::stream()));
  }
  ~CudnnFused() {
    cudaFree(ws);
    cudaFree(bws);
    cudaFree(reserve);
  }
  CudnnFused(const CudnnFused&) = delete;
  CudnnFused& operator=(const CudnnFused&) = delete;

  cudnnStatus_t forward(const CudnnDescs& d, Buffers& b) {
    const float one = 1.f, zero = 0.f;
    return cudnnBatchNormalizationForwardTrainingEx(cudnn(), kMode, kOps, &one, &zero, d.x, b.x, nullptr, nullptr,
                                                    d.x, b.y, d.bn, b.w, b.b, kMomentum, b.rm, b.rv, kEps, b.sm,
                                                    b.siv, d.act, ws, ws_bytes, reserve, reserve_bytes);
  }
  cudnnStatus_t backward(const CudnnDescs& d, Buffers& b) {
    const float one = 1.f, zero = 0.f;
    return cudnnBatchNormalizationBackwardEx(cudnn(), kMode, kOps, &one, &zero, &one, &zero, d.x, b.x, d.x, b.y, d.x,
                                             b.gy, nullptr, nullptr, d.x, b.dx, d.bn, b.w, b.b, b.dw, b.db, kEps,
                                             b.sm, b.siv, d.act, bws, bws_bytes, reserve, reserve_bytes);
  }
};

// The unfused cuDNN forward: BN then activation in place.
void cudnn_forward(const CudnnDescs& d, Buffers& b, cudnnBatchNormMode_t mode) {
  const float one = 1.f, zero = 0.f;
  GAN_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(cudnn(), mode, &one, &zero, d.x, b.x, d.x, b.y, d.bn, b.w,
                                                         b.b, kMomentum, b.rm, b.rv, kEps, b.sm, b.siv));
  GAN_CUDNN_CHECK(cudnnActivationForward(cudnn(), d.act, &one, d.x, b.y, &zero, d.x, b.y));
}

// The unfused cuDNN backward: activation backward (the ReLU mask from y) into dz, then BN backward.
void cudnn_backward(const CudnnDescs& d, Buffers& b, cudnnBatchNormMode_t mode) {
  const float one = 1.f, zero = 0.f;
  GAN_CUDNN_CHECK(cudnnActivationBackward(cudnn(), d.act, &one, d.x, b.y, d.x, b.gy, d.x, b.y, &zero, d.x, b.dz));
  GAN_CUDNN_CHECK(cudnnBatchNormalizationBackward(cudnn(), mode, &one, &zero, &one, &zero, d.x, b.x, d.x, b.dz, d.x,
                                                  b.dx, d.bn, b.w, b.dw, b.db, kEps, b.sm, b.siv));
}

struct Fraction {
  std::string name;
  double ours_gbps, cudnn_gbps, copy_gbps;
};
std::vector<Fraction>& fractions() {
  static std::vector<Fraction> f;
  return f;
}

std::string case_name(const BnCase& c, bool backward) {
  return std::string("bn ") + (backward ? "bwd " : "fwd ") + c.net + " [" + std::to_string(c.N) + "," +
         std::to_string(c.C) + "," + std::to_string(c.H) + "," + std::to_string(c.W) + "] " +
         (c.act.kind == k::BnActivation::ReLU ? "relu" : "lrelu");
}

void BM_BatchNorm(benchmark::State& state, BnCase c, bool backward) {
  bench::L2Flush& flush = bench::l2_flush();
  Buffers b(c);
  CudnnDescs d(c);
  const k::BatchNormShape shape{c.N, c.C, c.H * c.W};
  // Ours. The backward uses the statistics and output of one forward run first.
  kc::batch_norm_forward_train<float>(b.x, shape, b.w, b.b, kEps, c.act, b.y, b.sm, b.siv, b.rm, b.rv, kMomentum);
  auto ours = [&] {
    if (backward)
      kc::batch_norm_backward<float>(b.gy, b.x, b.y, shape, b.sm, b.siv, b.w, true, c.act, b.dx, b.dw, b.db);
    else
      kc::batch_norm_forward_train<float>(b.x, shape, b.w, b.b, kEps, c.act, b.y, b.sm, b.siv, b.rm, b.rv,
                                          kMomentum);
  };
  const double ms = bench::time_in_loop(state, flush, ours);

  // cuDNN: the fused path where supported, else the faster of the two unfused modes.
  std::string base_name;
  double base_ms = 0;
  CudnnFused fused(d, b);
  if (fused.ok) {
    base_ms = bench::time_ms(flush, [&] {
                GAN_CUDNN_CHECK(backward ? fused.backward(d, b) : fused.forward(d, b));
              }).mean_ms;
    base_name = "cuDNN BatchNormalization*Ex BN_ACTIVATION(RELU), SPATIAL_PERSISTENT";
  } else {
    for (cudnnBatchNormMode_t mode : {CUDNN_BATCHNORM_SPATIAL, CUDNN_BATCHNORM_SPATIAL_PERSISTENT}) {
      const bench::Timing t = bench::time_ms(flush, [&] {
        if (backward)
          cudnn_backward(d, b, mode);
        else
          cudnn_forward(d, b, mode);
      });
      if (base_ms == 0 || t.mean_ms < base_ms) {
        base_ms = t.mean_ms;
        base_name = std::string("cuDNN BN(") + (mode == CUDNN_BATCHNORM_SPATIAL ? "SPATIAL" : "SPATIAL_PERSISTENT") +
                    ") + " + (backward ? "ActivationBackward" : "ActivationForward") +
                    "(RELU), unfused: BN_ACTIVATION Ex not supported";
      }
    }
  }

  // The copy reference on the same buffer size.
  const size_t bytes = b.n * sizeof(float);
  const bench::Timing copy = bench::time_ms(flush, [&] {
    GAN_CUDA_CHECK(cudaMemcpyAsync(b.dz, b.x, bytes, cudaMemcpyDeviceToDevice, kc::stream()));
  });
  const double work = static_cast<double>(bytes) * (backward ? 4.0 : 2.0);
  bench::ResultRow row{case_name(c, backward), ms, work, bench::Unit::GBPS, base_ms, base_name};
  bench::report(state, row);
  const double copy_gbps = 2.0 * static_cast<double>(bytes) / (copy.mean_ms * 1e-3) * 1e-9;
  state.counters["copy_GBps"] = copy_gbps;
  state.counters["of_copy"] = row.throughput() / copy_gbps;
  for (Fraction& f : fractions())
    if (f.name == row.name) {
      f = {row.name, row.throughput(), row.baseline_throughput(), copy_gbps};
      return;
    }
  fractions().push_back({row.name, row.throughput(), row.baseline_throughput(), copy_gbps});
}

}  // namespace

int main(int argc, char** argv) {
  for (bool backward : {false, true})
    for (const BnCase& c : kCases)
      benchmark::RegisterBenchmark(case_name(c, backward).c_str(), BM_BatchNorm, c, backward)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
  const int rc = bench::run_main(argc, argv, "DCGAN-64 batch norm + activation, batch 128, FP32 NCHW (ours vs cuDNN)");
  if (rc != 0 || fractions().empty()) return rc;
  std::cout << "\n### Fraction of device-to-device copy bandwidth (cudaMemcpyAsync D2D, same buffer size)\n\n"
            << "| op | ours GB/s | cuDNN GB/s | copy GB/s | ours / copy | cuDNN / copy |\n"
            << "| --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (const Fraction& f : fractions()) {
    char line[256];
    std::snprintf(line, sizeof line, "| %s | %.1f | %.1f | %.1f | %.2f | %.2f |\n", f.name.c_str(), f.ours_gbps,
                  f.cudnn_gbps, f.copy_gbps, f.ours_gbps / f.copy_gbps, f.cudnn_gbps / f.copy_gbps);
    std::cout << line;
  }
  return 0;
}
