// The CUDA runtime as the engine uses it: one stream per device, device selection, synchronization and copies.
//
// Every kernel of the CUDA backend runs on kernels::cuda::stream(), the current device's stream: a non-blocking
// stream created on first use. One stream per device keeps the work in program order (so the caching allocator
// can hand a freed block to the next allocation without events) while never synchronizing with the legacy
// default stream that other libraries may use.
//
// Copies are asynchronous on that stream where the host allows it:
//   memcpy_h2d: host -> device. Pageable host memory goes through a pinned staging block (a memcpy into it, then
//               an async DMA on the stream); the call returns once the host buffer may be reused, and does not
//               wait for the device: it takes a block whose earlier upload has finished (an event query) or a new
//               one, up to 256 MiB of blocks per device, past which it waits for the oldest upload (counted,
//               kernels/cuda/sync_count.h). Host memory that is already pinned (pinned_alloc) is copied directly
//               and asynchronously.
//   memcpy_d2h: device -> host. Returns when the data is on the host (it has to: the caller reads it next).
//   memcpy_d2d: device -> device on one device, async on the stream.
//   memcpy_peer: between two devices; ordered after the work queued on both devices' streams.
//
// This header is plain C++ (no cuda_runtime.h), so engine/ code compiled by the host compiler can include it.
// Streams are CUstream_st*, the very type cudaStream_t names, so a .cu file passes stream() straight to a launch.
// In a build without CUDA every function here throws (kernels/cpu/cuda_runtime_stub.cpp): callers reach them
// only for CUDA tensors, which such a build never creates.
#pragma once

#include <cstddef>

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace gan::kernels::cuda {

using Stream = CUstream_st*;

// The device the calling thread works on (cudaGetDevice / cudaSetDevice).
int current_device();
void set_device(int index);

// Makes `index` the current device for a scope, then restores the previous one. A negative index does nothing.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index);
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// The current device's stream (created lazily, non-blocking), and device `index`'s.
Stream stream();
Stream stream(int index);

// Waits until all work queued on the current device's stream (or device `index`'s) has finished, and reports any
// asynchronous error it raised.
void synchronize();
void synchronize(int index);

// Copies (bytes; 0 is allowed). Pointers to device memory must belong to the current device except in
// memcpy_peer. See the header comment for which calls return before the copy is done.
void memcpy_h2d(void* dst_device, const void* src_host, size_t bytes);
void memcpy_d2h(void* dst_host, const void* src_device, size_t bytes);
void memcpy_d2d(void* dst_device, const void* src_device, size_t bytes);
void memcpy_peer(void* dst, int dst_device, const void* src, int src_device, size_t bytes);

// Streaming multiprocessors of the current device as the kernels' launch planners see them (the convolution's
// tile shape and split-K slices depend on it). set_planner_sm_count(n) makes every planner plan for n SMs on every
// device, and 0 gives back the devices' own counts: a test can run the plans a larger GPU would choose (the big
// tiles of batch 128 on 132 SMs) on small shapes, or the split-K paths.
int planner_sm_count();
void set_planner_sm_count(int n);

// Shorthands for the float32 math mode (kernels/math_mode.h: fp32, tf32 or bf16, process-wide, TF32 by default
// like PyTorch's allow_tf32): tf32_enabled() is float_math() == Tf32; set_tf32(on) sets Tf32 or strict Fp32.
bool tf32_enabled();
void set_tf32(bool on);

// Sets `bytes` bytes to `value`, async on the current device's stream.
void memset_async(void* dst_device, int value, size_t bytes);

// Page-locked host memory (cudaHostAlloc): host buffers the GPU can DMA from directly, for data loaders that
// want async uploads. pinned_free(nullptr) is a no-op.
void* pinned_alloc(size_t bytes);
void pinned_free(void* ptr);

// True when ptr is page-locked host memory known to CUDA (pinned_alloc or cudaHostRegister).
bool is_pinned(const void* ptr);

}  // namespace gan::kernels::cuda
