// CUDA build of kernels/cuda/allocator.h: the caching device allocator. Host code only (the CUDA runtime API),
// so it is compiled by the host compiler like the rest of the kernels' C++.
#include "kernels/cuda/allocator.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/relaxed_capture.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/sync_count.h"
#include "kernels/cuda_query.h"
#if defined(GAN_CUDA_EMU)
#include "kernels/cuda/emu/emulator.h"
#endif

namespace gan::kernels::cuda {

namespace {

#if defined(GAN_CUDA_EMU)
// The emulator (GAN_CUDA=EMU) poisons by default, and learns which bytes of a block the current owner may touch,
// so AddressSanitizer reports an access past the request (inside the size class) or to a cached block.
constexpr bool kPoisonByDefault = true;
void handed_out(const void* ptr, size_t bytes) { emu::block_handed_out(ptr, bytes); }
void returned(const void* ptr) { emu::block_returned(ptr); }
#else
constexpr bool kPoisonByDefault = false;
void handed_out(const void*, size_t) {}
void returned(const void*) {}
#endif

constexpr size_t kSmallPoolMax = kSmallPoolMaxBytes;

enum class Mode { Caching, Direct };

Mode read_mode() {
  const char* v = std::getenv("GAN_CUDA_ALLOC");
  if (v == nullptr || *v == '\0' || std::string(v) == "caching") return Mode::Caching;
  if (std::string(v) == "direct") return Mode::Direct;
  throw std::invalid_argument(std::string("GAN_CUDA_ALLOC=") + v + ": expected 'caching' (the default) or 'direct'");
}

std::atomic<int>& poison_flag() {  // -1: not read from the environment yet
  static std::atomic<int> flag{-1};
  return flag;
}

std::string bytes_str(size_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%zu bytes (%.2f MiB)", bytes, static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

struct Block {
  size_t size = 0;       // the rounded size obtained from cudaMalloc
  size_t requested = 0;  // what the current owner asked for
  int device = 0;
  uint64_t pool = 0;     // the private pool (graph capture) it belongs to; 0: the shared cache
};

// A CUDA graph's private pool (allocator.h, "Private pools").
struct PrivatePool {
  int device = 0;
  std::multimap<size_t, void*> free_blocks;       // by size
  std::unordered_map<void*, size_t> max_request;  // per block of the pool: the largest request it served
};

// The pool the calling thread captures into (0: none).
thread_local uint64_t t_capture_pool = 0;

struct DevicePool {
  std::multimap<size_t, void*> small_free, large_free;  // cached blocks by size
  AllocatorStats stats;
};

class CachingAllocator {
 public:
  CachingAllocator() : mode_(read_mode()), pools_(static_cast<size_t>(cuda_device_count())) {}

  Mode mode() const { return mode_; }

  void* alloc(size_t bytes) {
    if (bytes == 0) return nullptr;
    const int device = current_device();
    const size_t size = round_size(bytes);
    void* ptr = nullptr;
    size_t handed_bytes = bytes;
    {
      std::lock_guard<std::mutex> lock(mu_);
      DevicePool& pool = pool_of(device);
      PrivatePool* priv = capturing_pool(device);
      size_t got = 0;
      if (priv != nullptr) ptr = take_from(priv->free_blocks, size, got);
      else if (mode_ == Mode::Caching) ptr = take_cached(pool, size, got);
      if (ptr != nullptr) {
        ++pool.stats.cache_hits;
      } else {
        ptr = malloc_with_retry(pool, device, size, bytes);
        got = size;
      }
      live_[ptr] = Block{got, bytes, device, priv != nullptr ? t_capture_pool : 0};
      AllocatorStats& s = pool.stats;
      ++s.num_allocs;
      s.allocated_bytes += got;
      s.requested_bytes += bytes;
      s.peak_allocated_bytes = std::max(s.peak_allocated_bytes, s.allocated_bytes);
      if (priv != nullptr) {
        // A replay runs every user the block had during the capture: the emulator must let the largest one in.
        size_t& largest = priv->max_request[ptr];
        largest = std::max(largest, bytes);
        handed_bytes = largest;
      }
    }
    handed_out(ptr, handed_bytes);
    if (poison_enabled()) memset_async(ptr, 0xFF, bytes);
    return ptr;
  }

  void free(void* ptr) noexcept {
    if (ptr == nullptr) return;
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = live_.find(ptr);
    if (it == live_.end()) {
      // Not ours: a caller bug that must not pass silently, but this runs in destructors, so no exception.
      std::fprintf(stderr, "gan: CUDA allocator: free of pointer %p that it did not allocate (ignored)\n", ptr);
      return;
    }
    const Block b = it->second;
    live_.erase(it);
    DevicePool& pool = pools_[static_cast<size_t>(b.device)];
    AllocatorStats& s = pool.stats;
    ++s.num_frees;
    s.allocated_bytes -= b.size;
    s.requested_bytes -= b.requested;
    // A block of a live private pool goes back to it; so does any block the capturing thread frees (the graph may
    // read it before this free, at every replay). Either way it stays live for the emulator: the graph owns it.
    PrivatePool* priv = nullptr;
    if (b.pool != 0) {
      const auto p = private_.find(b.pool);
      if (p != private_.end()) priv = &p->second;
    }
    if (priv == nullptr) priv = capturing_pool(b.device);
    if (priv != nullptr) {
      priv->free_blocks.emplace(b.size, ptr);
      size_t& largest = priv->max_request[ptr];
      largest = std::max(largest, b.requested);
      return;
    }
    if (mode_ == Mode::Caching) {
      returned(ptr);
      (b.size <= kSmallPoolMax ? pool.small_free : pool.large_free).emplace(b.size, ptr);
      s.cached_bytes += b.size;
      return;
    }
    // Direct mode: kernels still queued may use the block; wait for them, then give it back.
    const cudaError_t err = release_to_cuda(b.device, ptr, /*drain=*/true);
    if (err != cudaSuccess && err != cudaErrorCudartUnloading)
      std::fprintf(stderr, "gan: CUDA allocator: cudaFree failed: %s\n", cudaGetErrorString(err));
    s.reserved_bytes -= b.size;
  }

  AllocatorStats stats(int device) {
    std::lock_guard<std::mutex> lock(mu_);
    return pool_of(device).stats;
  }

  void reset_peaks() {
    std::lock_guard<std::mutex> lock(mu_);
    for (DevicePool& p : pools_) {
      p.stats.peak_allocated_bytes = p.stats.allocated_bytes;
      p.stats.peak_reserved_bytes = p.stats.reserved_bytes;
    }
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t d = 0; d < pools_.size(); ++d) flush(pools_[d], static_cast<int>(d));
  }

  uint64_t create_private_pool() {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t id = ++last_private_;
    private_[id].device = current_device();
    return id;
  }

  // Hands a private pool's free blocks to the shared cache (or to CUDA in direct mode); its blocks in use join the
  // shared cache when freed.
  void release_private_pool(uint64_t id) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = private_.find(id);
    if (it == private_.end()) return;
    PrivatePool& priv = it->second;
    DevicePool& pool = pools_[static_cast<size_t>(priv.device)];
    for (const auto& [size, ptr] : priv.free_blocks) {
      if (mode_ == Mode::Caching) {
        returned(ptr);
        (size <= kSmallPoolMax ? pool.small_free : pool.large_free).emplace(size, ptr);
        pool.stats.cached_bytes += size;
      } else {
        const cudaError_t err = release_to_cuda(priv.device, ptr, /*drain=*/true);
        if (err != cudaSuccess && err != cudaErrorCudartUnloading)
          std::fprintf(stderr, "gan: CUDA allocator: cudaFree failed: %s\n", cudaGetErrorString(err));
        pool.stats.reserved_bytes -= size;
      }
    }
    for (auto& [ptr, block] : live_)
      if (block.pool == id) block.pool = 0;
    private_.erase(it);
  }

 private:
  std::map<uint64_t, PrivatePool> private_;
  uint64_t last_private_ = 0;

  // The private pool the calling thread captures into on `device`, or nullptr. Caller holds mu_.
  PrivatePool* capturing_pool(int device) {
    if (t_capture_pool == 0) return nullptr;
    const auto it = private_.find(t_capture_pool);
    return it != private_.end() && it->second.device == device ? &it->second : nullptr;
  }

  // The smallest block of `list` that serves a request of class `size`, removed from it. Small blocks: the same
  // class only. Large ones: at most 1.25 times the class (about one class up).
  static void* take_from(std::multimap<size_t, void*>& list, size_t size, size_t& got) {
    auto it = list.lower_bound(size);
    if (it == list.end()) return nullptr;
    const size_t limit = size <= kSmallPoolMax ? size : size + size / 4;
    if (it->first > limit) return nullptr;
    void* ptr = it->second;
    got = it->first;
    list.erase(it);
    return ptr;
  }

  Mode mode_;
  std::mutex mu_;
  std::vector<DevicePool> pools_;
  std::unordered_map<void*, Block> live_;

  DevicePool& pool_of(int device) {
    if (device < 0 || device >= static_cast<int>(pools_.size()))
      throw std::out_of_range("CUDA allocator: device index " + std::to_string(device) + " out of range: " +
                              std::to_string(pools_.size()) + " usable CUDA device(s)");
    return pools_[static_cast<size_t>(device)];
  }

  // A cached block for a request of class `size`, removed from the cache (nullptr if none fits).
  void* take_cached(DevicePool& pool, size_t size, size_t& got) {
    void* ptr = take_from(size <= kSmallPoolMax ? pool.small_free : pool.large_free, size, got);
    if (ptr != nullptr) pool.stats.cached_bytes -= got;
    return ptr;
  }

  // cudaMalloc, allowed while this thread captures a graph (the private pool's new blocks; relaxed_capture.h).
  static cudaError_t cuda_malloc(void** ptr, size_t size) {
    const detail::RelaxedCaptureMode relaxed;
    return cudaMalloc(ptr, size);
  }

  void* malloc_with_retry(DevicePool& pool, int device, size_t size, size_t requested) {
    void* ptr = nullptr;
    cudaError_t err = cuda_malloc(&ptr, size);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear it, so the next launch check does not report it
      ++pool.stats.oom_flushes;
      flush(pool, device);  // a cudaFree: fails a capture in progress, as it must
      err = cuda_malloc(&ptr, size);
    }
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      (void)cudaMemGetInfo(&free_b, &total_b);
      (void)cudaGetLastError();
      throw std::runtime_error(
          "CUDA out of memory on cuda:" + std::to_string(device) + ": tried to allocate " + bytes_str(requested) +
          " (size class " + bytes_str(size) + "); the device has " + bytes_str(free_b) + " free of " +
          bytes_str(total_b) + "; this process holds " + bytes_str(pool.stats.allocated_bytes) +
          " in tensors and caches " + bytes_str(pool.stats.cached_bytes) +
          " (the cache was flushed and the allocation retried once)");
    }
    if (err != cudaSuccess) kernels::detail::throw_cuda_error(err, "cudaMalloc(&ptr, size)", __FILE__, __LINE__);
    detail::count_device_malloc(size);
    AllocatorStats& s = pool.stats;
    ++s.cuda_mallocs;
    s.reserved_bytes += size;
    s.peak_reserved_bytes = std::max(s.peak_reserved_bytes, s.reserved_bytes);
    return ptr;
  }

  // Gives every cached block of `device` back to CUDA. Caller holds mu_.
  void flush(DevicePool& pool, int device) {
    if (pool.small_free.empty() && pool.large_free.empty()) return;
    // A cached block may still be read by kernels queued before its owner freed it: drain the stream first.
    DeviceGuard guard(device);
    detail::count_host_sync(detail::SyncReason::kCudaFree);
    GAN_CUDA_CHECK(cudaStreamSynchronize(stream(device)));
    for (auto* list : {&pool.small_free, &pool.large_free}) {
      for (const auto& [size, ptr] : *list) {
        GAN_CUDA_CHECK(release_to_cuda(device, ptr, /*drain=*/false));
        pool.stats.reserved_bytes -= size;
        pool.stats.cached_bytes -= size;
      }
      list->clear();
    }
  }

  cudaError_t release_to_cuda(int device, void* ptr, bool drain) {
    int previous = -1;
    if (cudaGetDevice(&previous) == cudaSuccess && previous != device) (void)cudaSetDevice(device);
    if (drain) detail::count_host_sync(detail::SyncReason::kCudaFree);
    cudaError_t err = drain ? cudaStreamSynchronize(stream(device)) : cudaSuccess;
    detail::count_host_sync(detail::SyncReason::kCudaFree);
    if (err == cudaSuccess) err = cudaFree(ptr);
    ++pools_[static_cast<size_t>(device)].stats.cuda_frees;
    if (previous >= 0 && previous != device) (void)cudaSetDevice(previous);
    if (err != cudaSuccess) (void)cudaGetLastError();
    return err;
  }
};

// Never destroyed: tensors freed during static destruction still find it, and nothing is handed back to a CUDA
// runtime that may already be shutting down.
CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator();
  return *a;
}

std::atomic<uint64_t> g_device_malloc_calls{0};
std::atomic<uint64_t> g_device_malloc_bytes{0};

}  // namespace

namespace detail {

void count_device_malloc(size_t bytes) {
  g_device_malloc_calls.fetch_add(1, std::memory_order_relaxed);
  g_device_malloc_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

}  // namespace detail

DeviceMallocs device_mallocs() {
  return {g_device_malloc_calls.load(std::memory_order_relaxed), g_device_malloc_bytes.load(std::memory_order_relaxed)};
}

void reset_device_mallocs() {
  g_device_malloc_calls.store(0, std::memory_order_relaxed);
  g_device_malloc_bytes.store(0, std::memory_order_relaxed);
}

namespace detail {

uint64_t create_private_pool() { return allocator().create_private_pool(); }
void begin_pool_capture(uint64_t pool) { t_capture_pool = pool; }
void end_pool_capture() { t_capture_pool = 0; }
void release_private_pool(uint64_t pool) { allocator().release_private_pool(pool); }

}  // namespace detail

void* device_alloc(size_t bytes) { return allocator().alloc(bytes); }

void device_free(void* ptr) {
  if (ptr != nullptr) allocator().free(ptr);
}

AllocatorStats allocator_stats(int index) { return allocator().stats(index < 0 ? current_device() : index); }

void reset_peak_stats() { allocator().reset_peaks(); }

void empty_cache() { allocator().empty_cache(); }

bool caching_enabled() { return allocator().mode() == Mode::Caching; }

bool poison_enabled() {
  int v = poison_flag().load(std::memory_order_relaxed);
  if (v < 0) {
    const char* env = std::getenv("GAN_CUDA_POISON");
    v = env != nullptr ? (std::string(env) == "1" ? 1 : 0) : (kPoisonByDefault ? 1 : 0);
    int expected = -1;
    if (!poison_flag().compare_exchange_strong(expected, v)) v = expected;  // set_poison won the race
  }
  return v == 1;
}

void set_poison(bool enabled) { poison_flag().store(enabled ? 1 : 0); }

}  // namespace gan::kernels::cuda
