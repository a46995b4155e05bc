#include "engine/device.h"

#include <cstdlib>
#include <stdexcept>

#include "engine/checked.h"
#include "kernels/cuda_query.h"

namespace gan {

namespace {

constexpr int64_t kMaxCudaDevice = 1023;  // "cuda:N" beyond this is a typo, not a machine

Device require_cuda(int index, const std::string& asked_by) {
  if (!kernels::cuda_compiled())
    throw std::runtime_error(asked_by + " asks for a CUDA device, but this build has no CUDA backend; rebuild with "
                             "-DGAN_CUDA=ON on a machine with the CUDA toolkit, or use the CPU (GAN_DEVICE=cpu)");
  const int count = kernels::cuda_device_count();
  if (count == 0)
    throw std::runtime_error(asked_by + " asks for a CUDA device, but none is usable on this machine (no GPU or no "
                             "driver); use the CPU (GAN_DEVICE=cpu)");
  if (index < 0 || index >= count)
    throw std::runtime_error(asked_by + " asks for cuda:" + std::to_string(index) + ", but this machine has " +
                             std::to_string(count) + " CUDA device(s)");
  return Device::cuda(index);
}

Device choose_default_device() {
  const char* env = std::getenv("GAN_DEVICE");
  if (env != nullptr && *env != '\0') {
    try {
      return parse_device(env);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("GAN_DEVICE=") + env + ": " + e.what());
    }
  }
  return kernels::cuda_device_count() > 0 ? Device::cuda(0) : Device::cpu();
}

}  // namespace

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return require_cuda(0, "device '" + text + "'");
  if (text.rfind("cuda:", 0) == 0) {
    const std::string index = text.substr(5);
    if (const std::string problem = int_problem(index, 0, kMaxCudaDevice); !problem.empty())
      throw std::invalid_argument("unknown device '" + text + "' (" + problem + "); expected cpu, cuda or cuda:N");
    return require_cuda(static_cast<int>(parse_int(index, "device '" + text + "'")), "device '" + text + "'");
  }
  throw std::invalid_argument("unknown device '" + text + "'; expected cpu, cuda or cuda:N");
}

Device default_device() {
  static const Device device = choose_default_device();
  return device;
}

}  // namespace gan
