// LSGAN (Mao et al. 2017): least-squares losses in place of the cross-entropy. With the a-b-c coding (fake label
// a, real label b, the value G wants D to give fakes c): D minimizes 1/2 (D(x) - b)^2 + 1/2 (D(G(z)) - a)^2 and G
// minimizes 1/2 (D(G(z)) - c)^2. --coding "-1,1,0" (the paper's first choice, default) or "0,1,1". DCGAN
// networks (MLPs on points), Adam 2e-4 (beta1 0.5).
#include <sstream>
#include <stdexcept>

#include "models/adversarial.h"

namespace gan::models {

namespace F = nn::functional;

namespace {

class Lsgan : public AdversarialModel {
 public:
  explicit Lsgan(const ModelContext& ctx) : AdversarialModel("lsgan", ctx) {
    parse_coding(cfg_str(cfg_, "coding"));
    setup([this] { return standard_generator(nz_); }, standard_discriminator(0, Norm::Batch),
          images() ? Init::Dcgan : Init::Default, images());
    set_optimizers(adam(prefixed_parameters("G", *G_), cfg_num(cfg_, "lr_g")),
                   adam(prefixed_parameters("D", *D_), cfg_num(cfg_, "lr_d")));
  }

  Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) override {
    const Tensor real = next_batch().first;
    const Tensor z = latent(real.shape()[0], rng_);
    opt_d_->zero_grad();
    const Tensor real_scores = (*D_)(d_in(real));
    const Tensor fake = generate(z);
    const Tensor fake_scores = (*D_)(d_in(fake.detach()));
    const Tensor loss_d = (F::mse_loss(real_scores, full_like(real_scores, b_)) +
                           F::mse_loss(fake_scores, full_like(fake_scores, a_))) * 0.5;
    loss_d.backward();
    opt_d_->step();
    opt_g_->zero_grad();
    const Tensor scores = (*D_)(d_in(fake));
    const Tensor loss_g = F::mse_loss(scores, full_like(scores, c_)) * 0.5;
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
  void parse_coding(const std::string& text) {
    std::istringstream in(text);
    char c1 = 0, c2 = 0;
    if (!(in >> a_ >> c1 >> b_ >> c2 >> c_) || c1 != ',' || c2 != ',' || !(in >> std::ws).eof())
      throw std::invalid_argument("lsgan: flag 'coding' must be three numbers a,b,c (fake, real, G's target), got '" +
                                  text + "'");
    if (a_ == b_) throw std::invalid_argument("lsgan: coding '" + text + "' gives real and fake the same label");
  }

  double a_ = -1, b_ = 1, c_ = 0;
};

}  // namespace

ModelEntry lsgan_entry() {
  ModelEntry e;
  e.name = "lsgan";
  e.description = "LSGAN (Mao 2017): least-squares losses (a=-1, b=1, c=0 or 0-1 coding), DCGAN networks";
  e.flags = adversarial_flags({.lr_g = 2e-4, .lr_d = 2e-4, .beta1 = 0.5, .beta2 = 0.999, .label_smoothing = false});
  e.flags.push_back({"coding", "-1,1,0", "a,b,c: fake label, real label, G's target for fakes (or 0,1,1)"});
  e.check_data = [](const data::DataSpec& s) { return check_images_or_points("lsgan", s); };
  e.create = [](const ModelContext& ctx) -> std::unique_ptr<GanModel> { return std::make_unique<Lsgan>(ctx); };
  return e;
}

}  // namespace gan::models
