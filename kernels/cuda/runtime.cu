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
#include "kernels/cuda_query.h"

namespace gan::kernels::cuda {

namespace {

// Staging buffers grow to fit a copy up to this size; larger copies go through in chunks of it.
constexpr size_t kStagingMaxBytes = size_t{32} << 20;

// Per-device state, created on first use and kept for the life of the process. It is never destroyed: static
// destructors run after the CUDA runtime may already have shut down, when freeing streams or pinned memory fails.
struct DeviceState {
  std::once_flag stream_once;
  cudaStream_t stream = nullptr;

  // The pinned staging buffer for pageable host copies, and an event marking when the last upload from it ended.
  std::mutex staging_mu;
  void* staging = nullptr;
  size_t staging_bytes = 0;
  cudaEvent_t staging_free = nullptr;
  bool staging_pending = false;
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

// Waits for the previous upload from the staging buffer, then makes it at least `bytes` large. Holds
// s.staging_mu (the caller's lock); runs on the device that owns s.
void reserve_staging(DeviceState& s, size_t bytes) {
  if (s.staging_pending) {
    GAN_CUDA_CHECK(cudaEventSynchronize(s.staging_free));
    s.staging_pending = false;
  }
  if (s.staging_free == nullptr) GAN_CUDA_CHECK(cudaEventCreateWithFlags(&s.staging_free, cudaEventDisableTiming));
  if (s.staging_bytes >= bytes) return;
  if (s.staging != nullptr) {
    GAN_CUDA_CHECK(cudaFreeHost(s.staging));
    s.staging = nullptr;
    s.staging_bytes = 0;
  }
  // Grow geometrically (at least 1 MiB), so a run of increasing copies does not reallocate every time.
  const size_t want = std::min(kStagingMaxBytes, std::max({bytes, size_t{1} << 20, 2 * s.staging_bytes}));
  GAN_CUDA_CHECK(cudaHostAlloc(&s.staging, want, cudaHostAllocDefault));
  s.staging_bytes = want;
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
  if (is_pinned(src)) {
    GAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, st));
    return;
  }
  DeviceState& s = state(current_device());
  std::lock_guard<std::mutex> lock(s.staging_mu);
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(bytes - done, kStagingMaxBytes);
    reserve_staging(s, n);  // also waits until the previous upload has left the buffer
    std::memcpy(s.staging, static_cast<const char*>(src) + done, n);
    GAN_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(dst) + done, s.staging, n, cudaMemcpyHostToDevice, st));
    GAN_CUDA_CHECK(cudaEventRecord(s.staging_free, st));
    s.staging_pending = true;
    done += n;
  }
}

void memcpy_d2h(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  cudaStream_t st = stream();
  if (is_pinned(dst)) {
    GAN_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, st));
    GAN_CUDA_CHECK(cudaStreamSynchronize(st));
    return;
  }
  DeviceState& s = state(current_device());
  std::lock_guard<std::mutex> lock(s.staging_mu);
  for (size_t done = 0; done < bytes;) {
    const size_t n = std::min(bytes - done, kStagingMaxBytes);
    reserve_staging(s, n);
    GAN_CUDA_CHECK(cudaMemcpyAsync(s.staging, static_cast<const char*>(src) + done, n, cudaMemcpyDeviceToHost, st));
    GAN_CUDA_CHECK(cudaStreamSynchronize(st));
    std::memcpy(static_cast<char*>(dst) + done, s.staging, n);
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

namespace {
std::atomic<bool>& tf32_flag() {
  static std::atomic<bool> flag{[] {
    const char* v = std::getenv("GAN_TF32");
    return v == nullptr || std::string(v) != "0";
  }()};
  return flag;
}
}  // namespace

bool tf32_enabled() { return tf32_flag().load(std::memory_order_relaxed); }
void set_tf32(bool on) { tf32_flag().store(on, std::memory_order_relaxed); }

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
  if (ptr != nullptr) GAN_CUDA_CHECK(cudaFreeHost(ptr));
}

}  // namespace gan::kernels::cuda
