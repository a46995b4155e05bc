// The SIMT emulator (GAN_CUDA=EMU) against CUDA's documented semantics, on small kernels whose answers are known:
// thread numbering in 3-D blocks and grids, shuffles in every mode and sub-warp width, votes, barrier reductions,
// device-wide atomics across blocks that run on different OS threads, and a warp-collective operation built on
// warp_collective() the way mma.sync and ldmatrix will be. Built only in the emulator flavour (label `emu`).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "device_array.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"

namespace {

namespace kc = gan::kernels::cuda;

using gan::testing::DeviceArray;

// ---- numbering ----

__global__ void coordinates_kernel(uint32_t* out) {
  const uint32_t block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const uint32_t thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const uint32_t threads = blockDim.x * blockDim.y * blockDim.z;
  out[block * threads + thread] = (threadIdx.z << 24) | (threadIdx.y << 16) | (threadIdx.x << 8) | blockIdx.z << 4 |
                                  blockIdx.y << 2 | blockIdx.x;
}

TEST(EmulatorSemantics, ThreeDimensionalBlocksAndGridsNumberLikeCuda) {
  const dim3 grid(3, 2, 2), block(5, 3, 2);
  DeviceArray<uint32_t> out(12 * 30);
  kc::launch<coordinates_kernel>(grid, block, 0, kc::stream(), out.ptr);
  const std::vector<uint32_t> got = out.download();
  for (uint32_t bz = 0; bz < 2; ++bz)
    for (uint32_t by = 0; by < 2; ++by)
      for (uint32_t bx = 0; bx < 3; ++bx)
        for (uint32_t tz = 0; tz < 2; ++tz)
          for (uint32_t ty = 0; ty < 3; ++ty)
            for (uint32_t tx = 0; tx < 5; ++tx) {
              const uint32_t b = bx + 3 * (by + 2 * bz), t = tx + 5 * (ty + 3 * tz);
              ASSERT_EQ(got[b * 30 + t], (tz << 24) | (ty << 16) | (tx << 8) | bz << 4 | by << 2 | bx);
            }
}

// ---- shuffles: out[mode][lane] for a value of 100 + lane ----

__global__ void shuffle_kernel(int* out, int width) {
  const int lane = static_cast<int>(threadIdx.x);
  const int v = 100 + lane;
  out[0 * 32 + lane] = __shfl_sync(0xffffffffu, v, 3, width);
  out[1 * 32 + lane] = __shfl_up_sync(0xffffffffu, v, 2, width);
  out[2 * 32 + lane] = __shfl_down_sync(0xffffffffu, v, 2, width);
  out[3 * 32 + lane] = __shfl_xor_sync(0xffffffffu, v, 5, width);
}

TEST(EmulatorSemantics, ShufflesFollowCudaForEveryModeAndWidth) {
  for (int width : {32, 16, 8, 4}) {
    DeviceArray<int> out(4 * 32);
    kc::launch<shuffle_kernel>(1, 32, 0, kc::stream(), out.ptr, width);
    const std::vector<int> got = out.download();
    for (int lane = 0; lane < 32; ++lane) {
      const int seg = lane / width * width, own = 100 + lane;
      EXPECT_EQ(got[lane], 100 + seg + 3 % width) << "idx, width " << width << ", lane " << lane;
      EXPECT_EQ(got[32 + lane], lane - seg >= 2 ? own - 2 : own) << "up, width " << width << ", lane " << lane;
      EXPECT_EQ(got[64 + lane], lane - seg + 2 < width ? own + 2 : own) << "down, width " << width;
      const int x = lane ^ 5;
      EXPECT_EQ(got[96 + lane], x < seg + width ? 100 + x : own) << "xor, width " << width << ", lane " << lane;
    }
  }
}

__global__ void shuffle_types_kernel(double* d, int64_t* i) {
  const unsigned lane = threadIdx.x;
  d[lane] = __shfl_down_sync(0xffffffffu, 0.5 + lane, 16);
  i[lane] = __shfl_xor_sync(0xffffffffu, (int64_t{1} << 40) + lane, 31);
}

TEST(EmulatorSemantics, ShufflesMoveEightByteValues) {
  DeviceArray<double> d(32);
  DeviceArray<int64_t> i(32);
  kc::launch<shuffle_types_kernel>(1, 32, 0, kc::stream(), d.ptr, i.ptr);
  const std::vector<double> gd = d.download();
  const std::vector<int64_t> gi = i.download();
  for (int lane = 0; lane < 32; ++lane) {
    EXPECT_EQ(gd[lane], 0.5 + (lane < 16 ? lane + 16 : lane));
    EXPECT_EQ(gi[lane], (int64_t{1} << 40) + (lane ^ 31));
  }
}

// Two half-warps shuffle at the same time with disjoint masks: legal, and each half sees only itself.
__global__ void half_warp_kernel(int* out) {
  const unsigned lane = threadIdx.x;
  const unsigned mask = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  out[lane] = __shfl_sync(mask, static_cast<int>(lane), lane < 16 ? 15 : 16);
}

TEST(EmulatorSemantics, DisjointMasksShuffleIndependently) {
  DeviceArray<int> out(32);
  kc::launch<half_warp_kernel>(1, 32, 0, kc::stream(), out.ptr);
  const std::vector<int> got = out.download();
  for (int lane = 0; lane < 32; ++lane) EXPECT_EQ(got[lane], lane < 16 ? 15 : 16) << lane;
}

// ---- votes and barrier reductions ----

__global__ void vote_kernel(unsigned* out) {
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int odd = lane & 1;
  const unsigned ballot = __ballot_sync(0xffffffffu, odd);
  const int any = __any_sync(0xffffffffu, lane == 7);
  const int all = __all_sync(0xffffffffu, lane < 40);
  __syncwarp();
  const int count = __syncthreads_count(threadIdx.x % 3 == 0);
  const int every = __syncthreads_and(threadIdx.x < 1000);
  const int some = __syncthreads_or(threadIdx.x == 63);
  if (lane == 0) {
    out[warp * 6 + 0] = ballot;
    out[warp * 6 + 1] = static_cast<unsigned>(any);
    out[warp * 6 + 2] = static_cast<unsigned>(all);
    out[warp * 6 + 3] = static_cast<unsigned>(count);
    out[warp * 6 + 4] = static_cast<unsigned>(every);
    out[warp * 6 + 5] = static_cast<unsigned>(some);
  }
}

TEST(EmulatorSemantics, VotesAndBarrierReductions) {
  DeviceArray<unsigned> out(2 * 6);
  kc::launch<vote_kernel>(1, 64, 0, kc::stream(), out.ptr);
  const std::vector<unsigned> got = out.download();
  for (int warp = 0; warp < 2; ++warp) {
    EXPECT_EQ(got[warp * 6 + 0], 0xaaaaaaaau);
    EXPECT_EQ(got[warp * 6 + 1], 1u);
    EXPECT_EQ(got[warp * 6 + 2], 1u);
    EXPECT_EQ(got[warp * 6 + 3], 22u);  // 0, 3, ..., 63
    EXPECT_EQ(got[warp * 6 + 4], 1u);
    EXPECT_EQ(got[warp * 6 + 5], 1u);
  }
}

// ---- atomics across blocks (run by different OS threads) ----

__global__ void atomics_kernel(unsigned* counter, int* maximum, double* sum, unsigned* last_block) {
  atomicAdd(counter, 1u);
  atomicMax(maximum, static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x));
  atomicAdd(sum, 0.5);
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    const unsigned done = atomicInc(last_block + 1, 0xffffffffu);
    if (done + 1 == gridDim.x) *last_block = blockIdx.x + 1;  // the last block to finish marks itself
  }
}

TEST(EmulatorSemantics, AtomicsAreDeviceWide) {
  DeviceArray<unsigned> counter(1), last(2);
  DeviceArray<int> maximum(1);
  DeviceArray<double> sum(1);
  kc::launch<atomics_kernel>(1000, 64, 0, kc::stream(), counter.ptr, maximum.ptr, sum.ptr, last.ptr);
  EXPECT_EQ(counter.download()[0], 64000u);
  EXPECT_EQ(maximum.download()[0], 63999);
  EXPECT_EQ(sum.download()[0], 32000.0);
  const std::vector<unsigned> l = last.download();
  EXPECT_EQ(l[1], 1000u);
  EXPECT_GE(l[0], 1u);
}

// ---- a custom warp-collective operation (the pattern of mma.sync / ldmatrix) ----

// Every lane gives a value; lane l receives the sum over lanes of the mask of value * (l + 1). A toy, but with the
// shape of a tensor-core operation: all lanes contribute operands, each gets its own part of the result.
__device__ float warp_weighted_total(float v) {
  return gan::emu::warp_collective<float, float>(
      "warp_weighted_total", 0xffffffffu, v,
      [](gan::emu::LaneInputs<float> in, gan::emu::LaneOutputs<float> out, unsigned mask) {
        float total = 0.0f;
        for (unsigned l = 0; l < 32; ++l)
          if (mask >> l & 1u) total += in[l];
        for (unsigned l = 0; l < 32; ++l)
          if (mask >> l & 1u) out[l] = total * static_cast<float>(l + 1);
      },
      std::source_location::current());
}

__global__ void custom_collective_kernel(float* out) { out[threadIdx.x] = warp_weighted_total(1.0f + threadIdx.x % 32); }

TEST(EmulatorSemantics, CustomWarpCollectiveGivesEachLaneItsResult) {
  DeviceArray<float> out(64);
  kc::launch<custom_collective_kernel>(1, 64, 0, kc::stream(), out.ptr);
  const std::vector<float> got = out.download();
  for (int t = 0; t < 64; ++t) EXPECT_EQ(got[t], 528.0f * static_cast<float>(t % 32 + 1)) << t;  // 1 + ... + 32
}

// ---- shared memory is per block ----

__global__ void shared_per_block_kernel(int* out) {
  __shared__ int slots[64];
  slots[threadIdx.x] = static_cast<int>(blockIdx.x * 1000 + threadIdx.x);
  __syncthreads();
  out[blockIdx.x * 64 + threadIdx.x] = slots[63 - threadIdx.x];
}

TEST(EmulatorSemantics, SharedMemoryBelongsToItsBlock) {
  DeviceArray<int> out(200 * 64);
  kc::launch<shared_per_block_kernel>(200, 64, 0, kc::stream(), out.ptr);
  const std::vector<int> got = out.download();
  for (int b = 0; b < 200; ++b)
    for (int t = 0; t < 64; ++t) ASSERT_EQ(got[b * 64 + t], b * 1000 + 63 - t) << b << "," << t;
}

// ---- launch counting sees emulated launches too ----

TEST(EmulatorSemantics, LaunchesAreCounted) {
  kc::reset_launch_counts();
  DeviceArray<int> out(64);
  kc::launch<shared_per_block_kernel>(1, 64, 0, kc::stream(), out.ptr);
  kc::launch<shared_per_block_kernel>(1, 64, 0, kc::stream(), out.ptr);
  EXPECT_EQ(kc::launch_count(), 2u);
  ASSERT_EQ(kc::launch_counts().size(), 1u);
  EXPECT_EQ(kc::launch_counts()[0].kernel, "shared_per_block_kernel");
}

}  // namespace
