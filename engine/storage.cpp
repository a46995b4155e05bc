#include "engine/storage.h"

#include <atomic>
#include <cstdio>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda_query.h"

namespace gan {

namespace {
// 64-byte alignment: a cache line, and enough for any SIMD load the kernels or BLAS may use.
constexpr std::align_val_t kAlignment{64};
}  // namespace

std::string format_bytes(int64_t bytes) {
  const char* units[] = {"bytes", "kB", "MB", "GB", "TB", "PB", "EB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000.0 && u < 6) {
    v /= 1000.0;
    ++u;
  }
  char buf[48];
  if (u == 0) std::snprintf(buf, sizeof buf, "%lld bytes", static_cast<long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

namespace {
thread_local AllocationLimit* current_limit = nullptr;
}  // namespace

AllocationLimit::AllocationLimit(int64_t limit, std::string reason)
    : limit_(limit), reason_(std::move(reason)), outer_(current_limit) {
  current_limit = this;
}

AllocationLimit::~AllocationLimit() { current_limit = outer_; }

void AllocationLimit::charge(size_t nbytes) {
  AllocationLimit* l = current_limit;
  if (l == nullptr) return;
  if (nbytes > static_cast<uint64_t>(l->limit_ - l->used_))
    throw OutOfMemory("cannot allocate " + format_bytes(static_cast<int64_t>(nbytes)) + " more after " +
                      format_bytes(l->used_) + ": " + l->reason_);
  l->used_ += static_cast<int64_t>(nbytes);
}

namespace {
std::atomic<int64_t> g_host_bytes{0}, g_host_peak{0};

void count_host_alloc(size_t nbytes) {
  const int64_t now = g_host_bytes.fetch_add(static_cast<int64_t>(nbytes), std::memory_order_relaxed) +
                      static_cast<int64_t>(nbytes);
  int64_t peak = g_host_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_host_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}
}  // namespace

HostMemoryStats host_memory_stats() {
  return {g_host_bytes.load(std::memory_order_relaxed), g_host_peak.load(std::memory_order_relaxed)};
}

void reset_host_peak() { g_host_peak.store(g_host_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed); }

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  AllocationLimit::charge(nbytes);
  if (device.is_cuda()) {
    if (!kernels::cuda_compiled())
      throw std::runtime_error("Storage: cannot allocate on " + device.str() +
                               ": this build has no CUDA backend; rebuild with -DGAN_CUDA=ON or use the CPU");
    static const int count = kernels::cuda_device_count();  // fixed for the life of the process
    if (device.index < 0 || device.index >= count)
      throw std::runtime_error("Storage: cannot allocate on " + device.str() + ": this machine has " +
                               std::to_string(count) + " usable CUDA device(s)" +
                               (count == 0 ? " (no GPU or no driver); use the CPU (GAN_DEVICE=cpu)" : ""));
    // Device memory comes from the caching allocator (kernels/cuda/allocator.h), on the tensor's device.
    kernels::cuda::DeviceGuard guard(device.index);
    data_ = kernels::cuda::device_alloc(nbytes);
    return;
  }
  if (nbytes > 0) {
    data_ = ::operator new(nbytes, kAlignment);
    count_host_alloc(nbytes);
  }
}

Storage::~Storage() {
  if (data_ == nullptr) return;
  if (device_.is_cuda()) kernels::cuda::device_free(data_);  // the block records its device
  else {
    ::operator delete(data_, kAlignment);
    g_host_bytes.fetch_sub(static_cast<int64_t>(nbytes_), std::memory_order_relaxed);
  }
}

}  // namespace gan
