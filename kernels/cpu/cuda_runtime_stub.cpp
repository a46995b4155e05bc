// CPU-only build of kernels/cuda/runtime.h, allocator.h, launch_count.h and sync_count.h: no CUDA
// backend, so nothing to run on. The engine reaches these only for CUDA tensors, which such a build refuses to
// create; each function that would need a device throws, naming itself, instead of failing at link time or doing
// nothing (the launch counters just stay 0). In a CUDA build kernels/cuda/runtime.cu, allocator.cpp and
// launch.cu provide them and this file compiles to nothing.
#ifndef GAN_WITH_CUDA

#include <stdexcept>
#include <string>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/graph.h"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/sync_count.h"
#include "kernels/math_mode.h"

namespace gan::kernels::cuda {

namespace {

[[noreturn]] void no_cuda(const char* what) {
  throw std::runtime_error(std::string(what) +
                           ": this build has no CUDA backend (configured with GAN_CUDA=OFF or without a CUDA "
                           "toolkit); rebuild with -DGAN_CUDA=ON or use the CPU");
}

}  // namespace

int current_device() { no_cuda("cuda::current_device"); }
void set_device(int) { no_cuda("cuda::set_device"); }
DeviceGuard::DeviceGuard(int index) {
  if (index >= 0) no_cuda("cuda::DeviceGuard");
}
DeviceGuard::~DeviceGuard() = default;
Stream stream() { no_cuda("cuda::stream"); }
Stream stream(int) { no_cuda("cuda::stream"); }
void synchronize() { no_cuda("cuda::synchronize"); }
void synchronize(int) { no_cuda("cuda::synchronize"); }
void memcpy_h2d(void*, const void*, size_t) { no_cuda("cuda::memcpy_h2d"); }
void memcpy_d2h(void*, const void*, size_t) { no_cuda("cuda::memcpy_d2h"); }
void memcpy_d2d(void*, const void*, size_t) { no_cuda("cuda::memcpy_d2d"); }
void memcpy_peer(void*, int, const void*, int, size_t) { no_cuda("cuda::memcpy_peer"); }
void memset_async(void*, int, size_t) { no_cuda("cuda::memset_async"); }
int planner_sm_count() { no_cuda("cuda::planner_sm_count"); }
void set_planner_sm_count(int) {}
bool tf32_enabled() { return float_math() == FloatMath::Tf32; }
void set_tf32(bool on) { set_float_math(on ? FloatMath::Tf32 : FloatMath::Fp32); }
void* pinned_alloc(size_t) { no_cuda("cuda::pinned_alloc"); }
void pinned_free(void* ptr) {
  if (ptr != nullptr) no_cuda("cuda::pinned_free");
}
bool is_pinned(const void*) { return false; }

void* device_alloc(size_t bytes) {
  if (bytes == 0) return nullptr;
  no_cuda("cuda::device_alloc");
}
void device_free(void*) {}
AllocatorStats allocator_stats(int) { return {}; }
void reset_peak_stats() {}
void empty_cache() {}
bool caching_enabled() { return false; }
bool poison_enabled() { return false; }
void set_poison(bool) {}

DeviceMallocs device_mallocs() { return {}; }
void reset_device_mallocs() {}
namespace detail {
void count_device_malloc(size_t) {}
}  // namespace detail

uint64_t sync_count() { return 0; }
std::vector<HostSyncs> sync_counts() { return {}; }
void reset_sync_counts() {}

namespace detail {
uint64_t create_private_pool() { no_cuda("cuda::detail::create_private_pool"); }
void begin_pool_capture(uint64_t) { no_cuda("cuda::detail::begin_pool_capture"); }
void end_pool_capture() {}
void release_private_pool(uint64_t) {}
}  // namespace detail

struct Graph::Impl {};
Graph::Graph() : impl_(std::make_unique<Impl>()) {}
Graph::~Graph() = default;
void Graph::capture(const std::function<void()>&) { no_cuda("cuda::Graph::capture"); }
void Graph::replay() { no_cuda("cuda::Graph::replay"); }
bool Graph::captured() const { return false; }
size_t Graph::node_count() const { return 0; }
uint64_t Graph::replays() const { return 0; }
bool capturing() { return false; }
void add_capture_hooks(CaptureHooks) { no_cuda("cuda::add_capture_hooks"); }
void* graph_buffer(size_t) { no_cuda("cuda::graph_buffer"); }

uint64_t launch_count() { return 0; }
std::vector<KernelLaunches> launch_counts() { return {}; }
void reset_launch_counts() {}

}  // namespace gan::kernels::cuda

#endif  // GAN_WITH_CUDA
