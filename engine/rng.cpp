#include "engine/rng.h"

#include <stdexcept>
#include <string>

#include "engine/ops/dispatch.h"
#include "kernels/cuda/graph.h"
#include "kernels/cuda/runtime.h"
#include "kernels/random.h"

namespace gan {

struct Generator::GraphDraws {
  uint64_t start = 0;   // the host offset when the capture's first draw came
  uint64_t blocks = 0;  // blocks the capture's draws take (per replay, once captured)
  uint64_t seed = 0, stream = 0;
  int device = -1;
  uint64_t* word = nullptr;  // the graph's device word: the offset its draws start from
  bool word_known = false;   // whether word_value is what the word holds
  uint64_t word_value = 0;
};

Generator::Generator(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}

uint64_t Generator::seed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seed_;
}

uint64_t Generator::stream() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stream_;
}

uint64_t Generator::offset() const {
  std::lock_guard<std::mutex> lock(mu_);
  return offset_;
}

Generator::State Generator::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return State{seed_, offset_, stream_};
}

void Generator::set_state(State s) {
  std::lock_guard<std::mutex> lock(mu_);
  seed_ = s.seed;
  offset_ = s.offset;
  stream_ = s.stream;
}

void Generator::manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  seed_ = seed;
  offset_ = 0;
}

uint64_t Generator::reserve(uint64_t blocks) { return reserve_state(blocks).offset; }

Generator::State Generator::reserve_state(uint64_t blocks) {
  std::lock_guard<std::mutex> lock(mu_);
  State s{seed_, offset_, stream_};
  offset_ += blocks;  // wraps after 2^64 blocks, i.e. never in practice
  return s;
}

namespace {
// A host draw inside a CUDA graph capture: its numbers would be baked into the graph (every replay the same), so
// the capture fails instead, before the offset moves.
void refuse_host_draw_in_capture() {
  if (kernels::cuda::capturing())
    throw std::runtime_error("Generator: a random draw on the host while capturing a CUDA graph: every replay would "
                             "reuse its numbers; draw on the device instead");
}
}  // namespace

template <typename T>
void Generator::fill_uniform(T* out, int64_t n, T lo, T hi) {
  if (n <= 0) return;
  refuse_host_draw_in_capture();
  const State s = reserve_state(kernels::philox_blocks_uniform<T>(n));
  kernels::cpu::uniform<T>(out, n, s.seed, s.stream, s.offset, lo, hi);
}

template <typename T>
void Generator::fill_normal(T* out, int64_t n, T mean, T stddev) {
  if (n <= 0) return;
  refuse_host_draw_in_capture();
  const State s = reserve_state(kernels::philox_blocks_normal<T>(n));
  kernels::cpu::normal<T>(out, n, s.seed, s.stream, s.offset, mean, stddev);
}

template <typename T>
void Generator::fill_uniform(T* out, int64_t n, T lo, T hi, Device device) {
  fill_device<T, false>(out, n, lo, hi, device);
}

template <typename T>
void Generator::fill_normal(T* out, int64_t n, T mean, T stddev, Device device) {
  fill_device<T, true>(out, n, mean, stddev, device);
}

template <typename T, bool kNormal>
void Generator::fill_device(T* out, int64_t n, T a, T b, Device device) {
  if (n <= 0) return;
  if (kernels::cuda::capturing()) {
    if (device.is_cuda()) fill_in_graph<T, kNormal>(out, n, a, b, device);
    else refuse_host_draw_in_capture();
    return;
  }
  const State s = reserve_state(kNormal ? kernels::philox_blocks_normal<T>(n) : kernels::philox_blocks_uniform<T>(n));
  if constexpr (kNormal) GAN_KERNEL(device, "randn", normal<T>, out, n, s.seed, s.stream, s.offset, a, b);
  else GAN_KERNEL(device, "rand", uniform<T>, out, n, s.seed, s.stream, s.offset, a, b);
}

template <typename T, bool kNormal>
void Generator::fill_in_graph(T* out, int64_t n, T a, T b, Device device) {
#if defined(GAN_WITH_CUDA) && GAN_WITH_CUDA
  const uint64_t blocks = kNormal ? kernels::philox_blocks_normal<T>(n) : kernels::philox_blocks_uniform<T>(n);
  std::lock_guard<std::mutex> lock(mu_);
  if (graph_draws_ && graph_draws_->device != device.index)
    throw std::runtime_error("Generator: one CUDA graph capture draws on two devices (cuda:" +
                             std::to_string(graph_draws_->device) + " and " + device.str() + ")");
  if (!graph_draws_) {
    graph_draws_ = std::make_shared<GraphDraws>();
    const std::shared_ptr<GraphDraws> draws = graph_draws_;
    draws->start = offset_;
    draws->seed = seed_;
    draws->stream = stream_;
    draws->device = device.index;
    {
      kernels::cuda::DeviceGuard guard(device.index);
      draws->word = static_cast<uint64_t*>(kernels::cuda::graph_buffer(sizeof(uint64_t)));
    }
    kernels::cuda::CaptureHooks hooks;
    hooks.at_end = [this, draws] {  // the graph's last work: advance the device word by the capture's draws
      std::lock_guard<std::mutex> l(mu_);
      kernels::cuda::DeviceGuard guard(draws->device);
      kernels::cuda::advance_offset(draws->word, draws->blocks);
      offset_ = draws->start;  // the capture ran nothing: each replay advances the host offset instead
      graph_draws_.reset();
    };
    hooks.on_abort = [this, draws] {
      std::lock_guard<std::mutex> l(mu_);
      offset_ = draws->start;
      graph_draws_.reset();
    };
    hooks.before_replay = [this, draws] {
      std::lock_guard<std::mutex> l(mu_);
      if (seed_ != draws->seed || stream_ != draws->stream)
        throw std::runtime_error("Generator: reseeded (seed " + std::to_string(seed_) + ", stream " +
                                 std::to_string(stream_) + ") since a CUDA graph drawing from it was captured (seed " +
                                 std::to_string(draws->seed) + ", stream " + std::to_string(draws->stream) +
                                 "); the graph's kernels keep the old seed: capture the graph again");
      if (!draws->word_known || draws->word_value != offset_) {  // the first replay, or eager draws since
        kernels::cuda::DeviceGuard guard(draws->device);
        const uint64_t value = offset_;
        kernels::cuda::memcpy_h2d(draws->word, &value, sizeof value);
      }
      offset_ += draws->blocks;  // what the graph's last kernel does to the device word
      draws->word_known = true;
      draws->word_value = offset_;
    };
    kernels::cuda::add_capture_hooks(std::move(hooks));
  }
  const uint64_t in_graph = offset_ - graph_draws_->start;
  offset_ += blocks;
  graph_draws_->blocks += blocks;
  kernels::cuda::DeviceGuard guard(device.index);
  if constexpr (kNormal) kernels::cuda::normal_at<T>(out, n, seed_, stream_, graph_draws_->word, in_graph, a, b);
  else kernels::cuda::uniform_at<T>(out, n, seed_, stream_, graph_draws_->word, in_graph, a, b);
#else
  (void)out, (void)n, (void)a, (void)b;
  throw std::runtime_error("Generator: a CUDA graph draw on " + device.str() + " in a build without CUDA");
#endif
}

template void Generator::fill_uniform<float>(float*, int64_t, float, float);
template void Generator::fill_uniform<double>(double*, int64_t, double, double);
template void Generator::fill_normal<float>(float*, int64_t, float, float);
template void Generator::fill_normal<double>(double*, int64_t, double, double);
template void Generator::fill_uniform<float>(float*, int64_t, float, float, Device);
template void Generator::fill_uniform<double>(double*, int64_t, double, double, Device);
template void Generator::fill_normal<float>(float*, int64_t, float, float, Device);
template void Generator::fill_normal<double>(double*, int64_t, double, double, Device);

Generator& default_generator() {
  // Function-local static: initialized once, thread-safely, on first use (no static-order problems).
  static Generator gen(0, 0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace gan
