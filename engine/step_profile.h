// What the CUDA backend did over repeated regions of work (training iterations): kernel launches, host
// synchronizations and device memory newly obtained from cudaMalloc, in total and per kernel / per reason, from the
// backend's counters (kernels/cuda/launch_count.h, sync_count.h, allocator.h). Used by train_step_bench and
// `gan train --profile`. The counts do not depend on the GPU's speed, so the emulator build (GAN_CUDA=EMU) gives
// a GPU's counts; on the CPU backend they are all 0.
//
// Each measure() resets the process-wide counters, so nothing else may count at the same time.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gan {

class StepProfile {
 public:
  // Runs `region` with the counters reset before it and adds what it counted as one iteration.
  template <typename Region>
  void measure(Region&& region) {
    begin();
    region();
    end();
  }
  void begin();
  void end();

  uint64_t iterations() const { return iterations_; }
  double launches_per_iteration() const { return per(launches_); }
  double syncs_per_iteration() const { return per(syncs_); }
  double new_device_bytes_per_iteration() const { return per(malloc_bytes_); }
  double cuda_mallocs_per_iteration() const { return per(malloc_calls_); }

  // "<launches> launches, <syncs> host syncs, <bytes> bytes newly allocated (<calls> cudaMalloc calls) per
  // iteration" (and the bytes of each of the first iterations), then one line per sync reason and per kernel
  // (the `top_kernels` most launched), each per iteration.
  std::string summary(size_t top_kernels) const;

 private:
  double per(uint64_t total) const {
    return iterations_ == 0 ? 0.0 : static_cast<double>(total) / static_cast<double>(iterations_);
  }
  uint64_t iterations_ = 0, launches_ = 0, syncs_ = 0, malloc_calls_ = 0, malloc_bytes_ = 0;
  std::vector<uint64_t> bytes_each_;  // new device bytes of each iteration (the summary lists the first few)
  std::vector<std::pair<std::string, uint64_t>> kernels_, sync_reasons_;  // accumulated, first-seen order
};

}  // namespace gan
