// The resolved settings of a training run: what config.json holds and what `--resume` reads back.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/data/dataset.h"

namespace gan::apps {

// The ranges a run's settings must lie in. Flags, config.json and --resume are all held to these (through
// RunConfig::check and the flag validators), so a value that passes one passes the others.
constexpr int64_t kMaxDataLimit = 1'000'000'000;  // --data-limit: examples (no data set here comes near it)
constexpr int64_t kMaxSteps = 1'000'000'000'000;  // 10^12 iterations (also the cap on --epochs x batches)
constexpr int64_t kMaxBatch = 65'536;
constexpr int64_t kMaxEvalSamples = 100'000;      // samples per Frechet distance or per png-dir folder
constexpr int64_t kMaxSamples = 1024;             // samples per grid or scatter plot
constexpr int64_t kMaxClasses = 100'000;

struct RunConfig {
  std::string model;               // --model
  std::string data;                // --data
  nlohmann::json model_config;     // the model's flags, defaults overlaid with the command line
  int64_t steps = 0;               // total iterations the run trains for
  int64_t epochs = 0;              // when given as --epochs (steps = epochs x batches per epoch), else 0
  int64_t batch = 64;
  uint64_t seed = 0;
  std::string device;              // as resolved at start ("cpu", "cuda:0"); a resume may pick another
  std::string precision;           // float32 math, "fp32", "tf32" or "bf16" (kernels/math_mode.h), as resolved at start (--precision or
                                   // the process default); a resume keeps it unless --precision says otherwise.
                                   // "" in runs made before it was recorded: the process default
  int64_t image_size = 0;          // what the dataset was asked to resize to (0: native)
  int64_t data_size = 0;           // generated datasets: number of examples (0: the set's default)
  int64_t data_limit = 0;          // train on the data set's first N examples (0: all)
  int64_t log_every = 10;          // metrics.jsonl line every N steps
  int64_t sample_every = 500;      // sample grid every N steps (and at the end)
  int64_t checkpoint_every = 1000; // kept checkpoint every N steps (and latest at the end and on a signal)
  int64_t sample_n = 64;           // samples per grid (points: per scatter plot)
  int64_t eval_every = 0;          // Frechet distance to fd.jsonl every N steps (0: off; apps/quality.h)
  int64_t eval_n = 1000;           // samples per such measurement
  std::string classifier;          // its classifier file ("": the cache)
  data::DataSpec spec;             // what the data looked like (sizes the networks; `gan sample` needs no data)
  std::string data_description;    // the dataset's describe() line

  nlohmann::json to_json() const;
  // Throws std::runtime_error naming the missing, mistyped or out-of-range field.
  static RunConfig from_json(const nlohmann::json& j);
  // Checks every number against the ranges above (batch >= 1, log_every >= 1, ...); throws a RangeError
  // (engine/checked.h) naming the field.
  void check() const;
};

nlohmann::json spec_to_json(const data::DataSpec& spec);
data::DataSpec spec_from_json(const nlohmann::json& j);

// The engine version this program was built from ("0.1.0").
std::string gan_version();

}  // namespace gan::apps
