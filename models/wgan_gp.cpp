// WGAN-GP (Gulrajani et al. 2017): the WGAN critic loss plus lambda E[(||grad_x D(x_hat)||_2 - 1)^2] at
// x_hat = eps real + (1 - eps) fake with one eps ~ U(0, 1) per sample; n_critic 5, lambda 10, Adam 1e-4 with
// betas (0, 0.9). The penalty differentiates D's input gradient (double backward) per sample, so the critic has
// no batch norm, which would couple the samples: layer norm over each conv layer's [C, H, W] (the paper's
// suggestion) or none (--critic_norm none).
#include <stdexcept>

#include "models/adversarial.h"

namespace gan::models {

namespace F = nn::functional;

namespace {

class WganGp : public AdversarialModel {
 public:
  explicit WganGp(const ModelContext& ctx)
      : AdversarialModel("wgan-gp", ctx), n_critic_(cfg_int(cfg_, "n_critic")), lambda_(cfg_num(cfg_, "gp_lambda")) {
    if (n_critic_ < 1) throw std::invalid_argument("wgan-gp: n_critic must be >= 1, got " + std::to_string(n_critic_));
    const Norm norm = parse_norm(cfg_str(cfg_, "critic_norm"), "critic_norm");
    if (norm == Norm::Batch)
      throw std::invalid_argument(
          "wgan-gp: critic_norm batch is not allowed: batch norm couples the samples of a batch, so the penalty on "
          "each sample's gradient would no longer be per sample (Gulrajani et al. 2017, section 4); use layer or none");
    setup([this] { return standard_generator(nz_); }, standard_discriminator(0, norm),
          images() ? Init::Dcgan : Init::Default, images());
    set_optimizers(adam(prefixed_parameters("G", *G_), cfg_num(cfg_, "lr_g")),
                   adam(prefixed_parameters("D", *D_), cfg_num(cfg_, "lr_d")));
  }

  Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) override {
    Tensor loss_d, gp, wloss;
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
      wloss = F::wasserstein_critic_loss((*D_)(d_in(real)), (*D_)(d_in(fake)));
      gp = penalty(real, fake);
      loss_d = wloss + gp;
      loss_d.backward();
      opt_d_->step();
    }
    opt_g_->zero_grad();
    const Tensor loss_g = F::wasserstein_generator_loss((*D_)(d_in(generate(latent(n, rng_)))));
    loss_g.backward();
    opt_g_->step();
    after_g_step();
    return {{"loss_d", loss_d}, {"loss_g", loss_g}, {"wdist", neg(wloss.detach())}, {"gp", gp}};
  }

 private:
  Tensor penalty(const Tensor& real, const Tensor& fake) {
    Shape eps_shape(static_cast<size_t>(real.dim()), 1);
    eps_shape[0] = real.shape()[0];
    const Tensor eps = uniform_noise(eps_shape, rng_, device_, 0.0, 1.0);
    Tensor x_hat = (eps * real + (1.0 - eps) * fake).detach();
    x_hat.requires_grad_(true);
    const Tensor scores = (*D_)(x_hat);
    const Tensor g = grad({scores}, {x_hat}, {ones_like(scores)}, /*create_graph=*/true)[0];
    std::vector<int64_t> dims;
    for (int64_t d = 1; d < g.dim(); ++d) dims.push_back(d);
    const Tensor norm = sqrt(sum(g * g, dims) + 1e-12);  // the epsilon keeps sqrt's derivative finite at 0
    return mean(pow(norm - 1.0, 2.0)) * lambda_;
  }

  int64_t n_critic_;
  double lambda_;
};

}  // namespace

ModelEntry wgan_gp_entry() {
  ModelEntry e;
  e.name = "wgan-gp";
  e.description = "WGAN-GP (Gulrajani 2017): gradient penalty 10 at per-sample interpolates, Adam 1e-4 (0, 0.9)";
  e.flags = adversarial_flags({.lr_g = 1e-4, .lr_d = 1e-4, .beta1 = 0.0, .beta2 = 0.9, .label_smoothing = false});
  e.flags.push_back({"n_critic", 5, "critic steps per generator step"});
  e.flags.push_back({"gp_lambda", 10.0, "gradient penalty weight"});
  e.flags.push_back({"critic_norm", "layer", "critic normalization: layer or none (no batch norm with a penalty)"});
  e.check_data = [](const data::DataSpec& s) { return check_images_or_points("wgan-gp", s); };
  e.create = [](const ModelContext& ctx) -> std::unique_ptr<GanModel> { return std::make_unique<WganGp>(ctx); };
  return e;
}

}  // namespace gan::models
