// Host synchronization counters of kernels/cuda/sync_count.h (CUDA and emulator builds).
#include "kernels/cuda/sync_count.h"

#include <algorithm>
#include <array>
#include <atomic>

namespace gan::kernels::cuda {

namespace {

constexpr int kReasons = static_cast<int>(detail::SyncReason::kCount);

constexpr std::array<const char*, kReasons> kReasonNames = {
    "stream synchronize", "copy to host", "upload staging wait", "cudaFree", "scratch grow", "GAN_CUDA_SYNC=1"};

std::array<std::atomic<uint64_t>, kReasons>& counters() {
  static std::array<std::atomic<uint64_t>, kReasons> c{};  // zero-initialized; trivially destructible
  return c;
}

}  // namespace

namespace detail {

void count_host_sync(SyncReason reason) {
  counters()[static_cast<size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace detail

uint64_t sync_count() {
  uint64_t total = 0;
  for (const auto& c : counters()) total += c.load(std::memory_order_relaxed);
  return total;
}

std::vector<HostSyncs> sync_counts() {
  std::vector<HostSyncs> out;
  for (int i = 0; i < kReasons; ++i) {
    const uint64_t n = counters()[static_cast<size_t>(i)].load(std::memory_order_relaxed);
    if (n > 0) out.push_back({kReasonNames[static_cast<size_t>(i)], n});
  }
  std::stable_sort(out.begin(), out.end(), [](const HostSyncs& a, const HostSyncs& b) { return a.syncs > b.syncs; });
  return out;
}

void reset_sync_counts() {
  for (auto& c : counters()) c.store(0, std::memory_order_relaxed);
}

}  // namespace gan::kernels::cuda
