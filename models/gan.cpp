// Vanilla GAN (Goodfellow et al. 2014): MLP generator and discriminator on flattened images (or 2-D points),
// k discriminator steps per generator step (each on its own batch), dropout in D, SGD with momentum, and the
// generator loss of the paper's minimax game or its non-saturating variant (the paper's practical suggestion).
// The paper's maxout units are replaced by LeakyReLU(0.2) in D and ReLU in G; its momentum schedule
// (0.5 rising to 0.7) by a constant --momentum.
#include <stdexcept>

#include "engine/optim/optimizers.h"
#include "models/adversarial.h"

namespace gan::models {

namespace F = nn::functional;

namespace {

class VanillaGan : public AdversarialModel {
 public:
  explicit VanillaGan(const ModelContext& ctx)
      : AdversarialModel("gan", ctx), k_(cfg_int(cfg_, "k")), minimax_(parse_loss(cfg_str(cfg_, "loss"))) {
    if (k_ < 1) throw std::invalid_argument("gan: k must be >= 1, got " + std::to_string(k_));
    const int64_t numel = spec_.example_numel();
    auto make_g = [this, numel] {
      MlpOptions o;
      o.in = nz_;
      o.hidden = cfg_int(cfg_, "hidden");
      o.layers = cfg_int(cfg_, "layers");
      o.out = numel;
      o.act = Act::ReLU;
      if (images()) {
        o.tanh_out = true;
        o.out_shape = {spec_.channels, spec_.image_size, spec_.image_size};
      }
      return std::static_pointer_cast<nn::Module>(mlp(o, "MLP generator"));
    };
    MlpOptions d;
    d.in = numel;
    d.hidden = cfg_int(cfg_, "hidden");
    d.layers = cfg_int(cfg_, "layers");
    d.out = 1;
    d.act = Act::LeakyReLU;
    d.dropout = cfg_num(cfg_, "dropout");
    d.gen = &rng_;
    d.flatten_input = images();
    setup(make_g, mlp(d, "MLP discriminator"), Init::Default, /*conv_g=*/false);
    const double momentum = cfg_num(cfg_, "momentum");
    set_optimizers(std::make_unique<optim::SGD>(prefixed_parameters("G", *G_),
                                                optim::SGDOptions{.lr = cfg_num(cfg_, "lr_g"), .momentum = momentum}),
                   std::make_unique<optim::SGD>(prefixed_parameters("D", *D_),
                                                optim::SGDOptions{.lr = cfg_num(cfg_, "lr_d"), .momentum = momentum}));
  }

  Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) override {
    Tensor loss_d, real_logits, fake_logits;
    int64_t n = 0;
    for (int64_t step = 0; step < k_; ++step) {
      const Tensor real = next_batch().first;
      n = real.shape()[0];
      const Tensor z = latent(n, rng_);
      opt_d_->zero_grad();
      real_logits = (*D_)(d_in(real));
      Tensor fake;
      {
        NoGradGuard no_grad;  // D's step needs no graph through G
        fake = generate(z);
      }
      fake_logits = (*D_)(d_in(fake));
      loss_d = F::bce_with_logits(real_logits, real_targets(real_logits, smoothing_)) +
               F::bce_with_logits(fake_logits, zeros_like(fake_logits));
      loss_d.backward();
      opt_d_->step();
    }
    opt_g_->zero_grad();
    const Tensor logits = (*D_)(d_in(generate(latent(n, rng_))));
    // Minimax: minimize log(1 - D(G(z))) = -BCE(logits, 0). Non-saturating: minimize -log D(G(z)) = BCE(logits, 1).
    const Tensor loss_g = minimax_ ? -F::bce_with_logits(logits, zeros_like(logits))
                                   : F::bce_with_logits(logits, ones_like(logits));
    loss_g.backward();
    opt_g_->step();
    after_g_step();
    return {{"loss_d", loss_d},
            {"loss_g", loss_g},
            {"d_real", mean_probability(real_logits)},
            {"d_fake", mean_probability(fake_logits)}};
  }

 private:
  static bool parse_loss(const std::string& s) {
    if (s == "minimax") return true;
    if (s == "non-saturating") return false;
    throw std::invalid_argument("gan: flag 'loss' must be minimax or non-saturating, got '" + s + "'");
  }

  int64_t k_;
  bool minimax_;
};

}  // namespace

ModelEntry gan_entry() {
  ModelEntry e;
  e.name = "gan";
  e.description = "vanilla GAN (Goodfellow 2014): MLPs, k D steps per G step, dropout in D, SGD with momentum";
  e.flags = adversarial_flags({.nz = 100, .hidden = 512, .layers = 2, .lr_g = 0.1, .lr_d = 0.1, .conv = false, .adam = false});
  e.flags.push_back({"k", 1, "discriminator steps per generator step"});
  e.flags.push_back({"momentum", 0.5, "SGD momentum"});
  e.flags.push_back({"dropout", 0.5, "dropout probability after each hidden layer of D"});
  e.flags.push_back({"loss", "non-saturating", "generator loss: non-saturating (-log D(G(z))) or minimax"});
  e.check_data = [](const data::DataSpec& s) -> std::string {
    // MLPs take any image size.
    if (s.kind == data::ExampleKind::Image && s.image_size > 0 && s.channels > 0) return "";
    return check_images_or_points("gan", s);
  };
  e.create = [](const ModelContext& ctx) -> std::unique_ptr<GanModel> { return std::make_unique<VanillaGan>(ctx); };
  return e;
}

}  // namespace gan::models
