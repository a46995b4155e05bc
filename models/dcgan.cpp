#include "models/dcgan.h"

#include <stdexcept>

#include "engine/nn/init.h"
#include "models/adversarial.h"
#include "models/common.h"
#include "models/model.h"

namespace gan::models {

namespace F = nn::functional;

namespace {

void check(const DcganConfig& c) {
  if (c.image_size != 28 && c.image_size != 32 && c.image_size != 64)
    throw std::invalid_argument("dcgan: image_size must be 28, 32 or 64, got " + std::to_string(c.image_size));
  if (c.nz <= 0 || c.ngf <= 0 || c.ndf <= 0 || c.nc <= 0)
    throw std::invalid_argument("dcgan: nz, ngf, ndf and nc must be positive");
}

}  // namespace

// The builders live in models/common.cpp (shared by the zoo); with batch norm they produce exactly these layers.
std::shared_ptr<SequentialNet> dcgan_generator(const DcganConfig& c) {
  check(c);
  auto g = conv_generator(c.nz, c.nc, c.image_size, c.ngf, Norm::Batch, true, c.fuse_bn_activation, c.dtype);
  nn::init::dcgan_(*g);
  return g;
}

std::shared_ptr<SequentialNet> dcgan_discriminator(const DcganConfig& c) {
  check(c);
  auto d = conv_discriminator(c.nc, c.image_size, c.ndf, Norm::Batch, true, c.fuse_bn_activation, c.dtype);
  nn::init::dcgan_(*d);
  return d;
}

DcganStepLosses dcgan_train_step(nn::Module& G, nn::Module& D, optim::Optimizer& opt_g, optim::Optimizer& opt_d,
                                 const Tensor& real, const Tensor& z) {
  DcganStepLosses out;
  // Discriminator: real -> 1, fake -> 0. The fake batch is detached so this step leaves G's graph alone.
  opt_d.zero_grad();
  const Tensor real_logits = D(real);
  const Tensor loss_real = F::bce_with_logits(real_logits, ones_like(real_logits));
  const Tensor fake = G(z);
  const Tensor fake_logits = D(fake.detach());
  const Tensor loss_fake = F::bce_with_logits(fake_logits, zeros_like(fake_logits));
  (loss_real + loss_fake).backward();
  opt_d.step();
  // Generator: make D call the fakes real, through the updated D.
  opt_g.zero_grad();
  const Tensor logits = D(fake);
  const Tensor loss_g = F::bce_with_logits(logits, ones_like(logits));
  loss_g.backward();
  opt_g.step();
  out.d_real = loss_real;
  out.d_fake = loss_fake;
  out.g = loss_g;
  return out;
}

// ---- the zoo entry ----
namespace {

// Radford 2015: the networks above, Adam 2e-4 (beta1 0.5), N(0, 0.02) init, the non-saturating BCE loss.
class DcganModel : public AdversarialModel {
 public:
  explicit DcganModel(const ModelContext& ctx) : AdversarialModel("dcgan", ctx) {
    setup([this] { return standard_generator(nz_); }, standard_discriminator(0, Norm::Batch), Init::Dcgan, true);
    set_optimizers(adam(prefixed_parameters("G", *G_), cfg_num(cfg_, "lr_g")),
                   adam(prefixed_parameters("D", *D_), cfg_num(cfg_, "lr_d")));
  }

  Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) override {
    const Tensor real = next_batch().first;
    const Tensor z = latent(real.shape()[0], rng_);
    // Discriminator: real -> 1 (or 1 - smoothing), fake -> 0; the fakes are detached. On R1 steps the real batch
    // is a grad-requiring copy, so the penalty differentiates D's logits with respect to it.
    opt_d_->zero_grad();
    const bool r1 = r1_due();
    const Tensor real_in = r1 ? r1_input(real) : real;
    const Tensor real_logits = (*D_)(d_in(real_in));
    const Tensor fake = generate(z);
    const Tensor fake_logits = (*D_)(d_in(fake.detach()));
    Tensor loss_d = F::bce_with_logits(real_logits, real_targets(real_logits, smoothing_)) +
                    F::bce_with_logits(fake_logits, zeros_like(fake_logits));
    const Tensor penalty = r1 ? add_r1(loss_d, real_logits, real_in) : Tensor();
    loss_d.backward();
    opt_d_->step();
    // Generator: make the updated D call the fakes real.
    opt_g_->zero_grad();
    const Tensor logits = (*D_)(d_in(fake));
    const Tensor loss_g = F::bce_with_logits(logits, ones_like(logits));
    loss_g.backward();
    opt_g_->step();
    after_g_step();
    Metrics m = {{"loss_d", loss_d},
                 {"loss_g", loss_g},
                 {"d_real", mean_probability(real_logits)},
                 {"d_fake", mean_probability(fake_logits)}};
    if (penalty.defined()) m.emplace_back("r1", penalty);
    return m;
  }
};

}  // namespace

ModelEntry dcgan_entry() {
  ModelEntry e;
  e.name = "dcgan";
  e.description = "DCGAN (Radford 2015): transposed-conv G, strided-conv D with batch norm, Adam 2e-4; 28/32/64 px";
  e.flags = adversarial_flags({.nz = 100, .lr_g = 2e-4, .lr_d = 2e-4, .beta1 = 0.5, .beta2 = 0.999, .r1 = true});
  e.check_data = [](const data::DataSpec& s) { return check_images("dcgan", s); };
  e.create = [](const ModelContext& ctx) -> std::unique_ptr<GanModel> { return std::make_unique<DcganModel>(ctx); };
  return e;
}

}  // namespace gan::models
