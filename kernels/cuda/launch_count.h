// Kernel launch counters. Every CUDA kernel is launched through the launch helper (kernels/cuda/launch.cuh), which
// counts each launch, in total and per kernel: launches per training step are a figure to watch (each costs a few
// microseconds of CPU and GPU time, and a step made of hundreds of small kernels cannot be fast).
//
// Plain C++ (no CUDA headers), so the engine, tests and benchmarks read the counts from host code. Counting is a
// relaxed atomic increment, safe from any thread. In a CPU-only build nothing is ever launched: the counts are 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gan::kernels::cuda {

// Kernels launched by this process since it started or since the last reset_launch_counts().
uint64_t launch_count();

struct KernelLaunches {
  std::string kernel;  // e.g. "gather_gemm_kernel<float, TileCfg<128, 128, 8, 8, 8> >"
  uint64_t launches = 0;
};

// Launches per kernel since the start or the last reset, kernels never launched left out, most launched first.
std::vector<KernelLaunches> launch_counts();

// Sets every count to 0.
void reset_launch_counts();

}  // namespace gan::kernels::cuda
