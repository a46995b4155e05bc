// SNGAN (Miyato, Kataoka, Koyama, Yoshida 2018): spectral normalization on every layer of D and the hinge loss,
// with the paper's "standard CNN" networks (its Table 3, DCGAN-like):
//   G: z [N, 128] ~ N(0, I) -> linear -> s0 x s0 x (ngf 2^u) -> u x (4x4 stride-2 deconv, BN, ReLU), halving the
//      width -> 3x3 conv to the image channels, tanh. s0 = 4 for 32 and 64 pixels, 7 for 28; u doubles s0 to S.
//      (The paper's CIFAR-10 G with ngf 64: 4x4x512 -> 256 -> 128 -> 64 -> 3.) The linear layer's output is
//      batch-normalized per feature (BatchNorm1d) and ReLU'd before it is reshaped.
//   D: 3x3 conv ndf, 4x4 s2 conv ndf, 3x3 conv 2ndf, 4x4 s2 conv 2ndf, 3x3 conv 4ndf, 4x4 s2 conv 4ndf, 3x3 conv
//      8ndf, each followed by LeakyReLU(0.1), then a linear layer to one score; no batch norm. Every conv and the
//      linear layer are spectrally normalized (one power iteration per training forward; u and v are buffers in
//      D's state dict, PyTorch's "parametrizations.weight.0._u" names, so checkpoints carry them).
//   Loss: hinge, D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))], G: -E[D(G(z))].
//   Adam alpha 2e-4, beta1 0.5, beta2 0.999, n_dis 1: the paper's setting C (--n_dis 5 --lr_g 1e-4 --lr_d 1e-4
//   --beta2 0.9 gives its setting A). Weights start from PyTorch's default initialization; u and v are drawn from
//   the model's generator after it, refined by 15 power iterations (PyTorch's spectral_norm()).
#include <stdexcept>

#include "engine/nn/spectral_norm.h"
#include "models/adversarial.h"

namespace gan::models {

namespace F = nn::functional;

namespace {

constexpr double kSlope = 0.1;  // the paper's LeakyReLU slope in D

std::shared_ptr<nn::Module> sngan_generator(int64_t nz, int64_t channels, int64_t image_size, int64_t ngf) {
  const int64_t base = image_size == 28 ? 7 : 4;
  int64_t ups = 0;
  for (int64_t s = base; s < image_size; s *= 2) ++ups;
  int64_t width = ngf << ups;
  auto g = std::make_shared<SequentialNet>("SNGAN generator");
  nn::Sequential& net = *g->net;
  net.add(std::make_shared<nn::Linear>(nz, base * base * width));
  net.add(std::make_shared<nn::BatchNorm1d>(base * base * width, 1e-5, 0.1, true, true,
                                            F::ActivationArgs{F::Activation::ReLU}));
  net.add(std::make_shared<nn::Unflatten>(Shape{width, base, base}));
  for (int64_t i = 0; i < ups; ++i) {
    net.add(std::make_shared<nn::ConvTranspose2d>(width, width / 2, 4, 2, 1));
    net.add(std::make_shared<nn::BatchNorm2d>(width / 2, 1e-5, 0.1, true, true,
                                              F::ActivationArgs{F::Activation::ReLU}));
    width /= 2;
  }
  net.add(std::make_shared<nn::Conv2d>(width, channels, 3, 1, 1));
  net.add(std::make_shared<nn::Tanh>());
  return g;
}

// Without spectral normalization; the model applies it after initializing the weights.
std::shared_ptr<nn::Module> sngan_discriminator(int64_t channels, int64_t image_size, int64_t ndf) {
  auto d = std::make_shared<SequentialNet>("SNGAN discriminator");
  nn::Sequential& net = *d->net;
  int64_t in = channels, width = ndf, side = image_size;
  for (int stage = 0; stage < 3; ++stage) {
    net.add(std::make_shared<nn::Conv2d>(in, width, 3, 1, 1));
    net.add(std::make_shared<nn::LeakyReLU>(kSlope));
    net.add(std::make_shared<nn::Conv2d>(width, width, 4, 2, 1));
    net.add(std::make_shared<nn::LeakyReLU>(kSlope));
    side = (side + 2 - 4) / 2 + 1;
    in = width;
    width *= 2;
  }
  net.add(std::make_shared<nn::Conv2d>(in, width, 3, 1, 1));
  net.add(std::make_shared<nn::LeakyReLU>(kSlope));
  net.add(std::make_shared<nn::Flatten>());
  net.add(std::make_shared<nn::Linear>(width * side * side, 1));
  return d;
}

// Spectral normalization on every conv and linear layer under `m`, u and v drawn from `gen`.
void spectral_norm_all(nn::Module& m, Generator& gen) {
  if (dynamic_cast<nn::Conv2d*>(&m) || dynamic_cast<nn::Linear*>(&m) || dynamic_cast<nn::ConvTranspose2d*>(&m))
    nn::spectral_norm(m, "weight", {.gen = &gen});
  for (auto& [name, child] : m.children()) spectral_norm_all(*child, gen);
}

class Sngan : public AdversarialModel {
 public:
  explicit Sngan(const ModelContext& ctx) : AdversarialModel("sngan", ctx), n_dis_(cfg_int(cfg_, "n_dis")) {
    if (n_dis_ < 1) throw std::invalid_argument("sngan: n_dis must be >= 1, got " + std::to_string(n_dis_));
    const int64_t ngf = cfg_int(cfg_, "ngf"), ndf = cfg_int(cfg_, "ndf");
    if (ngf <= 0 || ndf <= 0) throw std::invalid_argument("sngan: ngf and ndf must be positive");
    setup([this, ngf] { return sngan_generator(nz_, spec_.channels, spec_.image_size, ngf); },
          sngan_discriminator(spec_.channels, spec_.image_size, ndf), Init::Default, /*conv_g=*/false);
    spectral_norm_all(*D_, rng_);  // after the weights are drawn, as PyTorch's spectral_norm() on built layers
    set_optimizers(adam(prefixed_parameters("G", *G_), cfg_num(cfg_, "lr_g")),
                   adam(prefixed_parameters("D", *D_), cfg_num(cfg_, "lr_d")));
  }

  Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) override {
    Tensor loss_d, real_scores, fake_scores;
    int64_t n = 0;
    for (int64_t step = 0; step < n_dis_; ++step) {
      const Tensor real = next_batch().first;
      n = real.shape()[0];
      Tensor fake;
      {
        NoGradGuard no_grad;
        fake = generate(latent(n, rng_));
      }
      opt_d_->zero_grad();
      real_scores = (*D_)(d_in(real));
      fake_scores = (*D_)(d_in(fake));
      loss_d = F::hinge_critic_loss(real_scores, fake_scores);
      loss_d.backward();
      opt_d_->step();
    }
    opt_g_->zero_grad();
    const Tensor loss_g = F::hinge_generator_loss((*D_)(d_in(generate(latent(n, rng_)))));
    loss_g.backward();
    opt_g_->step();
    after_g_step();
    NoGradGuard no_grad;
    return {{"loss_d", loss_d},
            {"loss_g", loss_g},
            {"d_real", mean(real_scores.detach())},
            {"d_fake", mean(fake_scores.detach())}};
  }

 private:
  int64_t n_dis_;
};

}  // namespace

ModelEntry sngan_entry() {
  ModelEntry e;
  e.name = "sngan";
  e.description = "SNGAN (Miyato 2018): spectral norm on every D layer, hinge loss, standard-CNN nets; 28/32/64 px";
  e.flags = adversarial_flags(
      {.nz = 128, .lr_g = 2e-4, .lr_d = 2e-4, .beta1 = 0.5, .beta2 = 0.999, .label_smoothing = false});
  e.flags.push_back({"n_dis", 1, "D steps per G step, each on its own batch (the paper's settings: 1 or 5)"});
  e.check_data = [](const data::DataSpec& s) { return check_images("sngan", s); };
  e.create = [](const ModelContext& ctx) -> std::unique_ptr<GanModel> { return std::make_unique<Sngan>(ctx); };
  return e;
}

}  // namespace gan::models
