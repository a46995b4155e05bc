// Host synchronization counters. Every place the CUDA backend makes the host wait for the device goes through
// count_host_sync() right before it waits: a stream or device synchronize, a copy to the host (the caller reads
// the data next, so the copy waits: Tensor::item(), Tensor::to(CPU), a loss value), a wait for the pinned staging
// buffer of an upload, and a cudaFree (which waits for the whole device). Counted per reason, so a profile says
// where a step's waits come from.
//
// Why count them: a training step that waits for the device even once cannot queue the next step's kernels while
// the GPU works, and cannot be captured as a CUDA graph. The goal is 0 per training step outside log points
// (apps/metrics_buffer.h keeps the logged values on the device until then).
//
// Plain C++ (no CUDA headers). Counting is a relaxed atomic increment, safe from any thread. In a CPU-only build
// nothing ever waits for a device: the counts are 0 (kernels/cpu/cuda_runtime_stub.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gan::kernels::cuda {

// Host synchronizations since the process started or since the last reset_sync_counts().
uint64_t sync_count();

struct HostSyncs {
  std::string reason;  // e.g. "copy to host", "stream synchronize"
  uint64_t syncs = 0;
};

// Synchronizations per reason since the start or the last reset, reasons never seen left out, most frequent first.
std::vector<HostSyncs> sync_counts();

// Sets every count to 0.
void reset_sync_counts();

namespace detail {

// The reasons, one counter each.
enum class SyncReason : int {
  kStreamSynchronize,  // kernels::cuda::synchronize(), a caller that waits for all queued work
  kCopyToHost,         // memcpy_d2h: the host reads what the device wrote
  kStagingWait,        // memcpy_h2d from pageable memory waits until the previous upload left the staging buffer
  kCudaFree,           // cudaFree / cudaFreeHost wait for the device (allocator in direct mode, cache flush, scratch)
  kScratchGrow,        // a launcher's scratch buffer grows: queued kernels may still read the old one
  kDebugSyncAfterLaunch,  // GAN_CUDA_SYNC=1
  kCount
};

// Call right before the host waits for the device.
void count_host_sync(SyncReason reason);

}  // namespace detail

}  // namespace gan::kernels::cuda
