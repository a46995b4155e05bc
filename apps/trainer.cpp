#include "apps/trainer.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <map>
#include <optional>
#include <ostream>
#include <vector>

#include "apps/metrics_buffer.h"
#include "apps/progress.h"
#include "apps/report.h"
#include "apps/sample_image.h"
#include "engine/checked.h"
#include "engine/rng.h"
#include "engine/step_profile.h"
#include "models/conv_roofline.h"

namespace gan::apps {

namespace {

constexpr const char* kCheckpointFormat = "gan-engine-checkpoint";
// Fixed noise for sample grids: its own generator, never the model's, so sampling does not change training.
constexpr uint64_t kSampleStream = 0x73616d706c6573ULL;  // "samples"

// Runs expected to take longer than this get a warning with long_run_hint() once their pace is known.
constexpr double kLongRunSeconds = 3 * 3600;
// At most this many steps' values wait on the device between two flushes (a larger --log-every flushes, and
// checks for non-finite values, this often): 4096 rows of a few doubles.
constexpr int64_t kMaxBufferedSteps = 4096;

std::string long_run_hint(const RunConfig& c, Device device) {
  std::string hint = "For a quicker run: fewer --steps, a smaller --batch";
  if (c.model_config.contains("ngf")) hint += ", narrower nets (--ngf 32 --ndf 32)";
  if (c.spec.kind == data::ExampleKind::Image && c.spec.image_size > 32) hint += ", --image-size 32";
  hint += device.is_cpu() ? "; or a GPU (this run is on the CPU)." : ".";
  return hint + " Ctrl-C stops it with a checkpoint; gan train --resume continues it.";
}

// Set by SIGINT/SIGTERM; read at step boundaries. Only this flag is touched in the handler.
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int signo) { g_stop_signal = signo; }

// Installs the stop handlers for the lifetime of a training loop and restores the previous ones after. The
// handlers are one-shot (SA_RESETHAND): a second Ctrl-C while a checkpoint is written kills the process at once.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    g_stop_signal = 0;
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

int64_t meta_int(const std::map<std::string, std::string>& meta, const std::string& key, const std::string& path,
                 int64_t hi) {
  const auto it = meta.find(key);
  if (it == meta.end())
    throw UsageError("checkpoint " + path + " has no '" + key + "' in its metadata; it is not a complete "
                     "gan-engine checkpoint");
  try {
    return parse_int(it->second, key, 0, hi);
  } catch (const RangeError& e) {
    throw UsageError("checkpoint " + path + " has a bad metadata value: " + e.what());
  }
}

// The first non-finite value of a float tensor, or "" when there is none.
std::string first_non_finite(const std::string& name, const Tensor& t) {
  if (t.dtype() == DType::Int64) return "";
  const Tensor c = t.contiguous();
  const int64_t n = c.numel();
  for (int64_t i = 0; i < n; ++i) {
    const double v = c.dtype() == DType::Float32 ? double{c.data<float>()[i]} : c.data<double>()[i];
    if (!std::isfinite(v))
      return "tensor '" + name + "' holds " + (std::isnan(v) ? "NaN" : "an infinity") + " at element " +
             std::to_string(i);
  }
  return "";
}

// What --profile prints at the end of a run.
void print_profile(std::ostream& out, const StepProfile& steps, const StepProfile& flushes,
                   const std::vector<models::ConvLayerCost>& convs) {
  out << "\nprofile (gan train --profile): device work per training step after " << Trainer::kProfileWarmupSteps
      << " warm-up steps (the counters of the CUDA backend; all 0 on the CPU backend):\n";
  if (steps.iterations() == 0) {
    out << "  no step after the warm-up; run more steps\n";
    return;
  }
  out << "  per step: " << steps.summary(10);
  out << "  per flush point (log, sample, checkpoint: the step's values come to the host): " << flushes.summary(0);
  out << "\nconv layers of one step on a roofline (minimum FLOPs and bytes per pass; times at peak rates):\n\n"
      << models::roofline_table(convs, static_cast<int64_t>(steps.iterations()), models::h200_spec_sheet_peaks());
}

}  // namespace

CheckpointInfo read_checkpoint_info(const NamedTensors& file, const std::string& path, const std::string& model) {
  const auto& meta = file.metadata;
  const auto format = meta.find("format");
  if (format == meta.end() || format->second != kCheckpointFormat)
    throw UsageError("checkpoint " + path + " is not a gan-engine training checkpoint (no format tag)");
  CheckpointInfo info;
  const auto m = meta.find("model");
  info.model = m == meta.end() ? "" : m->second;
  if (info.model != model)
    throw UsageError("checkpoint " + path + " is from model '" + info.model + "', but this run trains '" + model +
                     "'; use a checkpoint of this run or start a new run with --model " + info.model);
  info.step = meta_int(meta, "step", path, kMaxSteps);
  // The loader checks the cursor against the dataset (Loader::set_cursor); here only that it is a number.
  info.cursor.epoch = meta_int(meta, "loader_epoch", path, kInt64Max);
  info.cursor.position = meta_int(meta, "loader_position", path, kInt64Max);
  const auto e = meta.find("elapsed_s");
  try {
    if (e != meta.end()) info.elapsed_s = parse_real(e->second, "elapsed_s", 0, 1e15);
  } catch (const RangeError& err) {
    throw UsageError("checkpoint " + path + " has a bad metadata value: " + err.what());
  }
  // Weights that are NaN or infinite would train on (or sample) garbage without a word.
  for (const auto& [name, t] : file.tensors)
    if (const std::string bad = first_non_finite(name, t); !bad.empty())
      throw UsageError("checkpoint " + path + " is unusable: " + bad + "; use an earlier checkpoint (kept beside "
                       "it as step_NNNNNN.safetensors) or start a new run");
  return info;
}

Trainer::Trainer(std::unique_ptr<data::Dataset> dataset, std::unique_ptr<models::GanModel> model, RunConfig config,
                 RunPaths paths, Device device, TrainOutput output)
    : dataset_(std::move(dataset)),
      model_(std::move(model)),
      config_(std::move(config)),
      paths_(std::move(paths)),
      device_(device),
      output_(output) {
  loader_ = std::make_unique<data::Loader>(*dataset_, config_.batch, config_.seed, device_);
  real_points_ = plot_reference(*dataset_);
}

Trainer::~Trainer() = default;

NamedTensors load_checkpoint_file(const fs::path& path) {
  try {
    return load_safetensors(path.string());
  } catch (const std::exception& e) {
    throw UsageError(std::string(e.what()) + "; delete or replace it (earlier checkpoints are kept beside it as "
                     "step_NNNNNN.safetensors), or start a new run");
  }
}

void Trainer::restore(const NamedTensors& file, const fs::path& checkpoint) {
  const std::string path = checkpoint.string();
  const CheckpointInfo info = read_checkpoint_info(file, path, config_.model);
  try {
    model_->load_state(file.tensors);
  } catch (const std::exception& e) {
    throw UsageError("checkpoint " + path + " does not fit model '" + config_.model + "' with this run's "
                     "settings: " + e.what());
  }
  try {
    loader_->set_cursor(info.cursor);
  } catch (const std::invalid_argument& e) {
    throw UsageError("checkpoint " + path + " does not fit this run's data: " + e.what());
  }
  step_ = info.step;
  elapsed_before_ = info.elapsed_s;
  last_checkpoint_step_ = info.step;
  // What was logged or sampled after the checkpoint is redone, so drop it: no duplicated metrics lines.
  truncate_metrics(paths_.metrics(), step_, config_.log_every);
  truncate_metrics(paths_.fd_log(), step_ + 1, 0);  // measurements up to and including the checkpoint's step
  std::error_code ec;
  if (fs::is_directory(paths_.samples_dir(), ec))
    for (const auto& entry : fs::directory_iterator(paths_.samples_dir(), ec))
      if (RunPaths::step_of(entry.path()) > step_) fs::remove(entry.path(), ec);
}

void Trainer::save_checkpoint(bool keep) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : model_->state()) tensors.emplace_back(name, t.to(Device::cpu()));
  const data::LoaderCursor cursor = loader_->cursor();
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.3f", elapsed_before_ + session_s_);
  const std::map<std::string, std::string> meta = {
      {"format", kCheckpointFormat},
      {"model", config_.model},
      {"data", config_.data},
      {"step", std::to_string(step_)},
      {"loader_epoch", std::to_string(cursor.epoch)},
      {"loader_position", std::to_string(cursor.position)},
      {"elapsed_s", elapsed},
      {"model_config", config_.model_config.dump()},
      {"gan_version", gan_version()}};
  const fs::path latest = paths_.latest_checkpoint();
  if (keep) {
    // The kept file and latest share their bytes: a hard link, renamed over latest so it switches atomically.
    const fs::path kept = paths_.checkpoint(step_);
    save_safetensors(kept.string(), tensors, meta);
    const fs::path tmp = latest.string() + ".link";
    std::error_code ec;
    fs::remove(tmp, ec);
    fs::create_hard_link(kept, tmp, ec);
    if (!ec) fs::rename(tmp, latest, ec);
    if (ec) save_safetensors(latest.string(), tensors, meta);  // no hard links here: write it again
  } else {
    save_safetensors(latest.string(), tensors, meta);
  }
  last_checkpoint_step_ = step_;
}

void Trainer::save_samples() {
  Generator gen(config_.seed, kSampleStream);
  const models::SampleGrid grid = model_->sample(config_.sample_n, gen);
  write_sample_png(paths_.sample(step_), grid, config_.spec, real_points_);
}

// A grid of real examples, evenly spread over the dataset, beside the samples in the report (image data only).
void Trainer::save_real_grid() {
  if (config_.spec.kind != data::ExampleKind::Image) return;
  const int64_t n = std::min(config_.sample_n, dataset_->size());
  Tensor x = empty({n, config_.spec.channels, config_.spec.image_size, config_.spec.image_size});
  const int64_t numel = config_.spec.example_numel();
  for (int64_t i = 0; i < n; ++i) dataset_->get(i * dataset_->size() / n, x.data<float>() + i * numel);
  models::SampleGrid grid;
  grid.images = x;
  write_sample_png(paths_.real_grid(), grid, config_.spec);
}

void Trainer::evaluate() {
  nlohmann::ordered_json line = {{"step", step_}};
  const nlohmann::ordered_json measured = evaluate_(*model_);
  for (const auto& [key, value] : measured.items()) line[key] = value;
  line["time"] = std::round((elapsed_before_ + session_s_) * 1000.0) / 1000.0;
  MetricsWriter(paths_.fd_log()).write(line);
}

void Trainer::refresh_report(const std::string& status, bool running) {
  write_report(paths_, ReportStatus{status, running});
}

std::string Trainer::kept_checkpoint_note() const {
  return last_checkpoint_step_ >= 0 ? "the last good checkpoint, " + paths_.latest_checkpoint().string() +
                                          " (step " + std::to_string(last_checkpoint_step_) + "), is kept"
                                    : "no checkpoint had been written yet";
}

int Trainer::run() {
  try {
    return train_loop();
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    // A full disk, a vanished run directory, memory running out: say what failed, that the last checkpoint is
    // intact (checkpoints are written to a temporary file and renamed) and how to continue.
    std::string what = e.what();
    if (dynamic_cast<const std::bad_alloc*>(&e) && !dynamic_cast<const OutOfMemory*>(&e))
      what = "out of memory (" + what + ")";
    try {
      refresh_report("stopped by an error at step " + std::to_string(step_), false);
    } catch (const std::exception&) {
      // the report is as unwritable as what failed; the message below is what matters
    }
    throw std::runtime_error(what + "; training stopped at step " + std::to_string(step_) + " and " +
                             kept_checkpoint_note() + ". Fix the cause, then continue with: gan train --resume " +
                             paths_.root.string());
  }
}

int Trainer::train_loop() {
  using clock = std::chrono::steady_clock;
  std::ostream& out = *output_.out;
  std::ostream& err = output_.err ? *output_.err : out;
  StopSignals signals;
  MetricsWriter metrics(paths_.metrics());
  const int64_t total = config_.steps;
  const std::string progress_of = " of " + std::to_string(total);

  if (step_ == 0) save_samples();  // the untrained generator, for comparison
  if (!fs::exists(paths_.real_grid())) save_real_grid();
  const bool evaluating = evaluate_ && config_.eval_every > 0;
  if (evaluating && step_ == 0) evaluate();
  refresh_report("training: step " + std::to_string(step_) + progress_of, true);

  int64_t images = 0;  // examples handed to the model since the last metrics line
  int64_t session_images = 0;
  const auto next_batch = [&]() {
    data::Batch b = loader_->next();
    images += b.examples.size(0);
    session_images += b.examples.size(0);
    return std::make_pair(b.examples, b.labels);
  };

  Progress progress(out, output_.terminal, total, output_.plain_every_s);
  progress.warn_when_longer_than(kLongRunSeconds, long_run_hint(config_, device_));
  const auto start = clock::now();
  auto last_log = start;
  const int64_t first_step = step_;
  // The step's values stay on the model's device until a flush (apps/metrics_buffer.h): every log step and every
  // step that hands anything to the host (samples, evaluation, a checkpoint, the end, a stop), or when the buffer
  // is full. The non-finite check runs there, over every buffered step, so a NaN stops the run before any
  // checkpoint or sample is written from it, at most log_every (or kMaxBufferedSteps) steps after it appeared.
  MetricsBuffer buffered(std::min(config_.log_every, kMaxBufferedSteps));
  models::Metrics shown;  // the values of the last flushed step, for the progress line
  StepProfile step_profile, flush_profile;  // --profile
  std::optional<models::ConvRecorder> convs;
  // Destroyed before the model (a member), as its graph's hooks require.
  models::GraphedStep::Options graph_options;
  graph_options.mode = cuda_graph_;
  graph_options.warmup = kGraphWarmupSteps;
  graph_options.log = [&out](const std::string& line) { out << line << std::endl; };
  graph_options.blocker = model_->cuda_graph_blocker();
  models::GraphedStep graphed(device_, graph_options);
  const models::StepFn step_fn = [&](const models::NextBatch& nb) { return model_->train_step(nb); };
  while (step_ < total) {
    // --profile skips the warm-up steps and the step that captures the graph (it runs nothing itself).
    const bool settled = graphed.replaying() || !graphed.disabled_reason().empty();
    const bool profiled = profile_ && step_ - first_step >= kProfileWarmupSteps && settled;
    if (profiled && !convs) convs.emplace();
    if (convs) convs->set_paused(!profiled);
    if (profiled) step_profile.begin();
    buffered.add(step_ + 1, graphed.run(step_fn, next_batch));
    if (profiled) step_profile.end();
    if (convs) convs->set_paused(true);
    const int64_t step = step_ + 1;
    const bool stop = g_stop_signal != 0;
    const bool log = step % config_.log_every == 0 || step == total;
    const bool sample = step % config_.sample_every == 0 || step == total;
    const bool keep = step % config_.checkpoint_every == 0;
    const bool eval_now = evaluating && (step % config_.eval_every == 0 || step == total);
    std::vector<MetricsBuffer::Row> rows;
    if (log || sample || keep || eval_now || stop || buffered.full()) {
      if (profiled) flush_profile.measure([&] { rows = buffered.drain(); });
      else rows = buffered.drain();
    }
    for (const MetricsBuffer::Row& row : rows) {
      for (const auto& [name, value] : row.values) {
        if (std::isfinite(value)) continue;
        progress.finish();
        const int64_t checked_from = rows.front().step;
        err << "gan train: error: " << name << " is " << value << " at step " << row.step << "; training stopped and "
            << kept_checkpoint_note() << ". Try a smaller learning rate or another seed." << std::endl;
        if (step != row.step)
          err << "gan train: (the values of steps " << checked_from << "-" << step << " are checked together at step "
              << step << ": the losses stay on the device between log points, --log-every " << config_.log_every
              << ")" << std::endl;
        refresh_report("stopped: " + name + " became non-finite at step " + std::to_string(row.step), false);
        return kExitFailed;
      }
    }
    if (!rows.empty()) {
      shown.clear();
      for (const auto& [name, value] : rows.back().values) shown.emplace_back(name, value);
    }
    step_ = step;
    const auto now = clock::now();
    session_s_ = std::chrono::duration<double>(now - start).count();

    if (log) {
      const double dt = std::chrono::duration<double>(now - last_log).count();
      nlohmann::ordered_json line = {{"step", step}};  // ordered: step first, then the losses as the model lists them
      for (const auto& [name, value] : rows.back().values) line[name] = value;
      line["epoch"] = loader_->cursor().epoch;
      line["time"] = std::round((elapsed_before_ + session_s_) * 1000.0) / 1000.0;
      line["images_per_s"] = dt > 0 ? std::round(static_cast<double>(images) / dt * 10.0) / 10.0 : 0.0;
      metrics.write(line);
      last_log = now;
      images = 0;
    }
    const double per_step = session_s_ / static_cast<double>(step - first_step);
    progress.update(step, shown, static_cast<double>(session_images) / std::max(session_s_, 1e-9), per_step);

    if (sample) save_samples();
    if (eval_now) evaluate();
    if (keep || step == total || stop) save_checkpoint(keep);
    if (stop) {
      progress.finish();
      refresh_report("interrupted at step " + std::to_string(step) + progress_of, false);
      err << "gan train: interrupted at step " << step << "; checkpoint saved. Continue with: gan train --resume "
          << paths_.root.string() << std::endl;
      return kExitInterrupted;
    }
    if (sample || keep) refresh_report("training: step " + std::to_string(step) + progress_of, true);
  }
  progress.finish();
  refresh_report("finished: " + std::to_string(total) + " steps", false);
  out << "finished " << total << " steps in " << Progress::format_duration(elapsed_before_ + session_s_)
      << "; report: " << paths_.report().string() << std::endl;
  if (profile_)
    print_profile(out, step_profile, flush_profile, convs ? convs->layers() : std::vector<models::ConvLayerCost>{});
  return kExitOk;
}

}  // namespace gan::apps
