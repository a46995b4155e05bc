#include "engine/storage.h"

#include <new>
#include <stdexcept>
#include <string>

namespace gan {

namespace {
// 64-byte alignment: a cache line, and enough for any SIMD load the kernels or BLAS may use.
constexpr std::align_val_t kAlignment{64};
}  // namespace

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (!device.is_cpu())
    throw std::runtime_error("Storage: device " + device.str() +
                             " is not available in this build yet (CUDA tensors arrive with the CUDA backend)");
  if (nbytes > 0) data_ = ::operator new(nbytes, kAlignment);
}

Storage::~Storage() {
  if (data_) ::operator delete(data_, kAlignment);
}

}  // namespace gan
