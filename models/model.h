// The interface every zoo model implements, and the registry the `gan` program reads.
//
// A model owns its networks, optimizers and loss recipe; the shared trainer (apps/) owns data, logging, sample
// grids, checkpoints and resume. One train_step is one iteration as the paper defines it (WGAN: n_critic critic
// steps then one generator step, each critic step taking its own batch from `next_batch`).
//
// Settings are model flags with paper defaults, resolved into a JSON object (written to the run's config.json and
// read back on resume): `gan train --model wgan --clip 0.02` overrides "clip". Flag names are snake_case
// ("n_critic"); resolve_config also accepts them with dashes ("n-critic").
//
// Image sizes: image models build their conv nets for 28, 32 or 64-pixel square images (28: a 7x7 start doubled
// twice, the usual MNIST layout; 32 and 64: a 4x4 start), so Fashion-MNIST trains at its native 28 pixels; other
// sizes are refused by check_data, and preferred_image_size() says what to ask the data layer for instead.
// Point data (ExampleKind::Points) gets MLPs in gan, wgan, wgan-gp, unrolled, lsgan, cgan, vae and ae.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/data/dataset.h"
#include "engine/device.h"
#include "engine/rng.h"
#include "engine/tensor.h"

namespace gan::nn {
class Module;
}

namespace gan::models {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
// One logged value: a loss, D(x), a parameter count. A training step returns its values as one-element tensors
// that stay where they were computed, so a step on a GPU never waits for the device to read them back (the trainer
// collects them on the device, apps/metrics_buffer.h, and reads them every --log-every steps). A Metric may also
// hold a plain host number. value() (or the implicit conversion to double) reads it: for a tensor on a GPU that is
// a copy to the host, which waits for the step's kernels (a host synchronization, kernels/cuda/sync_count.h); on
// the CPU it is the tensor's value, the very double Tensor::item() gives.
class Metric {
 public:
  Metric() = default;
  Metric(double value) : value_(value) {}                    // NOLINT: implicit, so {"name", 1.5} reads naturally
  Metric(const Tensor& value) : tensor_(value.detach()) {}   // NOLINT: implicit, {"loss_d", loss_d}; one element
  double value() const { return tensor_.defined() ? tensor_.item() : value_; }
  operator double() const { return value(); }  // NOLINT: implicit, so callers use a Metric as the number it is
  // The tensor, undefined when the value is a plain number.
  const Tensor& tensor() const { return tensor_; }
  friend std::ostream& operator<<(std::ostream& os, const Metric& m) { return os << m.value(); }

 private:
  double value_ = 0;
  Tensor tensor_;  // detached: holds no autograd graph
};

using Metrics = std::vector<std::pair<std::string, Metric>>;  // ordered: "loss_d", "loss_g", ... as logged

// Integer model flags lie in [-kMaxIntFlag, kMaxIntFlag] and real ones in [-kMaxRealFlag, kMaxRealFlag]
// (resolve_config refuses others): widths and counts from a flag or a config.json must not overflow the products
// the models form from them.
constexpr int64_t kMaxIntFlag = int64_t{1} << 24;
constexpr double kMaxRealFlag = 1e300;

// One model flag: --name VALUE on the command line. `default_value` is JSON (number, bool or string).
struct FlagSpec {
  std::string name;
  nlohmann::json default_value;
  std::string help;
};

// What sample() should lay out: `rows` x `cols` images; `row_labels` names each row (class names for cgan,
// "code 3" for infogan sweeps) or is empty.
struct SampleGrid {
  Tensor images;  // [rows * cols, C, S, S] in [-1, 1] (or [n, point_dim] for point data), on the CPU
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<std::string> row_labels;
};

// The network sample() draws from, for `gan export`: `net` maps the generator's input to its output, and `output`
// says what sample() applies after it ("" when nothing, e.g. "tanh(0.5 * y)").
struct GeneratorNet {
  const nn::Module* net = nullptr;
  std::string output;
};

class GanModel {
 public:
  virtual ~GanModel() = default;
  virtual std::string name() const = 0;

  // One training iteration. `next_batch` returns the next batch of real data (examples, labels) on the model's
  // device; models taking several critic steps call it several times. Returns the losses to log.
  virtual Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) = 0;

  // Why this model's train_step cannot be captured once as a CUDA graph and replayed (models/graph_step.h), or ""
  // when it can as far as the model knows. Only for what the trainer cannot detect itself: a host-side decision
  // that changes from step to step without the step waiting for the device (a schedule on the step count). Host
  // synchronizations, host uploads and capture errors are detected, so models need not report them.
  virtual std::string cuda_graph_blocker() const { return ""; }

  // A grid of about n samples from noise drawn with `gen` (same gen state -> same grid: the trainer uses a
  // fixed seed so grids from different steps are comparable). Runs in eval mode and no-grad; restores the mode.
  virtual SampleGrid sample(int64_t n, Generator& gen) = 0;
  // Latent interpolation for `gan sample --interpolate`: `steps` images walking from one noise draw to another.
  virtual SampleGrid interpolate(int64_t rows, int64_t steps, Generator& gen) = 0;

  // Everything a checkpoint needs besides the trainer's own state: networks as "G.<name>", "D.<name>" (also
  // "Q.", "E." where the model has them, "G_ema." with --ema), optimizer state as "opt_g.<name>", "opt_d.<name>"
  // ("opt." for vae/ae, whose one optimizer holds E and G), the model's RNG state ("rng.seed", "rng.offset",
  // "rng.stream") and a marker "model.<name>". state() returns copies. load_state checks names and shapes before
  // changing anything and throws std::invalid_argument listing what is missing or unexpected (or naming the model
  // whose state it is).
  virtual NamedTensors state() const = 0;
  virtual void load_state(const NamedTensors& state) = 0;

  // Parameter counts per network, for the summary line at start ("G 3.6M, D 2.8M").
  virtual Metrics parameter_counts() const = 0;

  // The generator (its EMA copy when sampling uses one; the decoder of vae and ae); net is nullptr when the model
  // has no single generator network.
  virtual GeneratorNet generator_net() const { return {}; }

  // Autoencoders (vae, ae) also show reconstructions: `examples` [n, ...] (real data on the model's device) ->
  // a 2-row grid, the inputs over their reconstructions (row_labels "input", "reconstruction"), on the CPU.
  virtual bool can_reconstruct() const { return false; }
  virtual SampleGrid reconstruct(const Tensor& examples) {
    (void)examples;
    throw std::logic_error(name() + " does not reconstruct examples");
  }
};

struct ModelContext {
  data::DataSpec data;      // what the real data looks like (sizes the networks)
  Device device;            // where parameters live
  uint64_t seed = 0;        // initial weights and the model's own noise
  nlohmann::json config;    // resolved flags: every FlagSpec name present
};

struct ModelEntry {
  std::string name;         // --model value
  std::string description;  // one line: paper, what it shows
  std::vector<FlagSpec> flags;
  // Data kinds the model accepts (e.g. cgan and infogan need labels or images); return "" when fine, else a
  // one-line reason that the CLI prints with exit code 2.
  std::function<std::string(const data::DataSpec&)> check_data;
  std::function<std::unique_ptr<GanModel>(const ModelContext&)> create;
};

// One entry per zoo model, each defined in its own models/<name>.cpp; models/registry.cpp lists them in order.
ModelEntry gan_entry();
ModelEntry dcgan_entry();
ModelEntry sngan_entry();
ModelEntry cgan_entry();
ModelEntry wgan_entry();
ModelEntry wgan_gp_entry();
ModelEntry lsgan_entry();
ModelEntry infogan_entry();
ModelEntry unrolled_entry();
ModelEntry vae_entry();
ModelEntry ae_entry();

// All zoo models, in the order `gan models` lists them.
const std::vector<ModelEntry>& model_registry();
// nullptr when unknown.
const ModelEntry* find_model(const std::string& name);

// Zoo model `name` for data like `data` on `device`, its flags' defaults overlaid with `flags`: find_model,
// resolve_config, the entry's check_data and create in one call, for tests and benchmarks (the CLI takes each step
// itself, for its messages). Throws std::invalid_argument naming the model when it is unknown or refuses the data.
std::unique_ptr<GanModel> create_zoo_model(const std::string& name, const data::DataSpec& data, Device device,
                                           uint64_t seed, const nlohmann::json& flags = nlohmann::json::object());

// Defaults of an entry's flags overlaid with `overrides` (unknown keys are an error naming the key and the model).
// An override must have its default's type; strings are converted ("0.02", "true") so command-line text may be
// passed as is. Throws std::invalid_argument.
nlohmann::json resolve_config(const ModelEntry& entry, const nlohmann::json& overrides);

// The image size to ask the data layer for, given a dataset's native size: the native size when it is 28, 32 or
// 64, else 32 for smaller images and 64 for larger ones.
int64_t preferred_image_size(int64_t native_size);

}  // namespace gan::models
