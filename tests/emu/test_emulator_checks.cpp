// The SIMT emulator's checks (GAN_CUDA=EMU), each shown firing on a deliberately wrong kernel or call: a GPU would
// hang, return garbage or let these pass silently; the emulator stops with an error that names the kernel, the
// block, a thread and the source line. Built only in the emulator flavour (label `emu`): these kernels must never
// reach a real GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/dynamic_shared.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"

namespace {

namespace kc = gan::kernels::cuda;

// A device buffer of n floats, freed at scope end.
struct DeviceFloats {
  explicit DeviceFloats(size_t count) : n(count) { GAN_CUDA_CHECK(cudaMalloc(&ptr, n * sizeof(float))); }
  ~DeviceFloats() { (void)cudaFree(ptr); }
  std::vector<float> download() const {
    std::vector<float> host(n);
    kc::memcpy_d2h(host.data(), ptr, n * sizeof(float));
    return host;
  }
  size_t n;
  float* ptr = nullptr;
};

// Runs `launch`, which must throw std::runtime_error whose message matches every regex in `patterns`.
void expect_error(const std::function<void()>& launch, const std::vector<std::string>& patterns) {
  try {
    launch();
    ADD_FAILURE() << "no error was reported";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    for (const std::string& p : patterns)
      EXPECT_TRUE(std::regex_search(what, std::regex(p))) << "'" << p << "' not found in: " << what;
  }
}

// The source-line part of an error: this file, a line number, and the function.
std::string at(const std::string& function) { return "tests/emu/test_emulator_checks\\.cpp:[0-9]+ \\(" + function; }

// ---- barriers ----

__global__ void divergent_barrier_kernel(float* out) {
  if (threadIdx.x < 32) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1.0f;
}

TEST(EmulatorChecks, BarrierReachedFromDifferentLinesIsReported) {
  DeviceFloats out(64);
  expect_error([&] { kc::launch<divergent_barrier_kernel>(1, 64, 0, kc::stream(), out.ptr); },
               {"kernel divergent_barrier_kernel", "block \\(0, 0, 0\\)", "thread \\([0-9]+, 0, 0\\)",
                "divergent barrier: threads 0-31 wait at __syncthreads\\(\\) at " + at("divergent_barrier_kernel"),
                "threads 32-63 at " + at("divergent_barrier_kernel")});
}

__global__ void early_exit_kernel(float* out) {
  if (threadIdx.x >= 16) return;  // these threads never reach the barrier
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

TEST(EmulatorChecks, BarrierThatExitedThreadsNeverReachIsADeadlock) {
  DeviceFloats out(64);
  expect_error([&] { kc::launch<early_exit_kernel>(dim3(2), 64, 0, kc::stream(), out.ptr); },
               {"kernel early_exit_kernel", "block \\([01], 0, 0\\)",
                "deadlock at __syncthreads\\(\\) at " + at("early_exit_kernel"), "threads 16-63 of the block exited"});
}

__global__ void shuffle_then_barrier_kernel(float* out) {
  float v = static_cast<float>(threadIdx.x);
  if (threadIdx.x < 16) v = __shfl_down_sync(0xffffffffu, v, 1);  // lanes 16-31 never join
  __syncthreads();
  out[threadIdx.x] = v;
}

TEST(EmulatorChecks, WarpOperationThatNamedLanesNeverJoinIsADeadlock) {
  DeviceFloats out(32);
  expect_error([&] { kc::launch<shuffle_then_barrier_kernel>(1, 32, 0, kc::stream(), out.ptr); },
               {"kernel shuffle_then_barrier_kernel", "deadlock in __shfl_down_sync \\(mask 0xffffffff\\)",
                "lanes 16-31 wait at __syncthreads\\(\\) at " + at("shuffle_then_barrier_kernel")});
}

// ---- warp-collective masks ----

__global__ void shuffle_after_exit_kernel(float* out) {
  if (threadIdx.x >= 8) return;
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1.0f, 1);  // names lanes 8-31, which have exited
}

TEST(EmulatorChecks, ShuffleMaskNamingExitedLanesIsReported) {
  DeviceFloats out(32);
  expect_error([&] { kc::launch<shuffle_after_exit_kernel>(1, 32, 0, kc::stream(), out.ptr); },
               {"kernel shuffle_after_exit_kernel", "block \\(0, 0, 0\\)", "thread \\([0-9]+, 0, 0\\)",
                "exited", "__shfl_down_sync", at("shuffle_after_exit_kernel")});
}

__global__ void full_mask_in_partial_warp_kernel(float* out) {
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, 1.0f, 1);  // the block's second warp has 16 lanes
}

TEST(EmulatorChecks, ShuffleMaskNamingAbsentLanesIsReported) {
  DeviceFloats out(48);
  expect_error([&] { kc::launch<full_mask_in_partial_warp_kernel>(1, 48, 0, kc::stream(), out.ptr); },
               {"kernel full_mask_in_partial_warp_kernel", "thread \\((3[2-9]|4[0-7]), 0, 0\\)",
                "names lanes that do not exist \\(the block has 48 threads: this warp has lanes 0-15\\)",
                at("full_mask_in_partial_warp_kernel")});
}

__global__ void mask_without_caller_kernel(float* out) {
  out[threadIdx.x] = __shfl_sync(0x2u, 1.0f, 1);  // lane 0 names only lane 1
}

TEST(EmulatorChecks, ShuffleMaskLeavingOutTheCallerIsReported) {
  DeviceFloats out(32);
  expect_error([&] { kc::launch<mask_without_caller_kernel>(1, 32, 0, kc::stream(), out.ptr); },
               {"thread \\(0, 0, 0\\)", "mask 0x00000002, which leaves out the calling lane 0",
                at("mask_without_caller_kernel")});
}

__global__ void source_outside_mask_kernel(float* out) {
  if (threadIdx.x < 16) out[threadIdx.x] = __shfl_sync(0x0000ffffu, 1.0f, 20);  // lane 20 is not in the mask
}

TEST(EmulatorChecks, ShuffleReadingALaneOutsideTheMaskIsReported) {
  DeviceFloats out(32);
  expect_error([&] { kc::launch<source_outside_mask_kernel>(1, 32, 0, kc::stream(), out.ptr); },
               {"kernel source_outside_mask_kernel", "reads lane 20, which is not in the mask 0x0000ffff",
                at("source_outside_mask_kernel")});
}

__global__ void mixed_warp_operations_kernel(float* out) {
  if (threadIdx.x < 16)
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.0f, 1);
  else
    out[threadIdx.x] = static_cast<float>(__ballot_sync(0xffffffffu, 1));
}

TEST(EmulatorChecks, LanesMeetingInDifferentWarpOperationsAreReported) {
  DeviceFloats out(32);
  expect_error([&] { kc::launch<mixed_warp_operations_kernel>(1, 32, 0, kc::stream(), out.ptr); },
               {"kernel mixed_warp_operations_kernel", "meet in different warp operations",
                "__ballot_sync at " + at("mixed_warp_operations_kernel"), "__shfl_xor_sync"});
}

// ---- launch configuration ----

__global__ void empty_kernel(float*) {}

TEST(EmulatorChecks, BlockOfMoreThan1024ThreadsIsRefused) {
  expect_error([&] { kc::launch<empty_kernel>(1, 1025, 0, kc::stream(), nullptr); },
               {"launch of kernel empty_kernel", "1025 threads per block, more than 1024"});
  expect_error([&] { kc::launch<empty_kernel>(1, dim3(32, 32, 2), 0, kc::stream(), nullptr); },
               {"2048 threads per block"});
}

TEST(EmulatorChecks, GridYOrZBeyond65535IsRefused) {
  expect_error([&] { kc::launch<empty_kernel>(dim3(1, 65536), 32, 0, kc::stream(), nullptr); },
               {"launch of kernel empty_kernel", "grid y or z beyond 65535"});
  expect_error([&] { kc::launch<empty_kernel>(dim3(1, 1, 70000), 32, 0, kc::stream(), nullptr); },
               {"grid y or z beyond 65535"});
}

__global__ void dynamic_shared_kernel(float* out, int n) {
  float* smem = kc::dynamic_shared<float>();
  for (int i = threadIdx.x; i < n; i += blockDim.x) smem[i] = static_cast<float>(i);
  __syncthreads();
  out[threadIdx.x] = smem[n - 1 - static_cast<int>(threadIdx.x)];
}

TEST(EmulatorChecks, SharedMemoryBeyond48KiBNeedsTheOptIn) {
  constexpr int n = 16384;  // 64 KiB of floats
  DeviceFloats out(256);
  expect_error([&] { kc::launch<dynamic_shared_kernel>(1, 256, n * sizeof(float), kc::stream(), out.ptr, n); },
               {"launch of kernel dynamic_shared_kernel", "more than 48 KiB of dynamic shared memory without opting in",
                "cudaFuncAttributeMaxDynamicSharedMemorySize"});
  GAN_CUDA_CHECK(cudaFuncSetAttribute(dynamic_shared_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(n * sizeof(float))));
  kc::launch<dynamic_shared_kernel>(1, 256, n * sizeof(float), kc::stream(), out.ptr, n);
  const std::vector<float> got = out.download();
  for (int i = 0; i < 256; ++i) ASSERT_EQ(got[i], static_cast<float>(n - 1 - i)) << i;
  // And no more than the opt-in allows.
  expect_error([&] { kc::launch<dynamic_shared_kernel>(1, 256, n * sizeof(float) + 4, kc::stream(), out.ptr, n); },
               {"more dynamic shared memory than the kernel's cudaFuncAttributeMaxDynamicSharedMemorySize"});
}

// ---- memory ----

__global__ void copy_half_kernel(const float* in, float* out, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n / 2) out[i] = in[i];  // the second half of out is never written
}

TEST(EmulatorChecks, DeviceMemoryNothingWroteReadsAsNaN) {
  std::vector<float> host(100, 2.0f);
  DeviceFloats in(100), out(100);
  kc::memcpy_h2d(in.ptr, host.data(), 100 * sizeof(float));
  kc::launch<copy_half_kernel>(1, 128, 0, kc::stream(), in.ptr, out.ptr, 100);
  const std::vector<float> got = out.download();
  for (int i = 0; i < 50; ++i) EXPECT_EQ(got[i], 2.0f) << i;
  for (int i = 50; i < 100; ++i) EXPECT_TRUE(std::isnan(got[i])) << i << ": " << got[i];
  // The same through the caching allocator, for a block reused after its first owner wrote it.
  void* first = kc::device_alloc(400);
  GAN_CUDA_CHECK(cudaMemsetAsync(first, 0, 400, kc::stream()));
  kc::device_free(first);
  void* again = kc::device_alloc(400);
  ASSERT_EQ(again, first) << "the cache should hand the same block out";
  std::vector<float> back(100);
  kc::memcpy_d2h(back.data(), again, 400);
  for (float v : back) EXPECT_TRUE(std::isnan(v));
  kc::device_free(again);
}

TEST(EmulatorChecks, DevicePointerDereferencedOnTheHostFaultsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        DeviceFloats buf(16);
        volatile float v = buf.ptr[3];  // host code reading device memory
        (void)v;
      },
      "host code dereferenced device memory at 0x[0-9a-f]+");
}

#if defined(__SANITIZE_ADDRESS__)
__global__ void read_past_end_kernel(const float* in, float* out, int n) {
  const int i = static_cast<int>(threadIdx.x);
  out[i] = in[i + 1];  // the last thread reads in[n], one past the buffer
  (void)n;
}

TEST(EmulatorChecks, TileTailReadingPastTheBufferIsAnAddressSanitizerError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        DeviceFloats in(37);
        DeviceFloats out(37);
        kc::launch<read_past_end_kernel>(1, 37, 0, kc::stream(), in.ptr, out.ptr, 37);
      },
      "AddressSanitizer: use-after-poison.*read_past_end_kernel");
}

TEST(EmulatorChecks, CachedBlockReadPastTheRequestIsAnAddressSanitizerError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // 100 floats from the caching allocator sit in a 512-byte size class: byte 400 is inside the class but past the
  // request, which AddressSanitizer must still see.
  EXPECT_DEATH(
      {
        auto* p = static_cast<float*>(kc::device_alloc(400));
        DeviceFloats out(101);
        kc::launch<copy_half_kernel>(1, 256, 0, kc::stream(), p, out.ptr, 202);
      },
      "AddressSanitizer: use-after-poison.*copy_half_kernel");
}
#endif

TEST(EmulatorChecks, LegacyDefaultStreamWorkIsReported) {
  DeviceFloats buf(16);
  (void)kc::stream();  // the device's non-blocking stream exists
  expect_error([&] { (void)cudaMemset(buf.ptr, 0, 16 * sizeof(float)); },
               {"cudaMemset on the legacy default stream of cuda:0",
                "does not wait for the device's non-blocking stream"});
  expect_error([&] { kc::launch<empty_kernel>(1, 32, 0, nullptr, buf.ptr); },
               {"launch of kernel empty_kernel on the legacy default stream"});
}

TEST(EmulatorChecks, HostPointerPassedToAKernelIsReported) {
  std::vector<float> host(32);
  expect_error([&] { kc::launch<empty_kernel>(1, 32, 0, kc::stream(), host.data()); },
               {"argument 0 of kernel empty_kernel is a pointer to host memory"});
}

TEST(EmulatorChecks, FreedDeviceMemoryPassedToAKernelIsReported) {
  float* p = nullptr;
  GAN_CUDA_CHECK(cudaMalloc(&p, 64 * sizeof(float)));
  GAN_CUDA_CHECK(cudaFree(p));
  expect_error([&] { kc::launch<empty_kernel>(1, 32, 0, kc::stream(), p); },
               {"argument 0 of kernel empty_kernel", "not in an allocated device buffer \\(freed\\?\\)"});
  // A block the caching allocator holds as free is just as dead to its former owner.
  void* cached = kc::device_alloc(256);
  kc::device_free(cached);
  expect_error([&] { kc::launch<empty_kernel>(1, 32, 0, kc::stream(), static_cast<float*>(cached)); },
               {"argument 0 of kernel empty_kernel", "holds as free \\(used after device_free\\)"});
}

TEST(EmulatorChecks, CopyPastTheEndOfABufferIsReported) {
  DeviceFloats buf(10);
  std::vector<float> host(11, 1.0f);
  expect_error([&] { kc::memcpy_h2d(buf.ptr, host.data(), 11 * sizeof(float)); },
               {"cudaMemcpyAsync of 44 bytes", "run 4 bytes past the end of a device buffer of 40 bytes"});
  expect_error([&] { kc::memset_async(buf.ptr + 5, 0, 6 * sizeof(float)); }, {"past the end"});
}

__global__ void trap_kernel(float*) {
  if (blockIdx.x == 2 && threadIdx.x == 5) __trap();
}

TEST(EmulatorChecks, TrapNamesTheThread) {
  expect_error([&] { kc::launch<trap_kernel>(4, 32, 0, kc::stream(), nullptr); },
               {"kernel trap_kernel, block \\(2, 0, 0\\), thread \\(5, 0, 0\\): __trap\\(\\) called at " +
                at("trap_kernel")});
}

}  // namespace
