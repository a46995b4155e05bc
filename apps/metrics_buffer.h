// The values a training run logs per step (losses, D(x), D(G(z)), ...), kept on the model's device until the
// trainer needs them on the host.
//
// A model's train_step returns its values as one-element tensors (models::Metric). Reading one on a GPU would
// make the host wait for the step's kernels, so a step that reads its losses can never run ahead of the device
// (nor be captured as a CUDA graph). Instead add() copies each device value into a block of `capacity` rows on the
// same device (a small copy kernel per value, no wait), and drain() brings the whole block to the host at once:
// one copy and one wait (through the runtime's pinned staging buffer, kernels/cuda/runtime.h), at a log point.
// Values already on the host (CPU tensors, plain numbers) are read at once: on the CPU backend nothing changes,
// each value is the very double Tensor::item() gives.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"
#include "models/model.h"

namespace gan::apps {

class MetricsBuffer {
 public:
  // One step's values, on the host, in the order the model listed them.
  struct Row {
    int64_t step = 0;
    std::vector<std::pair<std::string, double>> values;
  };

  explicit MetricsBuffer(int64_t capacity);

  // Appends step `step`'s values. Throws std::logic_error when full (drain first).
  void add(int64_t step, const models::Metrics& metrics);

  bool full() const { return static_cast<int64_t>(rows_.size()) >= capacity_; }
  bool empty() const { return rows_.empty(); }
  int64_t capacity() const { return capacity_; }

  // The buffered rows, oldest first, on the host; the buffer is empty afterwards.
  std::vector<Row> drain();

 private:
  // Where one value is: on the host already, or at `slot` of the device block.
  struct Entry {
    std::string name;
    double host = 0;
    int64_t slot = -1;
  };
  struct PendingRow {
    int64_t step = 0;
    std::vector<Entry> entries;
  };

  int64_t capacity_;
  std::vector<PendingRow> rows_;
  Tensor block_;        // Float64 on the device of the first device value; grows when a row holds more values
  int64_t used_ = 0;    // slots of block_ written since the last drain
};

}  // namespace gan::apps
