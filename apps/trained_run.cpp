#include "apps/trained_run.h"

#include "apps/commands.h"
#include "apps/run_dir.h"
#include "engine/checked.h"

namespace gan::apps {

Device pick_device(const std::string& text) {
  try {
    return text.empty() ? default_device() : parse_device(text);
  } catch (const std::exception& e) {
    throw UsageError(std::string("--device: ") + e.what());
  }
}

AllocationLimit model_limit_for_checkpoint(int64_t checkpoint_bytes, const fs::path& config) {
  // Weights and optimizer state are in the file. Building a model allocates about 3 times its checkpoint in all
  // (initialisation temporaries included; measured over every zoo model on 28x28, 64x64 and point data), so 4
  // times plus some slack never refuses a model that matches its checkpoint.
  constexpr int64_t kTimesTheFile = 4;
  constexpr int64_t kSlack = int64_t{64} << 20;
  if (checkpoint_bytes <= 0)  // no checkpoint (the run starts over from its settings) or not a file (loading says so)
    return AllocationLimit(kInt64Max, "");
  const int64_t limit = checked_mul(checkpoint_bytes, kTimesTheFile, "checkpoint size") + kSlack;
  return AllocationLimit(limit, "the model " + config.string() + " describes is larger than its checkpoint (" +
                                    format_bytes(checkpoint_bytes) + ") can hold: the settings and the checkpoint "
                                    "do not match; restore config.json or start a new run");
}

std::unique_ptr<models::GanModel> create_model(const models::ModelEntry& entry, const RunConfig& c, Device device) {
  models::ModelContext ctx{c.spec, device, c.seed, c.model_config};
  try {
    return entry.create(ctx);
  } catch (const std::exception& e) {
    throw UsageError("cannot build model " + entry.name + " with these settings: " + e.what());
  }
}

RunConfig read_run(const std::string& run) {
  const RunPaths paths{fs::path(run)};
  if (!fs::exists(paths.config()))
    throw UsageError("no run at " + run + " (no config.json there); train one with gan train --model M --data D "
                     "--out " + run);
  try {
    return RunConfig::from_json(read_json_file(paths.config()).at("settings"));
  } catch (const std::exception& e) {
    throw UsageError("cannot read the run's settings in " + paths.config().string() + ": " + e.what());
  }
}

TrainedRun load_trained_run(const std::string& run, const std::string& checkpoint_arg, const Catalog& catalog,
                            Device device) {
  TrainedRun t;
  RunConfig& c = t.config;
  c = read_run(run);
  const models::ModelEntry* entry = catalog.find_model(c.model);
  if (!entry)
    throw UsageError("run " + run + " trains model '" + c.model + "', which this program does not know; known "
                     "models: " + catalog.model_names());
  c.model_config = resolve_model_config(*entry, c.model_config);
  const fs::path checkpoint = checkpoint_arg.empty() ? RunPaths{fs::path(run)}.latest_checkpoint()
                                                     : fs::path(checkpoint_arg);
  if (!fs::exists(checkpoint))
    throw UsageError(checkpoint_arg.empty()
                         ? "run " + run + " has no checkpoint yet; train it first (gan train --resume " + run + ")"
                         : "no checkpoint at " + checkpoint_arg + "; pass an existing file to --checkpoint");
  try {
    std::error_code ec;
    const auto bytes = fs::file_size(checkpoint, ec);
    const AllocationLimit limit = model_limit_for_checkpoint(ec ? 0 : static_cast<int64_t>(bytes),
                                                             RunPaths{run}.config());
    t.model = entry->create(models::ModelContext{c.spec, device, c.seed, c.model_config});
  } catch (const std::exception& e) {
    throw UsageError("cannot build model " + c.model + " from the run's settings: " + e.what());
  }
  const NamedTensors file = load_checkpoint_file(checkpoint);
  t.info = read_checkpoint_info(file, checkpoint.string(), c.model);
  try {
    t.model->load_state(file.tensors);
  } catch (const std::exception& e) {
    throw UsageError("checkpoint " + checkpoint.string() + " does not fit model " + c.model + ": " + e.what());
  }
  return t;
}

}  // namespace gan::apps
