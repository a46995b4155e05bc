// CUDA build of kernels/cuda/runtime.h: streams, device selection, synchronization, copies.
#include "kernels/cuda/runtime.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/sync_count.h"
#include "kernels/cuda_query.h"
#include "kernels/math_mode.h"

namespace gan::kernels::cuda {

namespace {

// Staging buffers grow to fit a copy up to this size; larger copies go through in chunks of it.
constexpr size_t kStagingMaxBytes = size_t{32} << 20;
// Pinned staging memory a device may hold for uploads still in flight. Past it, an upload waits for the oldest
// one instead of taking more (the only staging wait left; a host far ahead of its GPU meets it).
constexpr size_t kStagingPoolMaxBytes = size_t{256} << 20;

// A pinned staging block, and an event marking when the upload from it has left it.
struct StagingBlock {
  void* ptr = nullptr;
  size_t bytes = 0;
  cudaEvent_t free_event = nullptr;
  bool in_flight = false;
  uint64_t last_use = 0;  // upload order, for waiting on the oldest
};

// Per-device state, created on first use and kept for the life of the process. It is never destroyed: static
// destructors run after the CUDA runtime may already have shut down, when freeing streams or pinned memory fails.
struct DeviceState {
  std::once_flag stream_once;
  cudaStream_t stream = nullptr;

  // Pinned staging blocks for pageable host copies. An upload takes a block whose last upload has finished (asked
  // with cudaEventQuery, which does not wait) or a new one, so uploads never wait for the device while the pool
  // is under kStagingPoolMaxBytes: the design of PyTorch's caching host allocator.
  std::mutex staging_mu;
  std::vector<StagingBlock> staging;
  size_t staging_total = 0;
  uint64_t staging_uses = 0;
};

std::vector<std::unique_ptr<DeviceState>>& states() {
  static auto* all = [] {
    auto* v = new std::vector<std::unique_ptr<DeviceState>>();
    const int count = cuda_device_count();
    for (int i = 0; i < count; ++i) v->push_back(std::make_unique<DeviceState>());
    return v;
  }();
  return *all;
}

DeviceState& state(int index) {
  auto& all = states();
  if (index < 0 || index >= static_cast<int>(all.size()))
    throw std::out_of_range("CUDA device index " + std::to_string(index) + " out of range: this machine has " +
                            std::to_string(all.size()) + " usable CUDA device(s)");
  return *all[static_cast<size_t>(index)];
}

// Whether the upload from b has finished, without waiting.
bool upload_done(StagingBlock& b) {
  if (!b.in_flight) return true;
  const cudaError_t err = cudaEventQuery(b.free_event);
  if (err == cudaErrorNotReady) {
    (void)cudaGetLastError();  // not an error: leave nothing behind for the next launch check
    return false;
  }
  GAN_CUDA_CHECK(err);
  b.in_flight = false;
  return true;
}

// A free staging block of at least `bytes` (<= kStagingMaxBytes), marked used. Holds s.staging_mu (the caller's
// lock); runs on the device that owns s.
StagingBlock& take_staging(DeviceState& s, size_t bytes) {
  StagingBlock* best = nullptr;
  for (StagingBlock& b : s.staging)
    if (b.bytes >= bytes && (best == nullptr || b.bytes < best->bytes) && upload_done(b)) best = &b;
  if (best == nullptr && s.staging_total + bytes > kStagingPoolMaxBytes) {
    // The pool is full of uploads in flight: wait for the oldest that fits, or give back the free blocks.
    StagingBlock* oldest = nullptr;
    for (StagingBlock& b : s.staging)
      if (b.bytes >= bytes && (oldest == nullptr || b.last_use < oldest->last_use)) oldest = &b;
    if (oldest != nullptr) {
      detail::count_host_sync(detail::SyncReason::kStagingWait);
      GAN_CUDA_CHECK(cudaEventSynchronize(oldest->free_event));
      oldest->in_flight = false;
      best = oldest;
    } else {
      detail::count_host_sync(detail::SyncReason::kStagingWait);
      GAN_CUDA_CHECK(cudaStreamSynchronize(s.stream));
      for (StagingBlock& b : s.staging) {
        detail::count_host_sync(detail::SyncReason::kCudaFree);
        GAN_CUDA_CHECK(cudaFreeHost(b.ptr));
        GAN_CUDA_CHECK(cudaEventDestroy(b.free_event));
      }
      s.staging.clear();
      s.staging_total = 0;
    }
  }
  if (best == nullptr) {
    // At least 1 MiB, a power of two: few distinct sizes, so blocks are reused.
    size_t want = size_t{1} << 20;
    while (want < bytes) want *= 2;
    StagingBlock b;
    b.bytes = std::min(want, kStagingMaxBytes);
    GAN_CUDA_CHECK(cudaHostAlloc(&b.ptr, b.bytes, cudaHostAllocDefault));
    GAN_CUDA_CHECK(cudaEventCreateWithFlags(&b.free_event, cudaEventDisableTiming));
    s.staging_total += b.bytes;
    s.staging.push_back(b);
    best = &s.staging.back();
  }
  best->last_use = ++s.staging_uses;
  return *best;
}

}  // namespace

int current_device() {
  int index = 0;
  GAN_CUDA_CHECK(cudaGetDevice(&index));
  return index;
}

void set_device(int index) {
  (void)state(index);  // a clear range error rather than cudaErrorInvalidDevice
  GAN_CUDA_CHECK(cudaSetDevice(index));
}

DeviceGuard::DeviceGuard(int index) {
  if (index < 0) return;
  const int current = current_device();
  if (current == index) return;
  set_device(index);
  previous_ = current;
}

DeviceGuard::~DeviceGuard() {
  // A destructor must not throw; restoring a device that was valid a moment ago does not fail in practice.
  if (previous_ >= 0) (void)cudaSetDevice(previous_);
}

Stream stream() { return stream(current_device()); }

Stream stream(int index) {
  DeviceState& s = state(index);
  std::call_once(s.stream_once, [&] {
    DeviceGuard guard(index);
    GAN_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
  });
  return s.stream;
}

void synchronize() { synchronize(current_device()); }

void synchronize(int index) {
  DeviceGuard guard(index);
  detail::count_host_sync(detail::SyncReason::kStreamSynchronize);
  GAN_CUDA_CHECK(cudaStreamSynchronize(stream(index)));
}

bool is_pinned(const void* ptr) {
  if (ptr == nullptr) return false;
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, ptr) != cudaSuccess) {
    (void)cudaGetLastError();  // do not leave the failure behind for the next launch check
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}

void memcpy_h2d(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  cudaStream_t st = stream();
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  GAN_CUDA_CHECK(cudaStreamIsCapturing(st, &capture));
  if (capture != cudaStreamCaptureStatusNone)
    throw std::runtime_error("memcpy_h2d: an upload of " + std::to_string(bytes) +
                             " bytes from the host while the stream captures a CUDA graph: the graph would copy "
                             "from a staging buffer that later uploads overwrite, at every replay. Upload before "
                             "the capture (into a buffer the graph reads), or compute the values on the device");
  if (is_pinned(src)) {
    GAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, st));
    return;
  }
  DeviceState& s = state(current_device());
  std::lock_guard<std::mutex> lock(s.staging_mu);
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(bytes - done, kStagingMaxBytes);
    StagingBlock& b = take_staging(s, n);
    std::memcpy(b.ptr, static_cast<const char*>(src) + done, n);
    GAN_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + done, b.ptr, n, cudaMemcpyHostToDevice, st));
    GAN_CUDA_CHECK(cudaEventRecord(b.free_event, st));
    b.in_flight = true;
    done += n;
  }
}

void memcpy_d2h(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  cudaStream_t st = stream();
  if (is_pinned(dst)) {
    GAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, st));
    detail::count_host_sync(detail::SyncReason::kCopyToHost);
    GAN_CUDA_CHECK(cudaStreamSynchronize(st));
    return;
  }
  DeviceState& s = state(current_device());
  std::lock_guard<std::mutex> lock(s.staging_mu);
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(bytes - done, kStagingMaxBytes);
    StagingBlock& b = take_staging(s, n);
    GAN_CUDA_CHECK(cudaMemcpyAsync(b.ptr, static_cast<const char*>(src) + done, n, cudaMemcpyDeviceToHost, st));
    detail::count_host_sync(detail::SyncReason::kCopyToHost);
    GAN_CUDA_CHECK(cudaStreamSynchronize(st));  // the block is free again afterwards: nothing left in flight on it
    std::memcpy(static_cast<char*>(dst) + done, b.ptr, n);
    done += n;
  }
}

void memcpy_d2d(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  GAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}

void memcpy_peer(void* dst, int dst_device, const void* src, int src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device == src_device) {
    DeviceGuard guard(dst_device);
    memcpy_d2d(dst, src, bytes);
    return;
  }
  cudaStream_t dst_stream = stream(dst_device), src_stream = stream(src_device);
  // The copy runs on the destination's stream, after the work already queued on the source's (which may still be
  // writing src); afterwards the source's stream waits for the copy, so a block freed there is not reused while
  // the copy still reads it.
  cudaEvent_t src_ready = nullptr, copied = nullptr;
  {
    DeviceGuard guard(src_device);
    GAN_CUDA_CHECK(cudaEventCreateWithFlags(&src_ready, cudaEventDisableTiming));
    GAN_CUDA_CHECK(cudaEventRecord(src_ready, src_stream));
  }
  {
    DeviceGuard guard(dst_device);
    GAN_CUDA_CHECK(cudaStreamWaitEvent(dst_stream, src_ready, 0));
    GAN_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device, src, src_device, bytes, dst_stream));
    GAN_CUDA_CHECK(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming));
    GAN_CUDA_CHECK(cudaEventRecord(copied, dst_stream));
  }
  {
    DeviceGuard guard(src_device);
    GAN_CUDA_CHECK(cudaStreamWaitEvent(src_stream, copied, 0));
  }
  // Destroying a recorded event is fine: CUDA releases it once it has completed.
  GAN_CUDA_CHECK(cudaEventDestroy(src_ready));
  GAN_CUDA_CHECK(cudaEventDestroy(copied));
}

namespace {
std::atomic<int> g_planner_sm_override{0};
}  // namespace

int planner_sm_count() {
  const int forced = g_planner_sm_override.load(std::memory_order_relaxed);
  if (forced > 0) return forced;
  constexpr int kMaxDevices = 64;  // asked once per device: the answer never changes
  static std::atomic<int> cache[kMaxDevices] = {};
  const int dev = current_device();
  if (dev >= 0 && dev < kMaxDevices) {
    const int cached = cache[dev].load(std::memory_order_relaxed);
    if (cached > 0) return cached;
  }
  int count = 0;
  GAN_CUDA_CHECK(cudaDeviceGetAttribute(&count, cudaDevAttrMultiProcessorCount, dev));
  count = std::max(count, 1);
  if (dev >= 0 && dev < kMaxDevices) cache[dev].store(count, std::memory_order_relaxed);
  return count;
}

void set_planner_sm_count(int n) { g_planner_sm_override.store(std::max(n, 0), std::memory_order_relaxed); }

bool tf32_enabled() { return float_math() == FloatMath::Tf32; }
void set_tf32(bool on) { set_float_math(on ? FloatMath::Tf32 : FloatMath::Fp32); }

void memset_async(void* dst, int value, size_t bytes) {
  if (bytes == 0) return;
  GAN_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, stream()));
}

void* pinned_alloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = nullptr;
  // Portable: usable from every device's stream, not only the current device's.
  GAN_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocPortable));
  return p;
}

void pinned_free(void* ptr) {
  if (ptr == nullptr) return;
  detail::count_host_sync(detail::SyncReason::kCudaFree);
  GAN_CUDA_CHECK(cudaFreeHost(ptr));
}

}  // namespace gan::kernels::cuda
