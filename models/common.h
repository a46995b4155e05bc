// Pieces the zoo models share: reading resolved flags, network builders (MLPs and DCGAN-style conv stacks sized
// from the data), seeded weight initialization, EMA of generator weights, the training tricks (one-sided label
// smoothing, instance noise), and ZooModel, a GanModel base that owns the model's RNG and turns its networks and
// optimizers into state() / load_state().
//
// Determinism: every random draw a model makes (initial weights, latent noise, dropout masks, instance noise,
// WGAN-GP mixing weights) comes from the model's own Generator, whose state is part of state(), so a model
// restored from a state continues bit-identically. The layer constructors of engine/nn draw their initial
// weights from the process-wide generator; init_weights() redraws them all from the model's generator.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/autograd.h"
#include "engine/nn/layers.h"
#include "engine/optim/optimizer.h"
#include "models/dcgan.h"
#include "models/model.h"

namespace gan::models {

// ---- resolved flags (ModelContext::config); a missing key or a wrong type throws naming the key ----
double cfg_num(const nlohmann::json& cfg, const std::string& key);
int64_t cfg_int(const nlohmann::json& cfg, const std::string& key);
bool cfg_bool(const nlohmann::json& cfg, const std::string& key);
std::string cfg_str(const nlohmann::json& cfg, const std::string& key);

// ---- data checks for ModelEntry::check_data ("" when fine) ----
std::string check_images(const std::string& model, const data::DataSpec& spec);  // image data of a supported size
std::string check_images_or_points(const std::string& model, const data::DataSpec& spec);

// ---- modules ----
// Dropout drawing its mask from a given generator (the model's), not the process-wide one.
class SeededDropout : public nn::Module {
 public:
  SeededDropout(double p, Generator* gen) : p_(p), gen_(gen) {}
  Tensor forward(const Tensor& x) override { return nn::functional::dropout(x, p_, is_training(), gen_); }
  std::string describe() const override;

 private:
  double p_;
  Generator* gen_;
};

// Named sub-networks used together but called one by one (InfoGAN's D = "body" + "head"); forward throws.
class NetGroup : public nn::Module {
 public:
  explicit NetGroup(std::string name) : name_(std::move(name)) {}
  template <typename M>
  std::shared_ptr<M> add(const std::string& child, std::shared_ptr<M> m) {
    return register_module(child, std::move(m));
  }
  Tensor forward(const Tensor& x) override;
  std::string describe() const override { return name_; }

 private:
  std::string name_;
};

// ---- builders ----
enum class Norm { None, Batch, Layer };
// "none", "batch", "layer"; throws naming the flag and the accepted values.
Norm parse_norm(const std::string& text, const std::string& flag);

enum class Act { ReLU, LeakyReLU };  // LeakyReLU has slope 0.2

struct MlpOptions {
  int64_t in = 0;
  int64_t hidden = 128;
  int64_t layers = 2;      // hidden layers
  int64_t out = 1;
  Act act = Act::ReLU;
  Norm norm = Norm::None;  // after each hidden linear layer (batch norm fuses the activation)
  double dropout = 0.0;    // after each hidden activation (SeededDropout with `gen`)
  Generator* gen = nullptr;
  bool flatten_input = false;  // images [N, C, S, S] -> [N, C*S*S] first
  bool tanh_out = false;
  Shape out_shape;             // non-empty: reshape the output to [N, out_shape...] (MLP generator of images)
};
// Layers in a Sequential under "net", so names read "net.0.weight" like PyTorch's nn.Sequential.
std::shared_ptr<SequentialNet> mlp(const MlpOptions& o, const std::string& name);

// DCGAN-style generator: z [N, in_dim, 1, 1] -> [N, channels, S, S]. S = 32 or 64: a 4x4 start doubled to S;
// S = 28: a 7x7 start (7 -> 14 -> 28), the usual MNIST variant. Widths halve on the way up, ending at ngf.
// With norm == Batch and in_dim = nz this is exactly dcgan_generator (same layer indices).
std::shared_ptr<SequentialNet> conv_generator(int64_t in_dim, int64_t channels, int64_t image_size, int64_t ngf,
                                              Norm norm = Norm::Batch, bool tanh_out = true, bool fuse = true,
                                              DType dtype = DType::Float32);

// DCGAN-style discriminator/critic: [N, channels, S, S] -> [N, 1] logits with `head`, else the last features
// [N, feature_channels(), base, base] (base 4, or 7 for S = 28). No normalization after the first conv (DCGAN);
// the others get `norm` (batch norm with a fused LeakyReLU(0.2); layer norm over [C, H, W]; or none).
// With norm == Batch and head this is exactly dcgan_discriminator.
std::shared_ptr<SequentialNet> conv_discriminator(int64_t channels, int64_t image_size, int64_t ndf, Norm norm,
                                                  bool head = true, bool fuse = true, DType dtype = DType::Float32);
// Channels and side of conv_discriminator's last features (without head).
int64_t conv_feature_channels(int64_t image_size, int64_t ndf);
int64_t conv_feature_size(int64_t image_size);

// Runs a Sequential made of Linear, Conv2d, ConvTranspose2d, LayerNorm, activation and Flatten layers with its
// parameters replaced by `params` (in named_parameters() order): the unrolled GAN evaluates its discriminator at
// parameters that are functions of G. Throws naming a layer it cannot run that way (batch norm, dropout).
Tensor forward_with_params(nn::Module& net, const Tensor& x, const std::vector<Tensor>& params);

// ---- initialization, devices ----
enum class Init {
  Default,  // PyTorch's defaults (kaiming-uniform weights, uniform biases; embeddings N(0, 1))
  Dcgan,    // Radford 2015: conv, transposed-conv and linear weights N(0, 0.02), biases 0; batch norm N(1, 0.02), 0
};
void init_weights(nn::Module& m, Init init, Generator& gen);
// Moves every parameter and buffer to `device` in place (the handles the layers hold see the move).
void module_to(nn::Module& m, Device device);

// ---- noise and tricks ----
Tensor normal_noise(const Shape& shape, Generator& gen, Device device);
Tensor uniform_noise(const Shape& shape, Generator& gen, Device device, double lo, double hi);
// n class indices uniform in [0, k), int64 [n], drawn on `device` (no upload, nothing read back).
Tensor random_labels(int64_t n, int64_t k, Generator& gen, Device device);
// Labels int64 [n] -> one-hot float [n, k]. Labels on the CPU are range-checked here (the error names the model,
// the bad label and the range); labels on a device are not read back (F::one_hot): the data loader checked them
// against the dataset's classes on the host (data::Loader), and the models that call this need k = those classes.
Tensor one_hot_labels(const std::string& model, const Tensor& labels, int64_t k);
// Joins per-example conditioning `cond` [N, k] to `x`: images [N, C, S, S] get k constant channels, points
// [N, d] get k more columns.
Tensor join_condition(const Tensor& x, const Tensor& cond);
// Instance noise (Sønderby 2016, Arjovsky & Bottou 2017): x + N(0, sigma^2), applied to D's real and fake
// inputs. sigma decays linearly to 0 over `anneal_steps` iterations when anneal_steps > 0.
double instance_noise_sigma(double sigma, int64_t anneal_steps, int64_t step);
Tensor add_instance_noise(const Tensor& x, double sigma, Generator& gen);
// One-sided label smoothing (Salimans 2016): real targets 1 - smoothing, fake targets stay 0.
Tensor real_targets(const Tensor& logits, double smoothing);
// BCE with logits written in differentiable ops (softplus(x) - x t, mean), for the unrolled GAN, whose loss is
// differentiated twice; bce_with_logits is fused and supports first derivatives only.
Tensor bce_with_logits_differentiable(const Tensor& logits, const Tensor& targets);

// Exponential moving average of a network's weights (Yazıcı 2019): after each generator step,
// avg = decay avg + (1 - decay) live for parameters; buffers (batch-norm statistics) are copied. Sampling uses avg.
class Ema {
 public:
  Ema(const nn::Module& live, std::shared_ptr<nn::Module> avg, double decay);
  void update();
  nn::Module& avg() { return *avg_; }
  const std::shared_ptr<nn::Module>& avg_ptr() const { return avg_; }

 private:
  const nn::Module& live_;
  std::shared_ptr<nn::Module> avg_;
  double decay_;
};

// Puts modules in eval mode and disables grad; restores each module's mode when destroyed.
class EvalScope {
 public:
  explicit EvalScope(std::vector<nn::Module*> modules);
  ~EvalScope();
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  std::vector<std::pair<nn::Module*, bool>> saved_;
  NoGradGuard no_grad_;
};

// ---- grids ----
// cols = ceil(sqrt(n)), rows = ceil(n / cols): at least n cells, nearly square.
std::pair<int64_t, int64_t> grid_shape(int64_t n);
// Linear interpolation between a [rows, d] and b [rows, d]: [rows * steps, d], row-major (steps along a row).
Tensor lerp_rows(const Tensor& a, const Tensor& b, int64_t steps);

// ---- the shared GanModel base ----
class ZooModel : public GanModel {
 public:
  ZooModel(std::string name, const ModelContext& ctx);
  std::string name() const override { return name_; }
  // Networks under their prefixes ("G.net.0.weight"), optimizer states ("opt_g.net.0.weight.exp_avg",
  // "opt_g.step"), the RNG ("rng.seed", "rng.offset", "rng.stream": uint64 bit patterns in int64 scalars) and
  // "model.<name>", which marks whose state it is. All tensors are copies.
  NamedTensors state() const override;
  // Checks everything (model marker, every network name and shape, RNG entries) before changing anything, then
  // loads; the optimizers check their own entries. Throws std::invalid_argument listing what is missing or
  // unexpected, and naming the other model when the state is another model's.
  void load_state(const NamedTensors& state) override;
  Metrics parameter_counts() const override;

 protected:
  // `counted`: listed by parameter_counts() (the EMA copy is not).
  void add_net(const std::string& prefix, nn::Module* net, bool counted = true);
  void add_optimizer(const std::string& prefix, optim::Optimizer* opt);
  // Another generator whose state goes into state() as "<prefix>.seed", "<prefix>.offset", "<prefix>.stream"
  // (rng_ itself is "rng"), e.g. DiffAugment's "augment.rng".
  void add_generator(const std::string& prefix, Generator* gen);

  std::string name_;
  data::DataSpec spec_;
  Device device_;
  nlohmann::json cfg_;
  Generator rng_;

 private:
  std::vector<std::pair<std::string, nn::Module*>> nets_;
  std::vector<bool> counted_;
  std::vector<std::pair<std::string, optim::Optimizer*>> opts_;
  std::vector<std::pair<std::string, Generator*>> gens_;  // "rng" first
};

}  // namespace gan::models
