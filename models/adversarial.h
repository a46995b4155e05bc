// AdversarialModel: what the zoo's GANs share. A generator G and a discriminator/critic D (plus whatever a model
// adds), their optimizers, the flags every GAN has (latent size, widths, learning rates: separate ones for G and D
// give TTUR, Heusel 2017), and the tricks: instance noise on D's inputs, one-sided label smoothing (models with a
// BCE loss) and an EMA of G's weights that sampling uses.
//
// Networks follow the data: images get DCGAN-style conv nets (28, 32 or 64 pixels), 2-D points get MLPs.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/optim/optimizers.h"
#include "models/common.h"
#include "engine/nn/diffaugment.h"

namespace gan::models {

// Paper defaults of the shared flags; each model states its own.
struct AdversarialDefaults {
  int64_t nz = 100;
  int64_t hidden = 128;  // MLP width (point data; the vanilla GAN's nets)
  int64_t layers = 2;    // MLP hidden layers
  double lr_g = 2e-4, lr_d = 2e-4;
  double beta1 = 0.5, beta2 = 0.999;
  bool conv = true;             // offer ngf/ndf (conv nets on images)
  bool adam = true;             // offer beta1/beta2
  bool label_smoothing = true;  // offer label_smoothing (BCE losses only)
  bool r1 = false;              // offer r1 / r1_every (non-saturating losses)
};

// nz, [ngf, ndf], hidden, layers, lr_g, lr_d, [beta1, beta2], [label_smoothing], instance_noise,
// instance_noise_anneal, ema, diffaugment, [r1, r1_every].
std::vector<FlagSpec> adversarial_flags(const AdversarialDefaults& d);

// Parameters named with the network's prefix ("G.net.0.weight"), so one optimizer may hold several networks and
// its state names stay unambiguous.
optim::NamedTensors prefixed_parameters(const std::string& prefix, const nn::Module& m);

class AdversarialModel : public ZooModel {
 public:
  SampleGrid sample(int64_t n, Generator& gen) override;
  SampleGrid interpolate(int64_t rows, int64_t steps, Generator& gen) override;
  GeneratorNet generator_net() const override { return {ema_ ? ema_->avg_ptr().get() : G_.get(), ""}; }
  std::string cuda_graph_blocker() const override;

 protected:
  AdversarialModel(std::string name, const ModelContext& ctx);

  bool images() const { return spec_.kind == data::ExampleKind::Image; }
  // Conv generator on images, MLP on points, taking `in_dim` inputs (nz plus any conditioning).
  std::shared_ptr<nn::Module> standard_generator(int64_t in_dim) const;
  // Conv discriminator on images (`extra_channels` joined to the image), MLP on points (`extra_channels` joined
  // to the point); [N, 1] scores.
  std::shared_ptr<nn::Module> standard_discriminator(int64_t extra_channels, Norm norm) const;

  // Registers G (and its EMA copy when --ema > 0; `make_g` builds another G) and D as "G", "D", initializes
  // their weights from the model's generator and moves them to the device. `conv_g`: G takes [N, in, 1, 1].
  void setup(std::function<std::shared_ptr<nn::Module>()> make_g, std::shared_ptr<nn::Module> D, Init init,
             bool conv_g);
  // Registers the optimizers as "opt_g" and "opt_d".
  void set_optimizers(std::unique_ptr<optim::Optimizer> opt_g, std::unique_ptr<optim::Optimizer> opt_d);
  std::unique_ptr<optim::Optimizer> adam(optim::NamedTensors params, double lr) const;

  // Latent noise [n, nz] ~ N(0, 1).
  Tensor latent(int64_t n, Generator& gen) const;
  // G (or, when `sampling` and EMA is on, its average) on inputs [n, in].
  Tensor generate(const Tensor& g_in, bool sampling = false);
  // D's view of an input: DiffAugment (--diffaugment, models/diffaugment.h), then instance noise while training
  // with --instance_noise. Every call draws new augmentation parameters from augment_rng_.
  Tensor d_in(const Tensor& x);
  // R1 (Mescheder 2018) with lazy regularization (Karras 2020, StyleGAN2): on every r1_every-th D step (counted by
  // opt_d's steps, so resume keeps the schedule) D's loss gets gamma * r1_every / 2 * E ||grad_x D(x)||^2 on the
  // real batch, in the same backward and optimizer step. r1_due() says whether this step is one; then call D on
  // r1_input(real) (a grad-requiring copy) and add_r1(loss_d, D's scores, that input), which adds the penalty to
  // loss_d and returns it (for the log). Off (never due) with --r1 0.
  bool r1_due() const;
  Tensor r1_input(const Tensor& real) const;
  Tensor add_r1(Tensor& loss_d, const Tensor& scores, const Tensor& input) const;
  // After every generator update: the EMA.
  void after_g_step();
  // Images (or points) from G's inputs [rows * cols, in] in eval mode without grad, on the CPU.
  SampleGrid grid_from(const Tensor& g_in, int64_t rows, int64_t cols, std::vector<std::string> row_labels = {});

  std::shared_ptr<nn::Module> G_, D_;
  std::unique_ptr<Ema> ema_;
  std::unique_ptr<optim::Optimizer> opt_g_, opt_d_;
  nn::DiffAugmentPolicy augment_;
  Generator augment_rng_;  // stream 1 of the run's seed: saved as "augment.rng.*" when augmenting
  int64_t nz_;
  double smoothing_ = 0.0;
  bool conv_g_ = true;
};

// Mean of sigmoid(logits): D's average belief that its inputs are real, logged as d_real / d_fake. A 0-d tensor on
// the logits' device (read it when logging, not in the step).
Tensor mean_probability(const Tensor& logits);

}  // namespace gan::models
