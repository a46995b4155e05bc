// Where a tensor's memory lives: the CPU, always there, or a CUDA device (in a build with the CUDA backend; its
// streams, copies and caching allocator are in kernels/cuda/runtime.h and kernels/cuda/allocator.h).
#pragma once

#include <string>

namespace gan {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  bool operator==(const Device&) const = default;
};

// The device to compute on when the user names none: CUDA when this build has the CUDA backend and a device is
// present, else the CPU. GAN_DEVICE=cpu forces the CPU; GAN_DEVICE=cuda (or cuda:N) requires a GPU and throws
// saying why there is none. Decided once per process.
Device default_device();

// Parses "cpu", "cuda", "cuda:N"; throws std::invalid_argument naming the text and the accepted forms, and
// std::runtime_error when a CUDA device is asked for but this build or machine has none.
Device parse_device(const std::string& text);

}  // namespace gan
