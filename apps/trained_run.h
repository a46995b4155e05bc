// What `gan sample` and `gan eval` share: reading an existing run directory and rebuilding its trained model from
// a checkpoint, with a UsageError (exit 2) that says what to do for every way that can fail.
#pragma once

#include <memory>
#include <string>

#include "apps/catalog.h"
#include "apps/run_config.h"
#include "apps/trainer.h"
#include "engine/storage.h"

namespace gan::apps {

// --device TEXT, or the default device (GAN_DEVICE, else CUDA when present, else cpu) when TEXT is empty.
Device pick_device(const std::string& text);

// The resolved settings of the run at `run` (its config.json).
RunConfig read_run(const std::string& run);

struct TrainedRun {
  RunConfig config;  // model_config resolved against the model's defaults
  std::unique_ptr<models::GanModel> model;
  CheckpointInfo info;
};

// The allocation limit under which a run's model is rebuilt when it must then fit a checkpoint of
// `checkpoint_bytes` (the largest one it may be restored from): the model's weights and optimizer state are all
// in that file, so building it takes little more, and a config.json edited to describe a far larger model is
// refused early instead of after gigabytes (engine/storage.h AllocationLimit). Unlimited when checkpoint_bytes is
// 0 (no checkpoint, or a size that cannot be read).
AllocationLimit model_limit_for_checkpoint(int64_t checkpoint_bytes, const fs::path& config);

// The model that entry and the run's settings `c` describe, on `device`; a UsageError naming the model when the
// settings do not make one.
std::unique_ptr<models::GanModel> create_model(const models::ModelEntry& entry, const RunConfig& c, Device device);

// The run's model with the weights of `checkpoint` (empty: RUN/checkpoints/latest.safetensors), on `device`.
TrainedRun load_trained_run(const std::string& run, const std::string& checkpoint, const Catalog& catalog,
                            Device device);

}  // namespace gan::apps
