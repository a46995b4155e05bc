// CUDA graphs on the emulator (runtime_api.h, "CUDA graphs"): a capture records and runs nothing, a replay runs the
// recorded work in order and reads device memory as it is then, and the capture is as strict as the driver (or
// stricter) about what would make a graph wrong: each check has a test that shows it firing. Then the graph
// wrapper (kernels/cuda/graph.h): its replay counts one launch, its failures say why, and its private pool keeps
// the captured work's memory away from everyone else.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "device_array.h"
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/graph.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/runtime.h"

namespace {

namespace kc = gan::kernels::cuda;
using gan::testing::DeviceArray;

__global__ void axpy_kernel(float* out, const float* in, float a, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) out[i] = a * in[i] + out[i];
}

__global__ void add_one_kernel(float* x, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) x[i] += 1.0f;
}

// Begins a capture on the device's stream (thread-local mode, as kernels/cuda/graph.cu does).
void begin() { GAN_CUDA_CHECK(cudaStreamBeginCapture(kc::stream(), cudaStreamCaptureModeThreadLocal)); }

// Ends the capture and returns its error, destroying any graph and clearing the last error.
cudaError_t end() {
  cudaGraph_t g = nullptr;
  const cudaError_t err = cudaStreamEndCapture(kc::stream(), &g);
  if (g != nullptr) (void)cudaGraphDestroy(g);
  (void)cudaGetLastError();
  return err;
}

TEST(EmulatorGraphs, CaptureRunsNothingAndReplaysSeeTheDataOfTheirTime) {
  constexpr int n = 70;
  DeviceArray<float> out(std::vector<float>(n, 1.0f)), in(std::vector<float>(n, 2.0f));
  begin();
  kc::launch<axpy_kernel>(1, 128, 0, kc::stream(), out.ptr, in.ptr, 3.0f, n);
  kc::launch<add_one_kernel>(1, 128, 0, kc::stream(), out.ptr, n);
  cudaGraph_t graph = nullptr;
  GAN_CUDA_CHECK(cudaStreamEndCapture(kc::stream(), &graph));
  size_t nodes = 0;
  GAN_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &nodes));
  EXPECT_EQ(nodes, 2u);
  EXPECT_EQ(out.download(), std::vector<float>(n, 1.0f)) << "a capture must not run the work";
  cudaGraphExec_t exec = nullptr;
  GAN_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  GAN_CUDA_CHECK(cudaGraphLaunch(exec, kc::stream()));
  EXPECT_EQ(out.download(), std::vector<float>(n, 1.0f + 6.0f + 1.0f));  // in order: axpy, then + 1
  // The host writes new input between replays: the replay's kernel reads it (the arguments are frozen, the
  // memory is not).
  kc::memcpy_h2d(in.ptr, std::vector<float>(n, -1.0f).data(), n * sizeof(float));
  GAN_CUDA_CHECK(cudaGraphLaunch(exec, kc::stream()));
  EXPECT_EQ(out.download(), std::vector<float>(n, 8.0f - 3.0f + 1.0f));
  GAN_CUDA_CHECK(cudaGraphExecDestroy(exec));
  GAN_CUDA_CHECK(cudaGraphDestroy(graph));
}

TEST(EmulatorGraphs, SynchronizingCallsFailAndInvalidateTheCapture) {
  DeviceArray<float> x(16);
  float host[16] = {};
  struct Case {
    const char* what;
    std::function<cudaError_t()> call;
  };
  cudaEvent_t plain = nullptr;
  GAN_CUDA_CHECK(cudaEventCreate(&plain));
  GAN_CUDA_CHECK(cudaEventRecord(plain, kc::stream()));
  void* to_free = nullptr;
  GAN_CUDA_CHECK(cudaMalloc(&to_free, 64));
  const std::vector<Case> cases = {
      {"cudaStreamSynchronize", [] { return cudaStreamSynchronize(kc::stream()); }},
      {"cudaStreamQuery", [] { return cudaStreamQuery(kc::stream()); }},
      {"cudaDeviceSynchronize", [] { return cudaDeviceSynchronize(); }},
      {"cudaMemcpy", [&] { return cudaMemcpy(host, x.ptr, sizeof host, cudaMemcpyDeviceToHost); }},
      {"cudaMemset", [&] { return cudaMemset(x.ptr, 0, sizeof host); }},
      {"cudaEventSynchronize", [&] { return cudaEventSynchronize(plain); }},
      {"cudaFree", [&] { return cudaFree(to_free); }},
      // Refused by an H200's driver (580) in a thread-local capture, though it waits for nothing: the next test.
      {"cudaMalloc", [] {
         void* p = nullptr;
         return cudaMalloc(&p, 64);
       }},
  };
  for (const Case& c : cases) {
    begin();
    kc::launch<add_one_kernel>(1, 32, 0, kc::stream(), x.ptr, 16);
    EXPECT_EQ(c.call(), cudaErrorStreamCaptureUnsupported) << c.what;
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    GAN_CUDA_CHECK(cudaStreamIsCapturing(kc::stream(), &status));
    EXPECT_EQ(status, cudaStreamCaptureStatusInvalidated) << c.what;
    EXPECT_EQ(end(), cudaErrorStreamCaptureInvalidated) << c.what;
  }
  GAN_CUDA_CHECK(cudaEventDestroy(plain));
  GAN_CUDA_CHECK(cudaFree(to_free));
  EXPECT_EQ(x.download(), std::vector<float>(16, 0.0f)) << "nothing of a failed capture may have run";
}

// A thread that switches itself to relaxed mode may allocate during its capture (the caching allocator does, for a
// graph's private pool: kernels/cuda/relaxed_capture.h), and a synchronizing call still fails once it switches back.
TEST(EmulatorGraphs, CudaMallocInACaptureNeedsTheThreadInRelaxedMode) {
  begin();
  void* p = nullptr;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  GAN_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  EXPECT_EQ(mode, cudaStreamCaptureModeGlobal) << "a thread's own mode starts global, as the driver's";
  EXPECT_EQ(cudaMalloc(&p, 256), cudaSuccess);
  GAN_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  EXPECT_EQ(mode, cudaStreamCaptureModeRelaxed);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  GAN_CUDA_CHECK(cudaStreamIsCapturing(kc::stream(), &status));
  EXPECT_EQ(status, cudaStreamCaptureStatusActive) << "the relaxed allocation must not invalidate the capture";
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorStreamCaptureUnsupported) << "back in global mode";
  EXPECT_EQ(end(), cudaErrorStreamCaptureInvalidated);
  GAN_CUDA_CHECK(cudaFree(p));
}

TEST(EmulatorGraphs, AnEventRecordedInTheCaptureCannotBeWaitedForOnTheHost) {
  cudaEvent_t e = nullptr;
  GAN_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  begin();
  GAN_CUDA_CHECK(cudaEventRecord(e, kc::stream()));
  EXPECT_EQ(cudaEventQuery(e), cudaErrorCapturedEvent);
  EXPECT_EQ(cudaEventSynchronize(e), cudaErrorCapturedEvent);
  (void)end();
  GAN_CUDA_CHECK(cudaEventDestroy(e));
}

TEST(EmulatorGraphs, WorkOnAStreamOutsideTheCaptureIsAnError) {
  DeviceArray<float> x(8);
  cudaStream_t other = nullptr;
  GAN_CUDA_CHECK(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking));
  begin();
  try {
    kc::launch<add_one_kernel>(1, 32, 0, other, x.ptr, 8);
    ADD_FAILURE() << "a launch on a stream outside the capture was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not part of the capture"), std::string::npos) << e.what();
  }
  EXPECT_EQ(end(), cudaSuccess);
  // Another thread's work on another stream is its own business in thread-local mode (a data loader's).
  begin();
  std::thread([&] { kc::launch<add_one_kernel>(1, 32, 0, other, x.ptr, 8); }).join();
  EXPECT_EQ(end(), cudaSuccess);
  EXPECT_EQ(x.download(), std::vector<float>(8, 1.0f));
  GAN_CUDA_CHECK(cudaStreamDestroy(other));
}

TEST(EmulatorGraphs, AForkedStreamJoinsTheCaptureAndMustBeJoinedBack) {
  DeviceArray<float> x(8);
  cudaStream_t side = nullptr;
  cudaEvent_t fork = nullptr, join = nullptr;
  GAN_CUDA_CHECK(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking));
  GAN_CUDA_CHECK(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
  GAN_CUDA_CHECK(cudaEventCreateWithFlags(&join, cudaEventDisableTiming));
  for (const bool join_back : {true, false}) {
    begin();
    GAN_CUDA_CHECK(cudaEventRecord(fork, kc::stream()));
    GAN_CUDA_CHECK(cudaStreamWaitEvent(side, fork, 0));
    kc::launch<add_one_kernel>(1, 32, 0, side, x.ptr, 8);  // recorded: the side stream joined
    if (join_back) {
      GAN_CUDA_CHECK(cudaEventRecord(join, side));
      GAN_CUDA_CHECK(cudaStreamWaitEvent(kc::stream(), join, 0));
    }
    EXPECT_EQ(end(), join_back ? cudaSuccess : cudaErrorStreamCaptureUnjoined);
  }
  EXPECT_EQ(x.download(), std::vector<float>(8, 0.0f)) << "recorded work must not run";
  GAN_CUDA_CHECK(cudaEventDestroy(fork));
  GAN_CUDA_CHECK(cudaEventDestroy(join));
  GAN_CUDA_CHECK(cudaStreamDestroy(side));
}

TEST(EmulatorGraphs, ACopyFromPageableHostMemoryCannotBeCaptured) {
  DeviceArray<float> x(8);
  std::vector<float> host(8, 5.0f);
  begin();
  EXPECT_EQ(cudaMemcpyAsync(x.ptr, host.data(), 8 * sizeof(float), cudaMemcpyHostToDevice, kc::stream()),
            cudaErrorStreamCaptureUnsupported);
  (void)end();
}

// ---- the wrapper ----

TEST(EmulatorGraphs, AGraphReplayIsOneCountedLaunch) {
  DeviceArray<float> x(8);
  kc::Graph g;
  kc::reset_launch_counts();
  g.capture([&] {
    for (int i = 0; i < 5; ++i) kc::launch<add_one_kernel>(1, 32, 0, kc::stream(), x.ptr, 8);
  });
  EXPECT_EQ(g.node_count(), 5u);
  EXPECT_EQ(kc::launch_count(), 5u) << "the captured launches are counted once, at the capture";
  kc::reset_launch_counts();
  g.replay();
  g.replay();
  EXPECT_EQ(kc::launch_count(), 2u);
  const std::vector<kc::KernelLaunches> per_kernel = kc::launch_counts();
  ASSERT_EQ(per_kernel.size(), 1u);
  EXPECT_EQ(per_kernel[0].kernel, "cuda_graph_launch");
  EXPECT_EQ(x.download(), std::vector<float>(8, 10.0f));
}

TEST(EmulatorGraphs, AFailedCaptureSaysWhichCallBrokeItAndLeavesNothingBehind) {
  DeviceArray<float> x(8);
  kc::Graph g;
  bool aborted = false;
  try {
    g.capture([&] {
      kc::add_capture_hooks({.at_end = {}, .on_abort = [&] { aborted = true; }, .before_replay = {}});
      kc::launch<add_one_kernel>(1, 32, 0, kc::stream(), x.ptr, 8);
      kc::synchronize();
    });
    ADD_FAILURE() << "a capture that synchronizes succeeded";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("CUDA graph capture failed"), std::string::npos) << what;
    EXPECT_NE(what.find("cudaStreamSynchronize"), std::string::npos) << what;
    EXPECT_NE(what.find("cudaErrorStreamCaptureUnsupported"), std::string::npos) << what;
  }
  EXPECT_TRUE(aborted);
  EXPECT_FALSE(g.captured());
  EXPECT_FALSE(kc::capturing());
  // No error left behind for the next launch check, and the stream works eagerly again.
  kc::launch<add_one_kernel>(1, 32, 0, kc::stream(), x.ptr, 8);
  EXPECT_EQ(x.download(), std::vector<float>(8, 1.0f));
}

TEST(EmulatorGraphs, AHostUploadInsideTheCaptureIsRefused) {
  DeviceArray<float> x(8);
  kc::Graph g;
  const std::vector<float> host(8, 2.0f);
  try {
    g.capture([&] { kc::memcpy_h2d(x.ptr, host.data(), 8 * sizeof(float)); });
    ADD_FAILURE() << "an upload was captured";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("memcpy_h2d"), std::string::npos) << e.what();
  }
}

TEST(EmulatorGraphs, ThePrivatePoolKeepsTheCapturedMemoryFromOthersUntilTheGraphDies) {
  DeviceArray<float> out(8);
  void* inside = nullptr;
  {
    kc::Graph g;
    g.capture([&] {
      // A temporary of the captured work: allocated, used and freed inside the capture.
      inside = kc::device_alloc(8 * sizeof(float));
      GAN_CUDA_CHECK(cudaMemsetAsync(inside, 0, 8 * sizeof(float), kc::stream()));
      kc::launch<add_one_kernel>(1, 32, 0, kc::stream(), static_cast<float*>(inside), 8);
      kc::launch<axpy_kernel>(1, 32, 0, kc::stream(), out.ptr, static_cast<const float*>(inside), 1.0f, 8);
      kc::device_free(inside);
    });
    // Outside the capture the same size class is served elsewhere: the graph's block is not handed out.
    void* outside = kc::device_alloc(8 * sizeof(float));
    EXPECT_NE(outside, inside);
    g.replay();
    kc::device_free(outside);
    g.replay();
    EXPECT_EQ(out.download(), std::vector<float>(8, 2.0f));
  }
  // Once the graph is gone its blocks join the shared cache.
  bool reused = false;
  std::vector<void*> taken;
  for (int i = 0; i < 4 && !reused; ++i) {
    taken.push_back(kc::device_alloc(8 * sizeof(float)));
    reused = taken.back() == inside;
  }
  for (void* p : taken) kc::device_free(p);
  EXPECT_TRUE(reused) << "the graph's block never came back to the shared cache";
}

}  // namespace
