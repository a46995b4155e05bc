// What CUDA can this process use? Asked by the engine when it picks a device at run time (CUDA when built with it
// and a device is present, else CPU), and by tests that skip GPU checks on a machine without one.
//
// Implemented in kernels/cuda/cuda_query.cu when built with CUDA (GAN_WITH_CUDA), otherwise by the stub in
// kernels/cpu/cuda_query_stub.cpp, so callers never need an #ifdef.
#pragma once

#include <string>

namespace gan::kernels {

// True when this build contains the CUDA backend.
bool cuda_compiled();

// Number of usable CUDA devices. 0 when the backend is not compiled in, or when the machine has no usable GPU
// (no device, no or too old driver, driver/library mismatch): a CUDA build must still run on such a machine.
// Any other CUDA error is unexpected and throws std::runtime_error.
int cuda_device_count();

// Name of device `index`, e.g. "NVIDIA H100 80GB HBM3". Throws std::out_of_range when index is not in
// [0, cuda_device_count()), std::runtime_error on a CUDA error.
std::string cuda_device_name(int index);

}  // namespace gan::kernels
