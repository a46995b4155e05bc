// Host synchronization and device-allocation counters (kernels/cuda/sync_count.h, kernels/cuda/allocator.h):
// known operation sequences give known counts, on a GPU and in the emulator alike (the counters sit in the host
// code that calls CUDA, not in the device).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "gpu_test_util.h"
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/sync_count.h"

namespace gan::testing {
namespace {

namespace kc = gan::kernels::cuda;
const Device kGpu = Device::cuda(0);

uint64_t syncs_for(const std::string& reason) {
  for (const kc::HostSyncs& s : kc::sync_counts())
    if (s.reason == reason) return s.syncs;
  return 0;
}

class HostSyncCount : public CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (IsSkipped()) return;
    // Leave no upload pending in the staging buffer: the first copy below would otherwise wait for it.
    (void)full({4}, 1.0, DType::Float32, kGpu).to(Device::cpu());
    kc::reset_sync_counts();
  }
};

TEST_F(HostSyncCount, KernelsAndDeviceCopiesDoNotWaitReadsDo) {
  const Tensor a = full({1000}, 1.5, DType::Float32, kGpu);
  const Tensor b = add(a, a);
  const Tensor s = sum(b);  // a device scalar: still no wait
  const Tensor c = b.clone();
  EXPECT_EQ(kc::sync_count(), 0u) << "launches and device-to-device copies must not block the host";
  EXPECT_TRUE(kc::sync_counts().empty());

  EXPECT_EQ(s.item(), 3000.0);                                      // 1: a scalar read back
  EXPECT_EQ(c.to(Device::cpu()).to_vector<double>()[999], 3.0);     // 2: a tensor copied to the host
  kc::synchronize();                                                // 3: an explicit wait
  EXPECT_EQ(kc::sync_count(), 3u);
  EXPECT_EQ(syncs_for("copy to host"), 2u);
  EXPECT_EQ(syncs_for("stream synchronize"), 1u);
  const std::vector<kc::HostSyncs> per = kc::sync_counts();
  ASSERT_EQ(per.size(), 2u);
  EXPECT_EQ(per[0].reason, "copy to host");  // most frequent first

  kc::reset_sync_counts();
  EXPECT_EQ(kc::sync_count(), 0u);
  EXPECT_TRUE(kc::sync_counts().empty());
}

TEST_F(HostSyncCount, PageableUploadsDoNotWait) {
  std::vector<float> host(256, 2.0f);  // pageable: goes through the runtime's pinned staging blocks
  std::vector<Tensor> uploaded;
  for (int i = 0; i < 5; ++i) uploaded.push_back(from_buffer(host.data(), {256}, DType::Float32, kGpu));
  EXPECT_EQ(kc::sync_count(), 0u) << "an upload takes a free staging block or a new one, never waits";
  for (const Tensor& t : uploaded) EXPECT_EQ(t.to_vector<float>(), host);
  EXPECT_EQ(syncs_for("copy to host"), 5u);
  EXPECT_EQ(kc::sync_count(), 5u);
}

TEST_F(HostSyncCount, PinnedUploadDoesNotWait) {
  const int64_t n = 512;
  auto* pinned = static_cast<float*>(kc::pinned_alloc(n * sizeof(float)));
  for (int64_t i = 0; i < n; ++i) pinned[i] = static_cast<float>(i);
  kc::reset_sync_counts();
  const Tensor a = from_buffer(pinned, {n}, DType::Float32, kGpu);
  const Tensor b = from_buffer(pinned, {n}, DType::Float32, kGpu);
  EXPECT_EQ(kc::sync_count(), 0u);
  EXPECT_EQ(sum(sub(a, b)).item(), 0.0);
  kc::pinned_free(pinned);  // cudaFreeHost waits for the device
  EXPECT_EQ(kc::sync_count(), 2u);
  EXPECT_EQ(syncs_for("cudaFree"), 1u);
}

// ---- bytes newly obtained from CUDA ----
class DeviceMallocCount : public CudaTest {};

TEST_F(DeviceMallocCount, CountsNewBlocksAndNotReusedOnes) {
  if (!kc::caching_enabled()) GTEST_SKIP() << "GAN_CUDA_ALLOC=direct: every allocation is new by design";
  kc::empty_cache();
  kc::reset_device_mallocs();
  const size_t bytes = (size_t{3} << 20) + 100;  // a large-pool block, no cached one fits after empty_cache()
  void* p = kc::device_alloc(bytes);
  kc::DeviceMallocs m = kc::device_mallocs();
  EXPECT_EQ(m.calls, 1u);
  EXPECT_EQ(m.bytes, kc::round_size(bytes));
  kc::device_free(p);
  void* q = kc::device_alloc(bytes);  // the cached block comes back
  m = kc::device_mallocs();
  EXPECT_EQ(m.calls, 1u) << "a reused block is not new device memory";
  EXPECT_EQ(m.bytes, kc::round_size(bytes));
  kc::device_free(q);
  kc::reset_device_mallocs();
  EXPECT_EQ(kc::device_mallocs().calls, 0u);
  EXPECT_EQ(kc::device_mallocs().bytes, 0u);
}

TEST_F(DeviceMallocCount, RepeatedOpsAfterWarmUpObtainNothingNew) {
  if (!kc::caching_enabled()) GTEST_SKIP() << "GAN_CUDA_ALLOC=direct: every allocation is new by design";
  const Tensor x = randn({64, 3, 16, 16}, DType::Float32, nullptr, 0.0, 1.0, kGpu);
  const auto work = [&] { return sum(mul(relu(x), add(x, 1.0))); };
  (void)work();  // warm-up: the cache and the reduction scratch grow here
  kc::reset_device_mallocs();
  kc::reset_sync_counts();
  for (int i = 0; i < 3; ++i) (void)work();
  EXPECT_EQ(kc::device_mallocs().bytes, 0u);
  EXPECT_EQ(kc::device_mallocs().calls, 0u);
  EXPECT_EQ(kc::sync_count(), 0u);
}

}  // namespace
}  // namespace gan::testing
