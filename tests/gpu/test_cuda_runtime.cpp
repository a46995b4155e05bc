// The CUDA runtime as the engine uses it: the caching allocator (size classes, reuse, statistics, out-of-memory,
// poisoning, direct mode), copies between host and device (strided views, dtype changes, broadcasts, chunked and
// pinned uploads), and tensors created on the device. The size-class rules run everywhere; the rest needs a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "gpu_test_util.h"
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/runtime.h"

namespace gan::testing {
namespace {

namespace kc = gan::kernels::cuda;
const Device kGpu = Device::cuda(0);

// ---- size classes (pure arithmetic: no device needed) ----
TEST(CudaAllocatorSizeClasses, RoundUpToBoundedClasses) {
  EXPECT_EQ(kc::round_size(0), 0u);
  EXPECT_EQ(kc::round_size(1), 512u);
  EXPECT_EQ(kc::round_size(512), 512u);
  EXPECT_EQ(kc::round_size(513), 1024u);
  EXPECT_EQ(kc::round_size(1025), 1536u);
  EXPECT_EQ(kc::round_size(size_t{1} << 20), size_t{1} << 20);
  EXPECT_EQ(kc::round_size((size_t{1} << 20) + 1), (size_t{5} << 20) / 4);
  // Every class is a multiple of 512, never smaller than the request, wastes at most 511 bytes or a quarter of
  // the request, and rounding is idempotent (a class is its own class).
  for (size_t n = 1; n < (size_t{1} << 26); n = n * 5 / 4 + 1) {
    const size_t c = kc::round_size(n);
    ASSERT_GE(c, n) << n;
    ASSERT_EQ(c % 512, 0u) << n;
    ASSERT_LE(c - n, std::max<size_t>(511, n / 4)) << n;
    ASSERT_EQ(kc::round_size(c), c) << n;
  }
}

// ---- allocator on a device ----
class CudaAllocator : public CudaTest {};

TEST_F(CudaAllocator, FreedBlockIsReusedWithoutCudaMalloc) {
  if (!kc::caching_enabled()) GTEST_SKIP() << "GAN_CUDA_ALLOC=direct: no cache to reuse";
  kc::empty_cache();  // a block of the same class cached by an earlier test would be handed out first
  const size_t bytes = 4000;
  void* first = kc::device_alloc(bytes);
  kc::device_free(first);
  const kc::AllocatorStats before = kc::allocator_stats();
  void* second = kc::device_alloc(bytes - 100);  // same size class
  const kc::AllocatorStats after = kc::allocator_stats();
  EXPECT_EQ(second, first);
  EXPECT_EQ(after.cuda_mallocs, before.cuda_mallocs);
  EXPECT_EQ(after.cache_hits, before.cache_hits + 1);
  EXPECT_EQ(after.reserved_bytes, before.reserved_bytes);
  kc::device_free(second);
}

TEST_F(CudaAllocator, StatisticsTrackCurrentAndPeakBytes) {
  kc::empty_cache();
  kc::reset_peak_stats();
  const kc::AllocatorStats s0 = kc::allocator_stats();
  const size_t bytes = (size_t{3} << 20) + 12345;  // large pool
  const size_t cls = kc::round_size(bytes);
  {
    Tensor t = empty({static_cast<int64_t>(bytes / 4)}, DType::Float32, kGpu);
    const kc::AllocatorStats s1 = kc::allocator_stats();
    EXPECT_EQ(s1.allocated_bytes, s0.allocated_bytes + cls);
    EXPECT_EQ(s1.requested_bytes, s0.requested_bytes + bytes / 4 * 4);
    EXPECT_GE(s1.peak_allocated_bytes, s1.allocated_bytes);
    EXPECT_EQ(s1.reserved_bytes, s0.reserved_bytes + cls);  // the cache was empty: a new cudaMalloc
    EXPECT_EQ(s1.cuda_mallocs, s0.cuda_mallocs + 1);
    EXPECT_EQ(s1.num_allocs, s0.num_allocs + 1);
  }
  const kc::AllocatorStats s2 = kc::allocator_stats();
  EXPECT_EQ(s2.allocated_bytes, s0.allocated_bytes);
  EXPECT_EQ(s2.peak_allocated_bytes, s0.allocated_bytes + cls);  // the peak remembers
  EXPECT_EQ(s2.num_frees, s0.num_frees + 1);
  if (kc::caching_enabled()) {
    EXPECT_EQ(s2.reserved_bytes, s0.reserved_bytes + cls);  // kept in the cache
    EXPECT_EQ(s2.cached_bytes, s0.cached_bytes + cls);
    kc::empty_cache();
    const kc::AllocatorStats s3 = kc::allocator_stats();
    EXPECT_EQ(s3.cached_bytes, 0u);
    EXPECT_EQ(s3.reserved_bytes, s3.allocated_bytes);
    EXPECT_GT(s3.cuda_frees, s2.cuda_frees);
  } else {
    EXPECT_EQ(s2.reserved_bytes, s0.reserved_bytes);  // given back at once
  }
  kc::reset_peak_stats();
  EXPECT_EQ(kc::allocator_stats().peak_allocated_bytes, kc::allocator_stats().allocated_bytes);
}

TEST_F(CudaAllocator, SmallPoolReusesOnlyTheSameClassLargePoolAtMostAQuarterMore) {
  if (!kc::caching_enabled()) GTEST_SKIP() << "GAN_CUDA_ALLOC=direct: no cache to reuse";
  kc::empty_cache();
  void* small = kc::device_alloc(4096);
  kc::device_free(small);
  void* other_small = kc::device_alloc(1024);  // a smaller class must not take the 4 KiB block
  EXPECT_NE(other_small, small);
  kc::device_free(other_small);
  const size_t big = size_t{8} << 20;
  void* large = kc::device_alloc(big);
  kc::device_free(large);
  void* slightly_smaller = kc::device_alloc(big - (size_t{1} << 20));  // within 1.25x: reused
  EXPECT_EQ(slightly_smaller, large);
  kc::device_free(slightly_smaller);
  void* much_smaller = kc::device_alloc(big / 4);  // would waste 3/4: not reused
  EXPECT_NE(much_smaller, large);
  kc::device_free(much_smaller);
  kc::empty_cache();
}

TEST_F(CudaAllocator, OutOfMemoryFlushesRetriesAndNamesTheBytes) {
  const kc::AllocatorStats before = kc::allocator_stats();
  const size_t absurd = size_t{1} << 50;  // 1 PiB
  try {
    (void)kc::device_alloc(absurd);
    FAIL() << "allocating 1 PiB did not throw";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("out of memory"), std::string::npos) << what;
    EXPECT_NE(what.find(std::to_string(absurd) + " bytes"), std::string::npos) << what;
    EXPECT_NE(what.find("free"), std::string::npos) << what;
    EXPECT_NE(what.find("cuda:0"), std::string::npos) << what;
  }
  EXPECT_EQ(kc::allocator_stats().oom_flushes, before.oom_flushes + 1);
  // The failure leaves no sticky error behind: allocation and kernels still work.
  Tensor t = full({1000}, 2.5, DType::Float32, kGpu);
  EXPECT_EQ(sum(t).item(), 2500.0);
}

TEST_F(CudaAllocator, PoisonFillsNewAllocationsWithNaN) {
  ASSERT_TRUE(kc::poison_enabled()) << "CudaTest turns poisoning on";
  for (DType dt : {DType::Float32, DType::Float64}) {
    const Tensor t = empty({3, 5}, dt, kGpu);
    for (double x : t.to_vector<double>()) ASSERT_TRUE(std::isnan(x)) << dtype_name(dt);
  }
  // A reused block is poisoned again, not left with its previous owner's values.
  { Tensor z = zeros({1024}, DType::Float32, kGpu); }
  const Tensor again = empty({1024}, DType::Float32, kGpu);
  for (double x : again.to_vector<double>()) ASSERT_TRUE(std::isnan(x));
}

// GAN_CUDA_ALLOC=direct is read once per process, so it is checked in a child process that re-runs this binary.
TEST_F(CudaAllocator, DirectModeNeverCaches) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("GAN_CUDA_ALLOC", "direct", 1);
        void* a = kc::device_alloc(4096);
        kc::device_free(a);
        void* b = kc::device_alloc(4096);
        kc::device_free(b);
        const kc::AllocatorStats s = kc::allocator_stats();
        const bool ok = !kc::caching_enabled() && s.cache_hits == 0 && s.cuda_mallocs == 2 && s.cuda_frees == 2 &&
                        s.reserved_bytes == 0;
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// ---- copies ----
class CudaCopies : public CudaTest {};

// 0, 1, 2, ... in the given shape, on the host.
Tensor iota(const Shape& shape) {
  return arange(0.0, static_cast<double>(shape_numel(shape)), 1.0, DType::Float64).reshape(shape);
}

TEST_F(CudaCopies, RoundTripOfStridedViewsKeepsEveryValue) {
  const Tensor x = iota({4, 5, 6});
  const std::vector<Tensor> views = {x, x.permute({2, 0, 1}), x.narrow(1, 1, 3), slice(x, 2, 1, 6, 2),
                                     x.transpose(0, 2).narrow(0, 2, 3), x.narrow(0, 3, 1).squeeze(0)};
  for (size_t i = 0; i < views.size(); ++i) {
    const Tensor& v = views[i];
    const Tensor g = v.to(kGpu);
    EXPECT_EQ(g.device().str(), "cuda:0");
    EXPECT_EQ(g.shape(), v.shape()) << "view " << i;
    EXPECT_EQ(g.to_vector<double>(), v.to_vector<double>()) << "CPU -> GPU, view " << i;
  }
  // Views of a GPU tensor back to the host.
  const Tensor g = x.to(kGpu);
  const std::vector<std::pair<Tensor, Tensor>> pairs = {
      {g.permute({1, 2, 0}), x.permute({1, 2, 0})},
      {slice(g, 0, 1, 4, 2), slice(x, 0, 1, 4, 2)},
      {g.narrow(2, 2, 3).transpose(0, 1), x.narrow(2, 2, 3).transpose(0, 1)}};
  for (size_t i = 0; i < pairs.size(); ++i) {
    const Tensor host = pairs[i].first.to(Device::cpu());
    EXPECT_TRUE(host.device().is_cpu());
    EXPECT_EQ(host.to_vector<double>(), pairs[i].second.to_vector<double>()) << "GPU -> CPU, view " << i;
  }
}

TEST_F(CudaCopies, CopyIntoStridedDestinationConvertsDtypeAndLeavesTheRest) {
  const Tensor dst = zeros({4, 6}, DType::Float32, kGpu);
  const Tensor src = iota({4, 3});  // float64 on the host
  copy_(dst.narrow(1, 2, 3), src);
  const std::vector<double> got = dst.to_vector<double>();
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 6; ++c) {
      const double want = (c >= 2 && c < 5) ? r * 3 + (c - 2) : 0.0;
      EXPECT_EQ(got[r * 6 + c], want) << r << "," << c;
    }
  // And from a strided GPU source into a strided host destination, float32 -> float64.
  const Tensor host = zeros({3, 4}, DType::Float64);
  copy_(host.t(), dst.narrow(1, 2, 3));
  EXPECT_EQ(host.to_vector<double>(), src.t().contiguous().to_vector<double>());
}

TEST_F(CudaCopies, BroadcastSourceAndInt64Fill) {
  const Tensor row = from_vector<double>({1, 2, 3}, {3});
  const Tensor g = row.expand({2, 3}).to(kGpu);
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{1, 2, 3, 1, 2, 3}));
  const Tensor labels = full({5}, 7, DType::Int64, kGpu);
  EXPECT_EQ(labels.to_vector<int64_t>(), std::vector<int64_t>(5, 7));
  const Tensor idx = from_vector<int64_t>({4, -2, 9}, {3}, kGpu);
  EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{4, -2, 9}));
  EXPECT_EQ(arange(0.0, 5.0, 1.0, DType::Float32, kGpu).to_vector<double>(), (std::vector<double>{0, 1, 2, 3, 4}));
  EXPECT_EQ(scalar_tensor(3.25, DType::Float64, kGpu).item(), 3.25);
  EXPECT_NE(ones({2}, DType::Float32, kGpu).str().find("device=cuda:0"), std::string::npos);
}

TEST_F(CudaCopies, LargeUploadGoesThroughTheStagingBufferInChunks) {
  const int64_t n = (int64_t{40} << 20) / 4 + 77;  // 40 MiB of float32: more than one 32 MiB staging chunk
  std::vector<float> host(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) host[static_cast<size_t>(i)] = static_cast<float>(i % 100003) * 0.5f;
  const Tensor g = from_vector<float>(host, {n}, kGpu);
  const std::vector<float> back = g.to_vector<float>();
  ASSERT_EQ(back.size(), host.size());
  EXPECT_EQ(std::memcmp(back.data(), host.data(), host.size() * sizeof(float)), 0);
}

TEST_F(CudaCopies, PinnedHostBufferUploadsAsynchronously) {
  const size_t n = 1000;
  auto* pinned = static_cast<double*>(kc::pinned_alloc(n * sizeof(double)));
  ASSERT_NE(pinned, nullptr);
  EXPECT_TRUE(kc::is_pinned(pinned));
  std::vector<double> plain(n);
  EXPECT_FALSE(kc::is_pinned(plain.data()));
  for (size_t i = 0; i < n; ++i) pinned[i] = plain[i] = std::sin(static_cast<double>(i));
  const Tensor g = from_buffer(pinned, {static_cast<int64_t>(n)}, DType::Float64, kGpu);
  kc::synchronize();  // the upload from pinned memory is async: wait before reusing the buffer
  kc::pinned_free(pinned);
  EXPECT_EQ(g.to_vector<double>(), plain);
}

TEST_F(CudaCopies, StreamIsNonNullAndSynchronizeSucceeds) {
  EXPECT_NE(kc::stream(), nullptr);
  EXPECT_EQ(kc::stream(), kc::stream(0));
  EXPECT_EQ(kc::current_device(), 0);
  { kc::DeviceGuard guard(0); EXPECT_EQ(kc::current_device(), 0); }
  EXPECT_NO_THROW(kc::synchronize());
  EXPECT_THROW(kc::stream(kernels::cuda_device_count()), std::out_of_range);
}

// ---- launch counters (kernels/cuda/launch_count.h) ----
class CudaLaunchCount : public CudaTest {};

TEST_F(CudaLaunchCount, CountsEveryLaunchInTotalAndPerKernel) {
  const Tensor a = full({1000}, 1.5, DType::Float32, kGpu);  // queued before the reset: not counted
  kc::synchronize();
  kc::reset_launch_counts();
  EXPECT_EQ(kc::launch_count(), 0u);
  EXPECT_TRUE(kc::launch_counts().empty());
  const Tensor b = add(a, a);  // one binary kernel
  const Tensor c = add(b, a);  // and another launch of the same one
  kc::synchronize();
  EXPECT_EQ(kc::launch_count(), 2u);
  const std::vector<kc::KernelLaunches> per = kc::launch_counts();
  ASSERT_EQ(per.size(), 1u);
  EXPECT_EQ(per[0].launches, 2u);
  EXPECT_EQ(per[0].kernel.rfind("binary_contig<float, ", 0), 0u) << per[0].kernel;  // namespaces stripped
  EXPECT_EQ(c.to_vector<double>(), std::vector<double>(1000, 4.5));
  kc::reset_launch_counts();
  EXPECT_EQ(kc::launch_count(), 0u);
  EXPECT_TRUE(kc::launch_counts().empty());
}

}  // namespace
}  // namespace gan::testing
