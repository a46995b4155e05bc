// One training iteration captured once as a CUDA graph and replayed (kernels/cuda/graph.h), with the eager path
// as the fallback. Shared by the trainer (apps/trainer.cpp, `gan train --cuda-graph`) and train_step_bench.
//
//   models::GraphedStep graphed(device, {.mode = CudaGraphMode::Auto, .log = log_line});
//   for (...) metrics = graphed.run([&](const NextBatch& nb) { return model.train_step(nb); }, next_batch);
//
// How an iteration runs:
//   1. Warm-up: the first `warmup` iterations run eagerly (the allocator, the optimizers' state and the kernels'
//      scratch buffers settle). Each records how many batches the step takes (WGAN-GP: n_critic + ...) and their
//      shapes, and how often it made the host wait for the device (kernels/cuda/sync_count.h).
//   2. Capture: the next iteration fetches its batches first (calling next_batch as often as the warm-up did) and
//      copies them into static input buffers, one per call; then the step is captured with a next_batch that hands
//      out those buffers in order, and replayed once. Nothing runs during the capture: the replay is this
//      iteration.
//   3. Replay: every later iteration fetches its batches, copies them into the static buffers (device-to-device
//      copies, not kernels) and replays: one launch. The Metrics it returns are the captured step's tensors,
//      overwritten by each replay: read or copy them before the next iteration (the trainer's MetricsBuffer copies
//      them at once).
// Fallbacks, each said once through Options::log with its reason, after which the iteration runs eagerly:
//   - for good: the CPU device; a model's own reason (GanModel::cuda_graph_blocker); a step that waited for the
//     device in its last warm-up iteration and in the (up to two) extra ones that follow it (a loss or a label
//     read back: such a step cannot be captured; a one-off wait, such as a buffer growing at its first use, only
//     lengthens the warm-up); a step whose
//     batch count changed between warm-up iterations; a failed capture (a synchronizing call, a host upload or
//     state created inside the step, ...: the error says which); a step that reports host numbers as metrics
//     (they would be frozen at capture);
//   - for one iteration: batches whose shapes differ from the captured ones (the smaller last batch of an epoch).
// With CudaGraphMode::On the permanent fallbacks are errors (std::runtime_error); Off runs everything eagerly
// and says nothing.
//
// The GraphedStep must be destroyed before the model, optimizers and generators the captured step used (its
// graph's replay hooks point at them), and the step must keep using the same model objects.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/device.h"
#include "engine/tensor.h"
#include "models/model.h"

namespace gan::kernels::cuda {
class Graph;
}

namespace gan::models {

enum class CudaGraphMode { Auto, On, Off };

// "auto", "on", "off"; throws std::invalid_argument naming the value otherwise.
CudaGraphMode parse_cuda_graph_mode(const std::string& text);
const char* cuda_graph_mode_name(CudaGraphMode mode);

using NextBatch = std::function<std::pair<Tensor, Tensor>()>;
using StepFn = std::function<Metrics(const NextBatch&)>;

class GraphedStep {
 public:
  struct Options {
    CudaGraphMode mode = CudaGraphMode::Auto;
    int64_t warmup = 2;  // eager iterations before the capture (at least 1: optimizer state is created there)
    std::function<void(const std::string&)> log;  // one line per event; none when empty
    std::string blocker;  // the model's reason not to capture (GanModel::cuda_graph_blocker), "" for none
  };

  GraphedStep(Device device, Options options);
  ~GraphedStep();
  GraphedStep(const GraphedStep&) = delete;
  GraphedStep& operator=(const GraphedStep&) = delete;

  // One iteration: eager, captured and replayed, or replayed (see the header comment).
  Metrics run(const StepFn& step, const NextBatch& next_batch);

  bool replaying() const;                          // a graph is captured
  const std::string& disabled_reason() const { return disabled_; }  // why it runs eagerly for good, or ""
  size_t graph_nodes() const;
  int64_t replays() const;

 private:
  struct BatchShape {
    Shape x, y;  // y empty and undefined_y when the batch has no labels
    DType x_dtype = DType::Float32, y_dtype = DType::Float32;
    bool has_y = false;
    friend bool operator==(const BatchShape&, const BatchShape&) = default;
  };
  static BatchShape shape_of(const std::pair<Tensor, Tensor>& batch);

  Metrics eager(const StepFn& step, const NextBatch& next_batch);
  Metrics capture_and_replay(const StepFn& step, std::vector<std::pair<Tensor, Tensor>> batches);
  void disable(const std::string& reason);
  void say(const std::string& line) const;

  Device device_;
  Options options_;
  std::string disabled_;
  int64_t eager_steps_ = 0;
  // A last warm-up iteration that waited for the device is repeated, at most this often, before the graph is given
  // up: a wait seen once (a scratch buffer growing at its first use, with --warmup 1) says nothing about the step.
  static constexpr int64_t kExtraWarmups = 2;
  int64_t extra_warmups_ = 0;
  std::vector<BatchShape> calls_;  // the batches the last warm-up step took
  bool calls_stable_ = true;       // every warm-up step took the same batches
  std::vector<std::pair<Tensor, Tensor>> statics_;  // the graph's input buffers, one per next_batch call
  std::unique_ptr<kernels::cuda::Graph> graph_;
  Metrics metrics_;                // the captured step's values (static tensors)
  bool said_shape_fallback_ = false;
};

}  // namespace gan::models
