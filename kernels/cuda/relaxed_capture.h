// cudaMalloc while the calling thread captures a CUDA graph (kernels/cuda/graph.h): the driver counts it among the
// "potentially unsafe" calls, which a capture begun in thread-local or global mode refuses on its thread
// (cudaErrorStreamCaptureUnsupported, and the capture is invalidated; seen on an H200, driver 580). An allocation
// queues nothing on the capturing stream and waits for nothing, so, as PyTorch's caching allocator does, the
// thread switches itself to relaxed mode for the call and back afterwards (cudaThreadExchangeStreamCaptureMode).
// Only around cudaMalloc: a cudaFree or a synchronize during a capture must still fail it. Needs the CUDA runtime
// (or the emulator's) headers.
#pragma once

#include <cuda_runtime.h>

#include "kernels/cuda/check.h"

namespace gan::kernels::cuda::detail {

class RelaxedCaptureMode {
 public:
  RelaxedCaptureMode() { GAN_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode_)); }
  ~RelaxedCaptureMode() { (void)cudaThreadExchangeStreamCaptureMode(&mode_); }  // the thread's own mode back
  RelaxedCaptureMode(const RelaxedCaptureMode&) = delete;
  RelaxedCaptureMode& operator=(const RelaxedCaptureMode&) = delete;

 private:
  cudaStreamCaptureMode mode_ = cudaStreamCaptureModeRelaxed;
};

}  // namespace gan::kernels::cuda::detail
