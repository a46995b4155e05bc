// The subcommands behind apps/cli.h, each given its parsed arguments. They throw UsageError for mistakes the user
// can fix (the CLI prints the message on one line and exits 2) and return an exit code otherwise.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "apps/catalog.h"
#include "apps/cli.h"

namespace CLI {
class App;
}

namespace gan::apps {

// --device's help, the same in every subcommand.
inline constexpr const char* kDeviceHelp =
    "cpu, cuda or cuda:N [default: $GAN_DEVICE, else cuda when present, else cpu]";

// Defaults of `gan train` (its --help shows them).
constexpr int64_t kDefaultSteps = 5000;
constexpr int64_t kDefaultBatch = 64;

struct TrainArgs {
  std::string command_line;            // as typed, for config.json
  std::string resume;                  // --resume RUN, or empty for a new run
  std::string model, data, out, device;
  std::optional<int64_t> steps, epochs, batch, data_size, data_limit, image_size;
  std::optional<uint64_t> seed;
  std::optional<int64_t> log_every, sample_every, checkpoint_every, samples;  // samples: --sample-n
  std::optional<int64_t> eval_every, eval_n;
  std::string classifier;
  std::string precision;  // --precision fp32 | tf32 | bf16; empty: the process's math mode (kernels/math_mode.h)
  nlohmann::json model_flags = nlohmann::json::object();  // overrides of the model's flag defaults
  double progress_every_s = 10.0;
  bool profile = false;  // --profile: per-step device counters and a conv roofline at the end (apps/trainer.h)
  std::string cuda_graph = "auto";  // --cuda-graph auto | on | off (apps/trainer.h set_cuda_graph)
};

struct SampleArgs {
  std::string run, out, checkpoint, device;
  std::string format = "grid";  // grid | png-dir
  int64_t n = 64;
  uint64_t seed = 0;
  bool interpolate = false;
  bool reconstruct = false;  // vae/ae: real examples over their reconstructions
  int64_t rows = 8, cols = 10;  // --interpolate: rows, images per row
};

// `gan export` (apps/cmd_export.cpp): the generator's weights alone.
struct ExportArgs {
  std::string run, checkpoint, out;
};

// `gan eval` (apps/cmd_eval.cpp): exactly one of run and samples.
struct EvalArgs {
  std::string run, samples, checkpoint, device, classifier, json;
  int64_t n = 10000;
  uint64_t seed = 0;
};

int train_command(const TrainArgs& args, const Catalog& catalog, const CliStreams& io);
int sample_command(const SampleArgs& args, const Catalog& catalog, const CliStreams& io);
int report_command(const std::string& run, const CliStreams& io);
int eval_command(const EvalArgs& args, const Catalog& catalog, const CliStreams& io);
int export_command(const ExportArgs& args, const Catalog& catalog, const CliStreams& io);

// Model flags overlaid on the entry's defaults; an unknown key is a UsageError naming the model's flags.
nlohmann::json resolve_model_config(const models::ModelEntry& entry, const nlohmann::json& overrides);
// "--nz, --ngf, --lr" for messages.
std::string flag_list(const models::ModelEntry& entry);
// A model flag's command-line name: its config key with dashes ("lr_g" -> "lr-g").
std::string dashed_flag(std::string key);
// Registers `gan eval` and its options on the CLI (apps/cmd_eval.cpp).
CLI::App* add_eval_subcommand(CLI::App& app, EvalArgs& args);
// Registers `gan export` (apps/cmd_export.cpp).
CLI::App* add_export_subcommand(CLI::App& app, ExportArgs& args);

}  // namespace gan::apps
