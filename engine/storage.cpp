#include "engine/storage.h"

#include <cstdio>
#include <new>
#include <stdexcept>
#include <string>

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

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
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
  if (nbytes > 0) data_ = ::operator new(nbytes, kAlignment);
}

Storage::~Storage() {
  if (data_ == nullptr) return;
  if (device_.is_cuda()) kernels::cuda::device_free(data_);  // the block records its device
  else ::operator delete(data_, kAlignment);
}

}  // namespace gan
