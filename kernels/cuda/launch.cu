// Launch counters and launch errors of kernels/cuda/launch.cuh.
#include <cuda_runtime.h>

#include <algorithm>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>

#include "kernels/cuda/launch.cuh"

namespace gan::kernels::cuda {

namespace {

std::atomic<uint64_t> g_launches{0};

struct Registry {
  std::mutex mu;
  std::deque<detail::KernelCounter> counters;  // a deque never moves its elements
  std::deque<std::string> names;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: kernels may launch during static teardown
  return *r;
}

// "... [with auto Kernel = gan::kernels::cuda::{anonymous}::fill_contig<float, 4>]" -> "fill_contig<float, 4>".
// The namespaces every kernel shares are dropped, including the anonymous one (GCC spells it
// "{anonymous}" or "(anonymous namespace)", nvcc "_GLOBAL__N__<hash>").
std::string kernel_name(const std::string& pretty) {
  const std::string key = "Kernel = ";
  size_t begin = pretty.find(key);
  begin = begin == std::string::npos ? 0 : begin + key.size();
  size_t end = pretty.rfind(']');
  if (end == std::string::npos || end < begin) end = pretty.size();
  std::string name = pretty.substr(begin, end - begin);
  for (const std::string prefix : {"gan::kernels::cuda::", "{anonymous}::", "(anonymous namespace)::", "detail::"}) {
    for (size_t at; (at = name.find(prefix)) != std::string::npos;) name.erase(at, prefix.size());
  }
  for (size_t at; (at = name.find("_GLOBAL__N__")) != std::string::npos;) {
    const size_t colons = name.find("::", at);
    name.erase(at, colons == std::string::npos ? std::string::npos : colons + 2 - at);
  }
  return name;
}

std::string dims(dim3 d) { return std::to_string(d.x) + "x" + std::to_string(d.y) + "x" + std::to_string(d.z); }

}  // namespace

namespace detail {

KernelCounter& register_kernel(const char* pretty_function) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.names.push_back(kernel_name(pretty_function));
  return r.counters.emplace_back(r.names.back().c_str());
}

void count_launch(KernelCounter& kernel) {
  g_launches.fetch_add(1, std::memory_order_relaxed);
  kernel.launches.fetch_add(1, std::memory_order_relaxed);
}

void throw_launch_error(cudaError_t err, const char* when, const KernelCounter& kernel, dim3 grid, dim3 block,
                        size_t shared_bytes) {
  throw std::runtime_error(std::string("CUDA error: ") + when + " of kernel " + kernel.name + " (grid " +
                           dims(grid) + ", block " + dims(block) + ", " + std::to_string(shared_bytes) +
                           " bytes of dynamic shared memory) failed: " + cudaGetErrorName(err) + ": " +
                           cudaGetErrorString(err));
}

}  // namespace detail

uint64_t launch_count() { return g_launches.load(std::memory_order_relaxed); }

std::vector<KernelLaunches> launch_counts() {
  Registry& r = registry();
  std::vector<KernelLaunches> out;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    for (const detail::KernelCounter& c : r.counters) {
      const uint64_t n = c.launches.load(std::memory_order_relaxed);
      if (n > 0) out.push_back({c.name, n});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const KernelLaunches& a, const KernelLaunches& b) {
    return a.launches > b.launches;
  });
  return out;
}

void reset_launch_counts() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  g_launches.store(0, std::memory_order_relaxed);
  for (detail::KernelCounter& c : r.counters) c.launches.store(0, std::memory_order_relaxed);
}

}  // namespace gan::kernels::cuda
