// `gan train`: a new run (validate everything, then create the run directory) or `--resume RUN`.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>

#include "apps/commands.h"
#include "apps/progress.h"
#include "apps/quality.h"
#include "apps/run_config.h"
#include "apps/run_dir.h"
#include "apps/trained_run.h"
#include "apps/trainer.h"
#include "engine/checked.h"
#include "kernels/math_mode.h"

namespace gan::apps {

namespace {

// Sets the float32 math mode (kernels/math_mode.h: "fp32", "tf32" or "bf16"; "" keeps the process's) and returns
// the run's mode, which config.json records so that a resume trains in the same mode: the one asked for, else the
// one in force. Doubles stay strict.
std::string use_precision(const std::string& wanted) {
  if (!wanted.empty()) {
    const auto mode = kernels::parse_float_math(wanted);
    if (!mode) throw UsageError("--precision is '" + wanted + "'; expected fp32, tf32 or bf16");
    kernels::set_float_math(*mode);
  }
  return kernels::float_math_name(kernels::float_math());
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::unique_ptr<data::Dataset> open_data(const Catalog& catalog, const RunConfig& c) {
  data::DatasetOptions options;
  options.image_size = c.image_size;
  options.seed = c.seed;
  options.size = c.data_size;
  try {
    std::unique_ptr<data::Dataset> dataset = catalog.open_dataset(c.data, options);
    return c.data_limit > 0 ? data::first_examples(std::move(dataset), c.data_limit) : std::move(dataset);
  } catch (const std::exception& e) {
    throw UsageError("cannot open dataset '" + c.data + "': " + e.what());
  }
}

const models::ModelEntry& find_entry(const Catalog& catalog, const std::string& name) {
  const models::ModelEntry* entry = catalog.find_model(name);
  if (!entry)
    throw UsageError("unknown model '" + name + "'; known models: " + catalog.model_names() +
                     " (gan models describes them)");
  return *entry;
}

int64_t batches_per_epoch(const data::Dataset& dataset, const RunConfig& c) {
  const int64_t n = dataset.size() / c.batch;
  if (n < 1)
    throw UsageError("dataset '" + c.data + "' has " + std::to_string(dataset.size()) + " examples, fewer than " +
                     "--batch " + std::to_string(c.batch) + "; use a smaller --batch");
  return n;
}

// --epochs E as steps: E x the batches of one epoch, refused when that exceeds the step limit.
int64_t steps_for_epochs(int64_t epochs, int64_t per_epoch) {
  try {
    return checked_mul(epochs, per_epoch, "--epochs", kMaxSteps);
  } catch (const RangeError&) {
    throw UsageError("--epochs " + std::to_string(epochs) + " means " + std::to_string(epochs) + " x " +
                     std::to_string(per_epoch) + " batches per epoch, more than the " + std::to_string(kMaxSteps) +
                     " steps a run may have");
  }
}

// The settings against their ranges (apps/run_config.h), as a UsageError.
void check_settings(const RunConfig& c) {
  try {
    c.check();
  } catch (const RangeError& e) {
    throw UsageError(std::string("bad setting: ") + e.what());
  }
}

std::string format_count(double n) {
  char buf[32];
  if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.1fM", n / 1e6);
  else if (n >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

std::string describe_shape(const data::DataSpec& s) {
  if (s.kind == data::ExampleKind::Points) return std::to_string(s.point_dim) + "-D points";
  return std::to_string(s.channels) + "x" + std::to_string(s.image_size) + "x" + std::to_string(s.image_size);
}

// A name for the default run directory: "runs/dcgan-fashion-mnist", then -2, -3... if taken.
fs::path default_out(const RunConfig& c) {
  std::string base = c.model + "-" + c.data;
  for (char& ch : base)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') ch = '_';
  fs::path dir = fs::path("runs") / base;
  for (int i = 2; fs::exists(dir); ++i) dir = fs::path("runs") / (base + "-" + std::to_string(i));
  return dir;
}

bool is_nonempty_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec) && !fs::is_empty(p, ec);
}

// --eval-every: the classifier and the test split's features, loaded (or the classifier trained, minutes, once)
// before the run directory is made, so every mistake is reported first. nullptr when off.
std::shared_ptr<ClassifierReference> fd_reference(const RunConfig& c, const Catalog& catalog, Device device,
                                                  const CliStreams& io) {
  if (c.eval_every <= 0) return nullptr;
  const std::string why = unmeasurable_reason(c);
  if (!why.empty()) throw UsageError("--eval-every measures Fashion-MNIST runs only: " + why);
  return load_reference(resolve_classifier(c.classifier), catalog, device, io.out);
}

TrainOutput train_output(const CliStreams& io, double progress_every_s) {
  return TrainOutput{io.out, io.err, io.terminal, progress_every_s};
}

// config.json's "finished" says the run got through its end (last checkpoint, final report); without it a
// checkpoint at the last step means the run was stopped after that checkpoint, and a resume finishes it. Best
// effort: the training is done whatever happens here.
int record_if_finished(int exit_code, const RunPaths& paths, int64_t steps, const CliStreams& io) {
  if (exit_code != kExitOk) return exit_code;
  try {
    nlohmann::json config = read_json_file(paths.config());
    config["finished"] = {{"step", steps}, {"time", utc_now()}};
    write_file_atomic(paths.config(), config.dump(2) + "\n");
  } catch (const std::exception& e) {
    *io.err << "gan train: warning: could not mark the run finished in " << paths.config().string() << ": "
            << e.what() << std::endl;
  }
  return exit_code;
}

int64_t finished_step(const nlohmann::json& config) {
  const auto it = config.find("finished");
  return it != config.end() && it->is_object() ? it->value("step", int64_t{-1}) : -1;
}

int new_run(const TrainArgs& a, const Catalog& catalog, const CliStreams& io) {
  if (a.model.empty())
    throw UsageError("--model is required (gan models lists them), or --resume RUN to continue a run");
  if (a.data.empty()) throw UsageError("--data is required (gan datasets lists them)");
  const models::ModelEntry& entry = find_entry(catalog, a.model);

  RunConfig c;
  c.model = entry.name;
  c.data = a.data;
  c.model_config = resolve_model_config(entry, a.model_flags);
  c.batch = a.batch.value_or(kDefaultBatch);
  c.seed = a.seed.value_or(0);
  const Device device = pick_device(a.device);
  c.device = device.str();
  c.precision = use_precision(a.precision);
  c.image_size = a.image_size.value_or(0);
  c.data_size = a.data_size.value_or(0);
  c.data_limit = a.data_limit.value_or(0);
  c.log_every = a.log_every.value_or(c.log_every);
  c.sample_every = a.sample_every.value_or(c.sample_every);
  c.checkpoint_every = a.checkpoint_every.value_or(c.checkpoint_every);
  if (!a.classifier.empty()) (void)resolve_classifier(a.classifier);  // a bad path first, before the data opens

  std::unique_ptr<data::Dataset> dataset = open_data(catalog, c);
  if (!a.image_size && dataset->spec().kind == data::ExampleKind::Image) {
    // The conv nets take 28, 32 or 64 pixels: ask the data layer for the nearest when the native size is another.
    const int64_t native = dataset->spec().image_size, want = models::preferred_image_size(native);
    if (want != native) {
      c.image_size = want;
      dataset = open_data(catalog, c);
    }
  }
  c.spec = dataset->spec();
  c.data_description = dataset->describe();
  if (entry.check_data) {
    const std::string why = entry.check_data(c.spec);
    if (!why.empty()) throw UsageError("model " + entry.name + " cannot train on '" + c.data + "': " + why);
  }
  c.sample_n = a.samples.value_or(c.spec.kind == data::ExampleKind::Points ? 512 : 64);
  if ((a.eval_n || !a.classifier.empty()) && !a.eval_every)
    throw UsageError("--eval-n and --classifier go with --eval-every N (the Frechet distance every N steps)");
  c.eval_every = a.eval_every.value_or(0);
  c.eval_n = a.eval_n.value_or(c.eval_n);
  c.classifier = a.classifier;
  const int64_t per_epoch = batches_per_epoch(*dataset, c);
  c.epochs = a.epochs.value_or(0);
  c.steps = a.epochs ? steps_for_epochs(*a.epochs, per_epoch) : a.steps.value_or(kDefaultSteps);
  check_settings(c);
  std::unique_ptr<models::GanModel> model = create_model(entry, c, device);
  const std::shared_ptr<ClassifierReference> fd_ref = fd_reference(c, catalog, device, io);

  // Everything is checked; only now does anything touch the disk.
  const fs::path out = a.out.empty() ? default_out(c) : fs::path(a.out);
  if (is_nonempty_dir(out))
    throw UsageError(out.string() + " already exists and is not empty; continue that run with gan train --resume " +
                     out.string() + ", or pick another --out");
  if (fs::exists(out) && !fs::is_directory(out))
    throw UsageError(out.string() + " exists and is not a directory; pick another --out");
  const bool created = !fs::exists(out);
  const RunPaths paths{out};
  std::string params;
  nlohmann::json param_json = nlohmann::json::object();
  for (const auto& [net, n] : model->parameter_counts()) {
    params += (params.empty() ? "" : ", ") + net + " " + format_count(n);
    param_json[net] = static_cast<int64_t>(n);
  }

  const std::string summary = "training " + c.model + " (" + params + " parameters) on " + c.data + " (" +
                              std::to_string(dataset->size()) + " x " + describe_shape(c.spec) + ") on " + c.device +
                              ": " + std::to_string(c.steps) + " steps of batch " + std::to_string(c.batch) +
                              "; run directory " + out.string();

  std::unique_ptr<Trainer> trainer;
  try {
    make_writable_dir(out);
    fs::create_directories(paths.samples_dir());
    fs::create_directories(paths.checkpoints_dir());
    const nlohmann::json config = {{"gan_version", gan_version()},
                                   {"command_line", a.command_line},
                                   {"created", utc_now()},
                                   {"parameters", param_json},
                                   {"settings", c.to_json()},
                                   {"resumes", nlohmann::json::array()}};
    write_file_atomic(paths.config(), config.dump(2) + "\n");
    trainer = std::make_unique<Trainer>(std::move(dataset), std::move(model), c, paths, device,
                                        train_output(io, a.progress_every_s));
    if (fd_ref) trainer->set_evaluator(fd_evaluator(fd_ref, c, c.eval_n));
    trainer->set_profile(a.profile);
    trainer->set_cuda_graph(models::parse_cuda_graph_mode(a.cuda_graph));
  } catch (...) {
    // Nothing half-made stays behind: remove what this command created.
    std::error_code ec;
    if (created) fs::remove_all(out, ec);
    throw;
  }
  *io.out << summary << std::endl;
  return record_if_finished(trainer->run(), paths, c.steps, io);
}

// Options that define the run and so cannot change on resume (a different value is an error).
void check_unchanged(const TrainArgs& a, const RunConfig& c, const fs::path& run) {
  const auto fail = [&](const std::string& option, const std::string& value) {
    throw UsageError(option + " cannot change when resuming " + run.string() + " (it trains with " + option + " " +
                     value + "); start a new run to change it");
  };
  if (!a.model.empty() && a.model != c.model) fail("--model", c.model);
  if (!a.data.empty() && a.data != c.data) fail("--data", c.data);
  if (a.batch && *a.batch != c.batch) fail("--batch", std::to_string(c.batch));
  if (a.seed && *a.seed != c.seed) fail("--seed", std::to_string(c.seed));
  if (a.data_size && *a.data_size != c.data_size) fail("--data-size", std::to_string(c.data_size));
  if (a.data_limit && *a.data_limit != c.data_limit) fail("--data-limit", std::to_string(c.data_limit));
  if (a.image_size && *a.image_size != c.image_size) fail("--image-size", std::to_string(c.image_size));
  if (a.samples && *a.samples != c.sample_n) fail("--sample-n", std::to_string(c.sample_n));
  if (a.eval_n && *a.eval_n != c.eval_n) fail("--eval-n", std::to_string(c.eval_n));
  // Resuming drops the off-schedule metrics line a stop at step k wrote, which needs the schedule unchanged.
  if (a.log_every && *a.log_every != c.log_every) fail("--log-every", std::to_string(c.log_every));
  if (!a.out.empty() && fs::path(a.out) != run) fail("--out", run.string());
}

// Restores the trainer from latest.safetensors or, when that is missing, from the newest kept
// step_NNNNNN.safetensors that is usable (saying which, and why newer ones are skipped). False when the run has
// no checkpoint at all. A corrupt latest.safetensors stays an error: its message says how to recover.
// A checkpoint at exactly --steps of a run that never recorded its end (killed after writing it) is restored,
// so that run() only finishes: the final report, the closing line.
bool resume_from_checkpoint(Trainer& trainer, const RunPaths& paths, const RunConfig& c, int64_t finished_at,
                            std::ostream& out) {
  struct Finished : UsageError {  // a usable checkpoint at or past --steps: no older one is tried
    using UsageError::UsageError;
  };
  const auto restore = [&](const fs::path& path) {
    const NamedTensors file = load_checkpoint_file(path);
    const int64_t at = read_checkpoint_info(file, path.string(), c.model).step;
    if (at == c.steps && finished_at != at)
      out << "run " << paths.root.string() << " was stopped after its last checkpoint (step " << at
          << ") and before it finished; finishing it" << std::endl;
    else if (at >= c.steps)
      throw Finished("run " + paths.root.string() + " is already at step " + std::to_string(at) + " of " +
                       std::to_string(c.steps) + "; pass --steps larger than " + std::to_string(at) +
                       " (or more --epochs) to train further");
    trainer.restore(file, path);
  };
  std::error_code ec;
  if (fs::exists(paths.latest_checkpoint(), ec)) {
    restore(paths.latest_checkpoint());
    return true;
  }
  std::vector<std::pair<int64_t, fs::path>> kept;
  for (const auto& entry : fs::directory_iterator(paths.checkpoints_dir(), ec))
    if (entry.path().extension() == ".safetensors" && RunPaths::step_of(entry.path()) >= 0)
      kept.emplace_back(RunPaths::step_of(entry.path()), entry.path());
  if (kept.empty()) return false;
  std::sort(kept.rbegin(), kept.rend());
  std::string skipped;
  for (const auto& [step, path] : kept) {
    try {
      restore(path);
    } catch (const Finished&) {
      throw;
    } catch (const UsageError& e) {
      out << "skipping " << path.string() << ": " << e.what() << std::endl;
      if (skipped.empty()) skipped = e.what();
      continue;
    }
    out << paths.latest_checkpoint().string() << " is missing; resuming from the newest usable kept checkpoint, "
        << path.string() << std::endl;
    return true;
  }
  throw UsageError(paths.latest_checkpoint().string() + " is missing and none of the " +
                   std::to_string(kept.size()) + " kept checkpoints beside it is usable (the newest: " + skipped +
                   "); start a new run");
}

// The size of the largest checkpoint in the run (latest or kept), 0 when there is none.
int64_t largest_checkpoint_bytes(const RunPaths& paths) {
  int64_t most = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(paths.checkpoints_dir(), ec))
    if (entry.path().extension() == ".safetensors" && entry.is_regular_file(ec)) {
      const auto bytes = entry.file_size(ec);
      if (!ec) most = std::max(most, static_cast<int64_t>(bytes));
    }
  return most;
}

int resume_run(const TrainArgs& a, const Catalog& catalog, const CliStreams& io) {
  const RunPaths paths{fs::path(a.resume)};
  if (!fs::exists(paths.config()))
    throw UsageError("no run to resume at " + a.resume + " (no config.json there); start one with gan train "
                     "--model M --data D --out " + a.resume);
  nlohmann::json config;
  RunConfig c;
  try {
    config = read_json_file(paths.config());
    c = RunConfig::from_json(config.at("settings"));
  } catch (const std::exception& e) {
    throw UsageError("cannot read the run's settings in " + paths.config().string() + ": " + e.what() +
                     "; start a new run");
  }
  check_unchanged(a, c, paths.root);
  const models::ModelEntry& entry = find_entry(catalog, c.model);
  c.model_config = resolve_model_config(entry, c.model_config);
  const Device device = pick_device(a.device);
  c.device = device.str();
  c.precision = use_precision(a.precision.empty() ? c.precision : a.precision);
  c.sample_every = a.sample_every.value_or(c.sample_every);
  c.checkpoint_every = a.checkpoint_every.value_or(c.checkpoint_every);
  c.eval_every = a.eval_every.value_or(c.eval_every);
  if (!a.classifier.empty()) c.classifier = a.classifier;

  std::unique_ptr<data::Dataset> dataset = open_data(catalog, c);
  if (spec_to_json(dataset->spec()) != spec_to_json(c.spec))
    throw UsageError("dataset '" + c.data + "' no longer looks as it did when the run started (was " +
                     spec_to_json(c.spec).dump() + ", now " + spec_to_json(dataset->spec()).dump() +
                     "); restore the data or start a new run");
  const int64_t per_epoch = batches_per_epoch(*dataset, c);
  if (a.epochs) {
    c.epochs = *a.epochs;
    c.steps = steps_for_epochs(*a.epochs, per_epoch);
  } else if (a.steps) {
    c.epochs = 0;
    c.steps = *a.steps;
  }
  check_settings(c);
  std::unique_ptr<models::GanModel> model;
  {
    const AllocationLimit limit = model_limit_for_checkpoint(largest_checkpoint_bytes(paths), paths.config());
    model = create_model(entry, c, device);
  }

  const std::shared_ptr<ClassifierReference> fd_ref = fd_reference(c, catalog, device, io);

  Trainer trainer(std::move(dataset), std::move(model), c, paths, device, train_output(io, a.progress_every_s));
  if (fd_ref) trainer.set_evaluator(fd_evaluator(fd_ref, c, c.eval_n));
  trainer.set_profile(a.profile);
  trainer.set_cuda_graph(models::parse_cuda_graph_mode(a.cuda_graph));
  for (const fs::path& p : remove_stale_temporaries(paths))
    *io.out << "removed " << p.string() << ", left by an interrupted gan" << std::endl;
  if (!resume_from_checkpoint(trainer, paths, c, finished_step(config), *io.out))
    truncate_metrics(paths.metrics(), 0, c.log_every);  // stopped before its first checkpoint: start over

  config["settings"] = c.to_json();
  if (!config["resumes"].is_array()) config["resumes"] = nlohmann::json::array();
  config["resumes"].push_back({{"step", trainer.step()}, {"command_line", a.command_line}, {"time", utc_now()}});
  write_file_atomic(paths.config(), config.dump(2) + "\n");
  *io.out << "resuming " << c.model << " on " << c.data << " at step " << trainer.step() << " of " << c.steps
          << " on " << c.device << "; run directory " << paths.root.string() << std::endl;
  return record_if_finished(trainer.run(), paths, c.steps, io);
}

}  // namespace

nlohmann::json resolve_model_config(const models::ModelEntry& entry, const nlohmann::json& overrides) {
  try {
    return models::resolve_config(entry, overrides);
  } catch (const std::exception& e) {
    throw UsageError(std::string(e.what()) + "; gan train --model " + entry.name + " --help lists them");
  }
}

std::string dashed_flag(std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return key;
}

std::string flag_list(const models::ModelEntry& entry) {
  std::string out;
  for (const auto& flag : entry.flags) out += (out.empty() ? "--" : ", --") + dashed_flag(flag.name);
  return out.empty() ? "(none)" : out;
}

int train_command(const TrainArgs& args, const Catalog& catalog, const CliStreams& io) {
  return args.resume.empty() ? new_run(args, catalog, io) : resume_run(args, catalog, io);
}

}  // namespace gan::apps
