// The caching allocator for device memory: every CUDA tensor's storage (engine/storage.cpp) and any scratch
// memory a CUDA kernel launcher needs come from here.
//
// Why cache: cudaMalloc and cudaFree are slow and synchronize the device, and a training step frees and
// allocates the same sizes over and over. Freed blocks therefore go to a per-device cache and the next request
// of a fitting size reuses one without calling CUDA.
//
// Size classes: a request is rounded up to a multiple of 512 bytes, and to one of four steps per power of two
// (2^k, 1.25 * 2^k, 1.5 * 2^k, 1.75 * 2^k) where those steps are coarser, so the number of distinct sizes stays
// small and at most 511 bytes or a quarter of the request is wasted, whichever is more. Blocks up to 1 MiB form the small pool (reused only by requests of the same class: they are
// many and cheap); bigger blocks form the large pool (a request takes the smallest cached block of at least its
// class and at most 1.25 times it). Blocks are never split or merged.
//
// Stream order: every kernel runs on the device's one stream (kernels/cuda/runtime.h), so a block freed by the
// host while kernels that use it are still queued can be handed out at once: whatever uses it next is queued on
// the same stream behind them.
//
// Out of memory: the cache of that device is flushed (its blocks given back with cudaFree) and the cudaMalloc is
// retried once; if it fails again, std::runtime_error names the device, the requested bytes, the free and total
// bytes cudaMemGetInfo reports, and what this allocator holds.
//
// Environment (read once, at the first allocation):
//   GAN_CUDA_ALLOC=direct  no caching: every allocation is a cudaMalloc and every free a cudaFree (after the
//                          stream has drained), so compute-sanitizer sees every out-of-bounds access. The default
//                          is GAN_CUDA_ALLOC=caching.
//   GAN_CUDA_POISON=1      fill every allocation handed out (new or reused) with 0xFF bytes, which read as NaN in
//                          float and double: a kernel that leaves an output element unwritten shows up as NaN in
//                          parity tests. set_poison() changes it at run time. The emulator build (GAN_CUDA=EMU)
//                          poisons unless GAN_CUDA_POISON=0.
//
// Plain C++ header; in a build without CUDA the functions are stubs that throw (allocation) or report nothing.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace gan::kernels::cuda {

struct AllocatorStats {
  size_t allocated_bytes = 0;       // in blocks handed out and not yet freed (rounded sizes)
  size_t peak_allocated_bytes = 0;  // maximum of allocated_bytes since start or reset_peak_stats()
  size_t requested_bytes = 0;       // the sizes asked for, of the same blocks (<= allocated_bytes)
  size_t reserved_bytes = 0;        // obtained from cudaMalloc and not given back: allocated + cached
  size_t peak_reserved_bytes = 0;
  size_t cached_bytes = 0;          // reserved but free, waiting for reuse
  uint64_t num_allocs = 0;          // device_alloc calls of more than 0 bytes
  uint64_t num_frees = 0;
  uint64_t cache_hits = 0;          // allocations served from the cache
  uint64_t cuda_mallocs = 0;        // successful cudaMalloc calls
  uint64_t cuda_frees = 0;          // cudaFree calls
  uint64_t oom_flushes = 0;         // times an out-of-memory flushed the cache and retried
};

// Allocates `bytes` on the current device (nullptr for 0 bytes). Throws std::runtime_error on out of memory,
// after one flush-and-retry.
void* device_alloc(size_t bytes);

// Returns a block from device_alloc (nullptr is a no-op). Never throws: it is called from destructors.
void device_free(void* ptr);

// Statistics of device `index` (the current device when negative).
AllocatorStats allocator_stats(int index = -1);

// Device memory newly obtained from CUDA (cudaMalloc) by the whole backend, all devices together: the caching
// allocator's blocks and the kernels' own scratch buffers (reduction workspaces). After warm-up a training step
// should obtain none: every block it needs comes from the cache. Counted since the start or the last
// reset_device_mallocs(); a build without CUDA reports 0.
struct DeviceMallocs {
  uint64_t calls = 0;  // successful cudaMalloc calls
  uint64_t bytes = 0;  // the bytes they obtained (the allocator's rounded sizes)
};
DeviceMallocs device_mallocs();
void reset_device_mallocs();

namespace detail {
// Called after each successful cudaMalloc of the backend.
void count_device_malloc(size_t bytes);

// Private pools for CUDA graph capture (kernels/cuda/graph.h). A captured graph replays its kernels on the very
// addresses they had at capture, so the memory the captured work allocates and frees must keep those addresses
// and must never be handed to anyone else while the graph lives. While the calling thread captures into pool P
// (begin_pool_capture, on the current device):
//   - its allocations take blocks from P's free blocks (same size rules as the cache) or new cudaMalloc'd ones,
//     never from the shared cache;
//   - its frees, of P's blocks and of shared blocks alike (the graph may read a block before freeing it), go to
//     P's free blocks.
// Afterwards, until release_private_pool(P): a block of P freed by anyone goes back to P, never to the shared
// cache, so the next replay finds it untouched by others; allocations outside a capture never take P's blocks.
// release_private_pool (the graph's destructor) hands P's free blocks to the shared cache; P's blocks still in use
// (a tensor the step returned, a parameter's .grad) go to the shared cache when freed. In the emulator build the
// blocks of P stay live for the emulator between replays (a replayed kernel may use them), sized for the largest
// request they served.
uint64_t create_private_pool();
void begin_pool_capture(uint64_t pool);
void end_pool_capture();
void release_private_pool(uint64_t pool);
}  // namespace detail

// Peaks restart from the current values, for all devices.
void reset_peak_stats();

// Gives every cached (free) block of every device back to CUDA. Blocks in use are untouched.
void empty_cache();

inline constexpr size_t kMinBlockBytes = 512;               // granularity of every size class
inline constexpr size_t kSmallPoolMaxBytes = size_t{1} << 20;  // blocks up to 1 MiB form the small pool

// The size class a request of `bytes` is rounded up to (0 for 0).
constexpr size_t round_size(size_t bytes) {
  if (bytes == 0) return 0;
  if (bytes <= kMinBlockBytes) return kMinBlockBytes;
  const size_t step = std::max(std::bit_floor(bytes) / 4, kMinBlockBytes);  // bit_floor: 2^k <= bytes < 2^(k+1)
  return (bytes + step - 1) / step * step;
}

// False under GAN_CUDA_ALLOC=direct.
bool caching_enabled();

// Whether new allocations are filled with 0xFF (GAN_CUDA_POISON=1); set_poison overrides the environment.
bool poison_enabled();
void set_poison(bool enabled);

}  // namespace gan::kernels::cuda
