// WGAN (Arjovsky, Chintala, Bottou 2017): a critic scoring realness without a sigmoid, trained n_critic times per
// generator step (each on its own batch) on mean(D(fake)) - mean(D(real)), its weights clipped to [-c, c] after
// every update; RMSProp 5e-5 for both networks. On images the critic is the DCGAN discriminator (batch norm
// included, as in the paper); on points an MLP. The paper's 100 critic steps during the first 25 generator steps
// and every 500th are not done: every iteration takes n_critic steps.
#include <stdexcept>

#include "engine/optim/optimizers.h"
#include "models/adversarial.h"

namespace gan::models {

namespace F = nn::functional;

namespace {

class Wgan : public AdversarialModel {
 public:
  explicit Wgan(const ModelContext& ctx)
      : AdversarialModel("wgan", ctx), n_critic_(cfg_int(cfg_, "n_critic")), clip_(cfg_num(cfg_, "clip")) {
    if (n_critic_ < 1) throw std::invalid_argument("wgan: n_critic must be >= 1, got " + std::to_string(n_critic_));
    if (clip_ <= 0) throw std::invalid_argument("wgan: clip must be positive, got " + std::to_string(clip_));
    setup([this] { return standard_generator(nz_); }, standard_discriminator(0, Norm::Batch),
          images() ? Init::Dcgan : Init::Default, images());
    auto rms = [](optim::NamedTensors p, double lr) {
      return std::make_unique<optim::RMSprop>(std::move(p), optim::RMSpropOptions{.lr = lr});
    };
    set_optimizers(rms(prefixed_parameters("G", *G_), cfg_num(cfg_, "lr_g")),
                   rms(prefixed_parameters("D", *D_), cfg_num(cfg_, "lr_d")));
  }

  Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) override {
    Tensor loss_d;
    int64_t n = 0;
    for (int64_t step = 0; step < n_critic_; ++step) {
      const Tensor real = next_batch().first;
      n = real.shape()[0];
      Tensor fake;
      {
        NoGradGuard no_grad;
        fake = generate(latent(n, rng_));
      }
      opt_d_->zero_grad();
      loss_d = F::wasserstein_critic_loss((*D_)(d_in(real)), (*D_)(d_in(fake)));
      loss_d.backward();
      opt_d_->step();
      optim::clip_weights_(D_->named_parameters(), clip_);
    }
    opt_g_->zero_grad();
    const Tensor loss_g = F::wasserstein_generator_loss((*D_)(d_in(generate(latent(n, rng_)))));
    loss_g.backward();
    opt_g_->step();
    after_g_step();
    // -loss_d estimates the Wasserstein-1 distance (up to the critic's Lipschitz constant).
    return {{"loss_d", loss_d}, {"loss_g", loss_g}, {"wdist", neg(loss_d.detach())}};
  }

 private:
  int64_t n_critic_;
  double clip_;
};

}  // namespace

ModelEntry wgan_entry() {
  ModelEntry e;
  e.name = "wgan";
  e.description = "WGAN (Arjovsky 2017): critic with weight clipping 0.01, n_critic 5, RMSProp 5e-5";
  e.flags = adversarial_flags({.lr_g = 5e-5, .lr_d = 5e-5, .adam = false, .label_smoothing = false});
  e.flags.push_back({"n_critic", 5, "critic steps per generator step"});
  e.flags.push_back({"clip", 0.01, "critic weights are clipped to [-clip, clip]"});
  e.check_data = [](const data::DataSpec& s) { return check_images_or_points("wgan", s); };
  e.create = [](const ModelContext& ctx) -> std::unique_ptr<GanModel> { return std::make_unique<Wgan>(ctx); };
  return e;
}

}  // namespace gan::models
