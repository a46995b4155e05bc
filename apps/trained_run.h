// What `gan sample` and `gan eval` share: reading an existing run directory and rebuilding its trained model from
// a checkpoint, with a UsageError (exit 2) that says what to do for every way that can fail.
#pragma once

#include <memory>
#include <string>

#include "apps/catalog.h"
#include "apps/run_config.h"
#include "apps/trainer.h"

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

// The run's model with the weights of `checkpoint` (empty: RUN/checkpoints/latest.safetensors), on `device`.
TrainedRun load_trained_run(const std::string& run, const std::string& checkpoint, const Catalog& catalog,
                            Device device);

}  // namespace gan::apps
