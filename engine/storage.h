// A tensor's memory: one allocation shared by every view of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>

#include "engine/device.h"

namespace gan {

// Memory for a tensor could not be had: what() says how much and for what (a std::bad_alloc, so code that
// handles running out of memory still catches it).
class OutOfMemory : public std::bad_alloc {
 public:
  explicit OutOfMemory(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// "1.5 GB", "512.0 kB", "12 bytes": sizes in messages.
std::string format_bytes(int64_t bytes);

// While it lives, caps the bytes that new tensors made by this thread (CPU and CUDA) may take in all: for building
// something whose size one file decides and another file must match, such as a model from a run's config.json
// that its checkpoint must fit. A config.json edited to ask for a huge model is then refused once `limit` bytes
// are used, with `reason` in the OutOfMemory message, instead of after gigabytes. Freed tensors are not given
// back to the allowance. The innermost limit of a thread applies.
class AllocationLimit {
 public:
  AllocationLimit(int64_t limit, std::string reason);
  ~AllocationLimit();
  AllocationLimit(const AllocationLimit&) = delete;
  AllocationLimit& operator=(const AllocationLimit&) = delete;

  int64_t used() const { return used_; }
  // Counts nbytes against the innermost limit of this thread, if any; throws OutOfMemory past it.
  static void charge(size_t nbytes);

 private:
  int64_t limit_;
  int64_t used_ = 0;
  std::string reason_;
  AllocationLimit* outer_;
};

// Bytes of tensor memory on the host (CPU storages) in use now and at most since the last reset_host_peak(),
// across threads: what a CPU training step keeps alive (the GPU's counterpart is the caching allocator's
// AllocatorStats, kernels/cuda/allocator.h).
struct HostMemoryStats {
  int64_t allocated_bytes = 0;
  int64_t peak_allocated_bytes = 0;
};
HostMemoryStats host_memory_stats();
void reset_host_peak();  // the peak restarts from the bytes in use now

class Storage {
 public:
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
};

}  // namespace gan
