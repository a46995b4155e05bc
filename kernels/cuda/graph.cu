// CUDA build (and emulator build) of kernels/cuda/graph.h.
#include "kernels/cuda/graph.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/relaxed_capture.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/sync_count.h"

namespace gan::kernels::cuda {

struct Graph::Impl {
  int device = -1;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  uint64_t pool = 0;
  size_t nodes = 0;
  uint64_t replays = 0;
  std::vector<CaptureHooks> hooks;
  std::vector<void*> buffers;  // graph_buffer()
};

namespace {

thread_local Graph::Impl* t_capturing = nullptr;

// The launch counter of graph replays: one "kernel" named cuda_graph_launch (launch.cuh's naming rule).
detail::KernelCounter& replay_counter() {
  static detail::KernelCounter& counter = detail::register_kernel("[with auto Kernel = cuda_graph_launch]");
  return counter;
}

// cudaFree waits for the device (a replay may still read them). Never throws.
void free_buffers(Graph::Impl& g) noexcept {
  if (g.buffers.empty()) return;
  DeviceGuard guard(g.device);
  for (void* p : g.buffers) {
    detail::count_host_sync(detail::SyncReason::kCudaFree);
    if (cudaFree(p) != cudaSuccess)
      std::fprintf(stderr, "gan: cudaFree of a CUDA graph's buffer failed: %s\n", cudaGetErrorString(cudaGetLastError()));
  }
  g.buffers.clear();
}

}  // namespace

Graph::Graph() : impl_(std::make_unique<Impl>()) {}

Graph::~Graph() {
  // Never throws: errors are reported and the rest is still released.
  if (impl_->exec != nullptr || impl_->graph != nullptr) {
    DeviceGuard guard(impl_->device);
    if (impl_->exec != nullptr && cudaGraphExecDestroy(impl_->exec) != cudaSuccess)
      std::fprintf(stderr, "gan: cudaGraphExecDestroy failed: %s\n", cudaGetErrorString(cudaGetLastError()));
    if (impl_->graph != nullptr && cudaGraphDestroy(impl_->graph) != cudaSuccess)
      std::fprintf(stderr, "gan: cudaGraphDestroy failed: %s\n", cudaGetErrorString(cudaGetLastError()));
  }
  // The blocks stay reserved; a replay still queued on the stream reads them in stream order before any later
  // user of the shared cache (one stream per device, allocator.h).
  if (impl_->pool != 0) detail::release_private_pool(impl_->pool);
  free_buffers(*impl_);
}

void Graph::capture(const std::function<void()>& queue_work) {
  Impl& g = *impl_;
  if (g.exec != nullptr) throw std::logic_error("cuda::Graph::capture: this graph was captured already");
  if (t_capturing != nullptr) throw std::logic_error("cuda::Graph::capture: this thread is capturing already");
  g.device = current_device();
  const cudaStream_t st = stream();
  g.pool = detail::create_private_pool();
  // Thread-local mode: this thread's unsafe calls (synchronizing ones) fail the capture; a data loader's thread
  // pinning host memory meanwhile does not (global mode would fail the capture for it). Relaxed mode would let a
  // synchronize of this thread run unnoticed outside the graph.
  GAN_CUDA_CHECK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
  t_capturing = &g;
  detail::begin_pool_capture(g.pool);
  std::string failure;
  try {
    queue_work();
    for (size_t i = 0; i < g.hooks.size(); ++i) {  // an at_end hook may add hooks: copy before calling
      const std::function<void()> at_end = g.hooks[i].at_end;
      if (at_end) at_end();
    }
  } catch (const std::exception& e) {
    failure = e.what();
  }
  detail::end_pool_capture();
  t_capturing = nullptr;
  cudaGraph_t graph = nullptr;
  const cudaError_t end = cudaStreamEndCapture(st, &graph);
  if (failure.empty() && end != cudaSuccess)
    failure = std::string("cudaStreamEndCapture: ") + cudaGetErrorName(end) + ": " + cudaGetErrorString(end);
  if (!failure.empty()) {
    (void)cudaGetLastError();  // the capture's errors are reported here: leave none for the next launch check
    if (graph != nullptr) (void)cudaGraphDestroy(graph);
    for (auto h = g.hooks.rbegin(); h != g.hooks.rend(); ++h)
      if (h->on_abort) h->on_abort();
    g.hooks.clear();
    detail::release_private_pool(g.pool);
    g.pool = 0;
    free_buffers(g);
    throw std::runtime_error("CUDA graph capture failed: " + failure);
  }
  g.graph = graph;
  GAN_CUDA_CHECK(cudaGraphGetNodes(graph, nullptr, &g.nodes));
  GAN_CUDA_CHECK(cudaGraphInstantiate(&g.exec, graph, 0));
}

void Graph::replay() {
  Impl& g = *impl_;
  if (g.exec == nullptr) throw std::logic_error("cuda::Graph::replay: nothing was captured");
  DeviceGuard guard(g.device);
  for (const CaptureHooks& h : g.hooks)
    if (h.before_replay) h.before_replay();
  detail::count_launch(replay_counter());
  GAN_CUDA_CHECK(cudaGraphLaunch(g.exec, stream()));
  ++g.replays;
  if (::gan::kernels::detail::sync_after_launch()) {
    detail::count_host_sync(detail::SyncReason::kDebugSyncAfterLaunch);
    GAN_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
}

bool Graph::captured() const { return impl_->exec != nullptr; }
size_t Graph::node_count() const { return impl_->nodes; }
uint64_t Graph::replays() const { return impl_->replays; }

bool capturing() { return t_capturing != nullptr; }

void* graph_buffer(size_t bytes) {
  if (t_capturing == nullptr) throw std::logic_error("cuda::graph_buffer: this thread captures no graph");
  void* p = nullptr;
  {
    const detail::RelaxedCaptureMode relaxed;  // cudaMalloc during the capture (relaxed_capture.h); not captured
    GAN_CUDA_CHECK(cudaMalloc(&p, bytes));
  }
  detail::count_device_malloc(bytes);
  t_capturing->buffers.push_back(p);
  return p;
}

void add_capture_hooks(CaptureHooks hooks) {
  if (t_capturing == nullptr) throw std::logic_error("cuda::add_capture_hooks: this thread captures no graph");
  t_capturing->hooks.push_back(std::move(hooks));
}

}  // namespace gan::kernels::cuda
