#include "models/adversarial.h"

#include <stdexcept>

#include "engine/nn/penalties.h"

namespace gan::models {

std::vector<FlagSpec> adversarial_flags(const AdversarialDefaults& d) {
  std::vector<FlagSpec> f = {{"nz", d.nz, "latent noise size"}};
  if (d.conv) {
    f.push_back({"ngf", 64, "conv generator width (images)"});
    f.push_back({"ndf", 64, "conv discriminator width (images)"});
  }
  f.push_back({"hidden", d.hidden, d.conv ? "MLP width (point data)" : "MLP width"});
  f.push_back({"layers", d.layers, d.conv ? "MLP hidden layers (point data)" : "MLP hidden layers"});
  f.push_back({"lr_g", d.lr_g, "generator learning rate (TTUR: set it apart from lr_d)"});
  f.push_back({"lr_d", d.lr_d, "discriminator learning rate"});
  if (d.adam) {
    f.push_back({"beta1", d.beta1, "Adam beta1"});
    f.push_back({"beta2", d.beta2, "Adam beta2"});
  }
  if (d.label_smoothing)
    f.push_back({"label_smoothing", 0.0, "one-sided label smoothing: real targets 1 - s (Salimans 2016); 0 = off"});
  f.push_back({"instance_noise", 0.0, "std of Gaussian noise added to D's real and fake inputs; 0 = off"});
  f.push_back({"instance_noise_anneal", 0, "iterations over which instance noise decays linearly to 0; 0 = constant"});
  f.push_back({"ema", 0.0, "EMA decay of generator weights used for sampling (e.g. 0.999); 0 = off"});
  f.push_back({"diffaugment", "",
               "DiffAugment (Zhao 2020) on D's real and fake images: comma-separated color, translation, cutout; "
               "empty = off"});
  if (d.r1) {
    f.push_back({"r1", 0.0, "R1 penalty weight gamma on real data (Mescheder 2018; e.g. 10); 0 = off"});
    f.push_back({"r1_every", 16, "lazy R1 (StyleGAN2): apply it every k D steps, scaled by k"});
  }
  return f;
}

optim::NamedTensors prefixed_parameters(const std::string& prefix, const nn::Module& m) {
  optim::NamedTensors out;
  for (auto& [n, t] : m.named_parameters()) out.emplace_back(prefix + "." + n, t);
  return out;
}

Tensor mean_probability(const Tensor& logits) {
  NoGradGuard no_grad;
  return mean(sigmoid(logits.detach()));
}

AdversarialModel::AdversarialModel(std::string name, const ModelContext& ctx)
    : ZooModel(std::move(name), ctx),
      augment_(nn::parse_diffaugment(cfg_str(ctx.config, "diffaugment"))),
      augment_rng_(ctx.seed, 1),
      nz_(cfg_int(ctx.config, "nz")) {
  if (nz_ <= 0) throw std::invalid_argument(name_ + ": nz must be positive, got " + std::to_string(nz_));
  if (cfg_.contains("label_smoothing")) {
    smoothing_ = cfg_num(cfg_, "label_smoothing");
    if (smoothing_ < 0 || smoothing_ >= 1)
      throw std::invalid_argument(name_ + ": label_smoothing must be in [0, 1), got " + std::to_string(smoothing_));
  }
  if (cfg_num(cfg_, "instance_noise") < 0)
    throw std::invalid_argument(name_ + ": instance_noise must be >= 0");
  if (augment_.any()) {
    if (!images())
      throw std::invalid_argument(name_ + ": diffaugment '" + augment_.str() + "' augments images; this data is " +
                                  "2-D points (leave diffaugment empty)");
    add_generator("augment.rng", &augment_rng_);
  }
  if (cfg_.contains("r1")) {
    if (cfg_num(cfg_, "r1") < 0) throw std::invalid_argument(name_ + ": r1 must be >= 0, got " + cfg_.at("r1").dump());
    if (cfg_int(cfg_, "r1_every") < 1)
      throw std::invalid_argument(name_ + ": r1_every must be >= 1, got " + cfg_.at("r1_every").dump());
  }
}

std::shared_ptr<nn::Module> AdversarialModel::standard_generator(int64_t in_dim) const {
  if (images())
    return conv_generator(in_dim, spec_.channels, spec_.image_size, cfg_int(cfg_, "ngf"), Norm::Batch, true);
  MlpOptions o;
  o.in = in_dim;
  o.hidden = cfg_int(cfg_, "hidden");
  o.layers = cfg_int(cfg_, "layers");
  o.out = spec_.point_dim;
  o.act = Act::ReLU;
  return mlp(o, "MLP generator");
}

std::shared_ptr<nn::Module> AdversarialModel::standard_discriminator(int64_t extra, Norm norm) const {
  if (images()) return conv_discriminator(spec_.channels + extra, spec_.image_size, cfg_int(cfg_, "ndf"), norm);
  MlpOptions o;
  o.in = spec_.point_dim + extra;
  o.hidden = cfg_int(cfg_, "hidden");
  o.layers = cfg_int(cfg_, "layers");
  o.out = 1;
  o.act = Act::LeakyReLU;
  o.norm = norm == Norm::Batch ? Norm::None : norm;  // no batch statistics over a handful of 2-D points
  return mlp(o, "MLP discriminator");
}

void AdversarialModel::setup(std::function<std::shared_ptr<nn::Module>()> make_g, std::shared_ptr<nn::Module> D,
                             Init init, bool conv_g) {
  conv_g_ = conv_g;
  G_ = make_g();
  D_ = std::move(D);
  init_weights(*G_, init, rng_);
  init_weights(*D_, init, rng_);
  module_to(*G_, device_);
  module_to(*D_, device_);
  add_net("G", G_.get());
  add_net("D", D_.get());
  const double decay = cfg_num(cfg_, "ema");
  if (decay != 0) {
    std::shared_ptr<nn::Module> avg = make_g();
    module_to(*avg, device_);
    ema_ = std::make_unique<Ema>(*G_, avg, decay);
    add_net("G_ema", avg.get(), /*counted=*/false);
  }
}

void AdversarialModel::set_optimizers(std::unique_ptr<optim::Optimizer> opt_g, std::unique_ptr<optim::Optimizer> opt_d) {
  opt_g_ = std::move(opt_g);
  opt_d_ = std::move(opt_d);
  add_optimizer("opt_g", opt_g_.get());
  add_optimizer("opt_d", opt_d_.get());
}

std::unique_ptr<optim::Optimizer> AdversarialModel::adam(optim::NamedTensors params, double lr) const {
  return std::make_unique<optim::Adam>(
      std::move(params), optim::AdamOptions{.lr = lr, .beta1 = cfg_num(cfg_, "beta1"), .beta2 = cfg_num(cfg_, "beta2")});
}

Tensor AdversarialModel::latent(int64_t n, Generator& gen) const { return normal_noise({n, nz_}, gen, device_); }

Tensor AdversarialModel::generate(const Tensor& g_in, bool sampling) {
  nn::Module& g = sampling && ema_ ? ema_->avg() : *G_;
  const Tensor x = conv_g_ ? reshape(g_in, {g_in.shape()[0], g_in.shape()[1], 1, 1}) : g_in;
  return g(x);
}

Tensor AdversarialModel::d_in(const Tensor& x_in) {
  const Tensor x = nn::diff_augment(x_in, augment_, augment_rng_);
  const double sigma = instance_noise_sigma(cfg_num(cfg_, "instance_noise"), cfg_int(cfg_, "instance_noise_anneal"),
                                            opt_g_ ? opt_g_->steps() : 0);
  return add_instance_noise(x, sigma, rng_);
}

std::string AdversarialModel::cuda_graph_blocker() const {
  // Both decide on the host from the optimizer's step count, which a captured graph would freeze.
  if (cfg_.contains("r1") && cfg_num(cfg_, "r1") != 0 && cfg_int(cfg_, "r1_every") > 1)
    return "--r1 with --r1-every " + std::to_string(cfg_int(cfg_, "r1_every")) +
           ": the penalty's steps are chosen on the host";
  if (cfg_num(cfg_, "instance_noise") > 0 && cfg_int(cfg_, "instance_noise_anneal") > 0)
    return "--instance-noise-anneal: the noise level is computed on the host from the step count";
  return "";
}

bool AdversarialModel::r1_due() const {
  if (!cfg_.contains("r1") || cfg_num(cfg_, "r1") == 0) return false;
  return opt_d_->steps() % cfg_int(cfg_, "r1_every") == 0;
}

Tensor AdversarialModel::r1_input(const Tensor& real) const {
  Tensor x = real.detach().clone();
  x.requires_grad_(true);
  return x;
}

Tensor AdversarialModel::add_r1(Tensor& loss_d, const Tensor& scores, const Tensor& input) const {
  const double k = static_cast<double>(cfg_int(cfg_, "r1_every"));
  const Tensor penalty = nn::functional::squared_gradient_penalty(scores, input, cfg_num(cfg_, "r1") * k);
  loss_d = loss_d + penalty;
  return penalty;
}

void AdversarialModel::after_g_step() {
  if (ema_) ema_->update();
}

SampleGrid AdversarialModel::grid_from(const Tensor& g_in, int64_t rows, int64_t cols,
                                       std::vector<std::string> row_labels) {
  EvalScope scope({G_.get(), ema_ ? &ema_->avg() : nullptr});
  SampleGrid grid;
  grid.images = generate(g_in, /*sampling=*/true).to(Device::cpu()).contiguous();
  grid.rows = rows;
  grid.cols = cols;
  grid.row_labels = std::move(row_labels);
  return grid;
}

SampleGrid AdversarialModel::sample(int64_t n, Generator& gen) {
  auto [rows, cols] = images() ? grid_shape(n) : std::pair<int64_t, int64_t>{1, std::max<int64_t>(n, 1)};
  return grid_from(latent(rows * cols, gen), rows, cols);
}

SampleGrid AdversarialModel::interpolate(int64_t rows, int64_t steps, Generator& gen) {
  const Tensor a = latent(rows, gen), b = latent(rows, gen);
  return grid_from(lerp_rows(a, b, steps), rows, steps);
}

}  // namespace gan::models
