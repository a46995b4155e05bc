#include "models/graph_step.h"

#include <stdexcept>

#include "engine/ops.h"
#include "kernels/cuda/graph.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/sync_count.h"

namespace gan::models {

CudaGraphMode parse_cuda_graph_mode(const std::string& text) {
  if (text == "auto") return CudaGraphMode::Auto;
  if (text == "on") return CudaGraphMode::On;
  if (text == "off") return CudaGraphMode::Off;
  throw std::invalid_argument("--cuda-graph: expected auto, on or off, got '" + text + "'");
}

const char* cuda_graph_mode_name(CudaGraphMode mode) {
  switch (mode) {
    case CudaGraphMode::Auto: return "auto";
    case CudaGraphMode::On: return "on";
    case CudaGraphMode::Off: return "off";
  }
  return "auto";
}

GraphedStep::GraphedStep(Device device, Options options) : device_(device), options_(std::move(options)) {
  options_.warmup = std::max<int64_t>(options_.warmup, 1);
  if (options_.mode == CudaGraphMode::Off) disabled_ = "--cuda-graph off";
  else if (!device_.is_cuda()) disable("the " + device_.str() + " device has no CUDA graphs");
  else if (!options_.blocker.empty()) disable(options_.blocker);
}

GraphedStep::~GraphedStep() = default;

bool GraphedStep::replaying() const { return graph_ != nullptr; }
size_t GraphedStep::graph_nodes() const { return graph_ ? graph_->node_count() : 0; }
int64_t GraphedStep::replays() const { return graph_ ? static_cast<int64_t>(graph_->replays()) : 0; }

void GraphedStep::say(const std::string& line) const {
  if (options_.log) options_.log(line);
}

void GraphedStep::disable(const std::string& reason) {
  if (options_.mode == CudaGraphMode::On)
    throw std::runtime_error("--cuda-graph on: the training step cannot run as a CUDA graph: " + reason);
  disabled_ = reason;
  say("CUDA graph: off, training steps run eagerly (" + reason + ")");
}

GraphedStep::BatchShape GraphedStep::shape_of(const std::pair<Tensor, Tensor>& batch) {
  BatchShape s;
  s.x = batch.first.shape();
  s.x_dtype = batch.first.dtype();
  s.has_y = batch.second.defined();
  if (s.has_y) {
    s.y = batch.second.shape();
    s.y_dtype = batch.second.dtype();
  }
  return s;
}

Metrics GraphedStep::eager(const StepFn& step, const NextBatch& next_batch) {
  const bool warming = disabled_.empty() && !graph_;
  std::vector<BatchShape> calls;
  const NextBatch recording = [&] {
    std::pair<Tensor, Tensor> b = next_batch();
    calls.push_back(shape_of(b));
    return b;
  };
  const std::vector<kernels::cuda::HostSyncs> syncs_before = kernels::cuda::sync_counts();
  const uint64_t syncs_total_before = kernels::cuda::sync_count();
  Metrics m = step(warming ? recording : next_batch);
  if (!warming) return m;
  // Only the last warm-up iteration is judged: the first ones may wait while lazy state settles (a scratch buffer
  // growing, a cache flushed), which the capture never meets. A last one that waits is not counted and runs again,
  // kExtraWarmups times at most.
  const uint64_t syncs = kernels::cuda::sync_count() - syncs_total_before;
  if (syncs > 0 && eager_steps_ + 1 >= options_.warmup && extra_warmups_ < kExtraWarmups) {
    ++extra_warmups_;
    return m;
  }
  if (syncs > 0 && eager_steps_ + 1 >= options_.warmup) {
    std::string why;  // the reasons of this step's waits
    for (const kernels::cuda::HostSyncs& h : kernels::cuda::sync_counts()) {
      uint64_t before = 0;
      for (const kernels::cuda::HostSyncs& b : syncs_before)
        if (b.reason == h.reason) before = b.syncs;
      if (h.syncs > before) why += (why.empty() ? "" : ", ") + h.reason + " x" + std::to_string(h.syncs - before);
    }
    disable("the step made the host wait for the device " + std::to_string(syncs) + " time(s) (" + why +
            "), which a captured graph cannot do");
    return m;
  }
  if (eager_steps_ > 0 && calls != calls_) calls_stable_ = false;
  calls_ = std::move(calls);
  ++eager_steps_;
  return m;
}

Metrics GraphedStep::run(const StepFn& step, const NextBatch& next_batch) {
  if (!disabled_.empty() || eager_steps_ < options_.warmup) return eager(step, next_batch);
  if (!graph_ && !calls_stable_) {
    disable("the step took different batches in its warm-up iterations");
    return eager(step, next_batch);
  }
  // This iteration's batches, fetched as the warm-up's step fetched them.
  std::vector<std::pair<Tensor, Tensor>> batches;
  bool same = true;
  for (size_t i = 0; i < calls_.size(); ++i) {
    batches.push_back(next_batch());
    same = same && shape_of(batches.back()) == calls_[i];
  }
  size_t handed = 0;
  const NextBatch prefetched = [&] { return handed < batches.size() ? batches[handed++] : next_batch(); };
  if (!same) {
    if (!said_shape_fallback_)
      say("CUDA graph: a batch of another shape (e.g. an epoch's last batch) runs eagerly; said once");
    said_shape_fallback_ = true;
    return step(prefetched);
  }
  if (!graph_) return capture_and_replay(step, std::move(batches));
  for (size_t i = 0; i < batches.size(); ++i) {
    for (int k = 0; k < 2; ++k) {
      const Tensor& src = k == 0 ? batches[i].first : batches[i].second;
      const Tensor& dst = k == 0 ? statics_[i].first : statics_[i].second;
      if (!src.defined()) continue;
      const Tensor on_device = src.device() == device_ ? src : src.to(device_);
      const Tensor from = on_device.is_contiguous() ? on_device : on_device.contiguous();
      kernels::cuda::DeviceGuard guard(device_.index);
      kernels::cuda::memcpy_peer(dst.raw_data(), device_.index, from.raw_data(), from.device().index,
                                 static_cast<size_t>(from.numel()) * dtype_size(from.dtype()));
    }
  }
  graph_->replay();
  return metrics_;
}

Metrics GraphedStep::capture_and_replay(const StepFn& step, std::vector<std::pair<Tensor, Tensor>> batches) {
  // The static inputs: allocated outside the capture (they outlive it), filled with this iteration's batches.
  statics_.clear();
  for (const auto& [x, y] : batches) {
    Tensor sx = x.device() == device_ && x.is_contiguous() ? x.clone() : x.to(device_).contiguous();
    Tensor sy = !y.defined() ? Tensor() : (y.device() == device_ && y.is_contiguous() ? y.clone() : y.to(device_).contiguous());
    statics_.emplace_back(sx, sy);
  }
  size_t handed = 0;
  const NextBatch from_statics = [&] {
    if (handed >= statics_.size())
      throw std::runtime_error("the step asked for more batches (" + std::to_string(handed + 1) +
                               ") than in its warm-up iterations (" + std::to_string(statics_.size()) + ")");
    return statics_[handed++];
  };
  auto graph = std::make_unique<kernels::cuda::Graph>();
  std::string failure;
  try {
    kernels::cuda::DeviceGuard guard(device_.index);
    graph->capture([&] { metrics_ = step(from_statics); });
    if (handed != statics_.size())
      failure = "the captured step took " + std::to_string(handed) + " batches, its warm-up steps " +
                std::to_string(statics_.size());
    for (const auto& [name, metric] : metrics_)
      if (failure.empty() && (!metric.tensor().defined() || metric.tensor().device() != device_))
        failure = "the step reports '" + name + "' as a host value, which a graph would freeze at its capture";
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!failure.empty()) {
    metrics_.clear();
    graph.reset();  // its hooks already put the host state back (nothing ran)
    statics_.clear();
    disable("capture failed: " + failure);
    size_t i = 0;
    const std::vector<std::pair<Tensor, Tensor>> again = std::move(batches);
    return step([&] { return again.at(i++); });
  }
  graph_ = std::move(graph);
  say("CUDA graph: training step captured (" + std::to_string(graph_->node_count()) +
      " nodes); replayed as one launch per iteration");
  graph_->replay();
  return metrics_;
}

}  // namespace gan::models
