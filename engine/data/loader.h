// The data loader: seeded shuffling, fixed-size batches, a background prefetch thread, and a cursor that a
// checkpoint saves so a resumed run sees exactly the batches an uninterrupted one would have seen.
//
// Epoch e's order is a permutation drawn from (seed, e) alone, so the cursor (epoch, position) is the loader's
// whole state. Batches are full (the tail of an epoch that does not fill one is dropped, as drop_last=True).
// The permutation is a Fisher-Yates shuffle driven by Philox keyed by (seed, epoch), so it is the same on every
// machine and build. A background thread assembles the next batches (up to 2 ahead) on the CPU; next() copies the
// batch to the loader's device with Tensor::to, which on a GPU stages through pinned host memory.
// An exception thrown while building a batch (by the dataset's get) is rethrown by the next() that would have
// returned that batch; the cursor stays, so calling next() again retries it.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/data/dataset.h"
#include "engine/device.h"
#include "engine/tensor.h"

namespace gan::data {

struct Batch {
  Tensor examples;  // float32 [B, C, S, S] (images) or [B, point_dim] (points), on the loader's device
  Tensor labels;    // int64 [B] on the loader's device: -1 entries for unlabeled sets, else in [0, classes) (checked)
};

struct LoaderCursor {
  int64_t epoch = 0;     // epochs completed
  int64_t position = 0;  // examples of the current epoch already handed out
};

class Loader {
 public:
  // Throws std::invalid_argument when batch_size < 1 or the dataset holds fewer than batch_size examples.
  Loader(const Dataset& dataset, int64_t batch_size, uint64_t seed, Device device = Device::cpu(),
         bool prefetch = true);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  Batch next();
  LoaderCursor cursor() const;         // the position of the next batch next() returns
  void set_cursor(LoaderCursor c);     // continue from a saved cursor (drops any prefetched batch)
  int64_t batches_per_epoch() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gan::data
