// The shared training loop every zoo model runs under: data, metrics, progress, sample grids, checkpoints, the
// report, resume, signals and the non-finite-loss stop. The model owns what one iteration is (models/model.h).
//
// Determinism: the loader's order depends only on (seed, cursor), the model's noise only on its RNG state, and
// both go into every checkpoint, so on the CPU a run stopped at step k and resumed reaches the same weights and
// logs the same metrics (bar timing fields) as a run that never stopped.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "apps/run_config.h"
#include "apps/run_dir.h"
#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "engine/device.h"
#include "engine/safetensors.h"
#include "models/graph_step.h"
#include "models/model.h"

namespace gan::apps {

// Exit codes of the `gan` program.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,       // the run itself failed (non-finite loss, I/O error mid-run)
  kExitUsage = 2,        // a mistake the user can fix; nothing was written
  kExitInterrupted = 130 // SIGINT/SIGTERM: checkpointed, resumable
};

struct TrainOutput {
  std::ostream* out = nullptr;  // progress and summary lines
  std::ostream* err = nullptr;  // the non-finite-loss message
  bool terminal = false;        // an updating progress line instead of periodic plain lines
  double plain_every_s = 10.0;  // plain progress line interval
};

// What a checkpoint's metadata holds besides the model's own tensors.
struct CheckpointInfo {
  std::string model;
  int64_t step = 0;
  data::LoaderCursor cursor;
  double elapsed_s = 0;  // training time before this checkpoint, summed over sessions
};

// Reads and checks a checkpoint for `model`: throws UsageError when the file is unreadable or corrupt, when it is
// not a gan-engine checkpoint or belongs to another model, when a metadata number is malformed or out of range,
// or when a tensor holds NaN or infinity.
CheckpointInfo read_checkpoint_info(const NamedTensors& file, const std::string& path, const std::string& model);
// load_safetensors with its errors turned into a UsageError saying what to do.
NamedTensors load_checkpoint_file(const fs::path& path);

class Trainer {
 public:
  Trainer(std::unique_ptr<data::Dataset> dataset, std::unique_ptr<models::GanModel> model, RunConfig config,
          RunPaths paths, Device device, TrainOutput output);
  ~Trainer();

  // Continues from a checkpoint of this run (as read by load_checkpoint_file): loads the model state, the data
  // cursor and the step, and drops metrics lines and samples made after it. Throws UsageError when the checkpoint
  // is from another model or does not fit this one.
  void restore(const NamedTensors& file, const fs::path& path);
  int64_t step() const { return step_; }

  // A measurement of the model (apps/quality.h: the Frechet distance) taken at step 0, every config.eval_every
  // steps and at the end, appended with its step and time to RUN/fd.jsonl. Off when never set.
  using Evaluator = std::function<nlohmann::ordered_json(models::GanModel&)>;
  void set_evaluator(Evaluator evaluate) { evaluate_ = std::move(evaluate); }

  // --profile: counts what each training step does on the device after kProfileWarmupSteps warm-up steps (kernel
  // launches, host syncs, bytes newly allocated; engine/step_profile.h), apart from what the flush points cost, and
  // records the model's conv layers; run() prints the summary and a roofline table (models/conv_roofline.h).
  void set_profile(bool on) { profile_ = on; }
  static constexpr int64_t kProfileWarmupSteps = 2;

  // --cuda-graph: on a CUDA device, after kGraphWarmupSteps eager steps the training step is captured once as a
  // CUDA graph and replayed (models/graph_step.h: static input buffers, fallbacks said once in the log). Auto (the
  // default) falls back to eager steps when the step cannot be captured; On makes that an error; Off never
  // captures. The CPU device always runs eagerly.
  void set_cuda_graph(models::CudaGraphMode mode) { cuda_graph_ = mode; }
  static constexpr int64_t kGraphWarmupSteps = 2;

  // Trains up to config.steps. Returns kExitOk, kExitFailed (non-finite loss: the last good checkpoint stays)
  // or kExitInterrupted (SIGINT/SIGTERM: checkpointed at the step boundary after the signal). Any other failure
  // (a full disk, out of memory) throws std::runtime_error saying what failed, which checkpoint is kept and how
  // to continue.
  int run();

 private:
  int train_loop();
  // "the last good checkpoint, RUN/checkpoints/latest.safetensors (step 20), is kept", for error messages.
  std::string kept_checkpoint_note() const;
  void save_checkpoint(bool keep);
  void save_samples();
  void refresh_report(const std::string& status, bool running);
  void save_real_grid();
  void evaluate();

  std::unique_ptr<data::Dataset> dataset_;
  std::unique_ptr<models::GanModel> model_;
  RunConfig config_;
  RunPaths paths_;
  Device device_;
  TrainOutput output_;
  std::unique_ptr<data::Loader> loader_;
  Tensor real_points_;       // point data: what scatter plots draw behind the samples (plot_reference)
  int64_t step_ = 0;
  double elapsed_before_ = 0;  // seconds trained in earlier sessions
  double session_s_ = 0;       // seconds trained in this session (up to the last finished step)
  int64_t last_checkpoint_step_ = -1;
  Evaluator evaluate_;
  bool profile_ = false;
  models::CudaGraphMode cuda_graph_ = models::CudaGraphMode::Auto;
};

}  // namespace gan::apps
