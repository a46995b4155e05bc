#include "models/dcgan.h"

#include <stdexcept>

#include "engine/nn/init.h"

namespace gan::models {

namespace F = nn::functional;

namespace {

void check(const DcganConfig& c) {
  if (c.image_size != 32 && c.image_size != 64)
    throw std::invalid_argument("dcgan: image_size must be 32 or 64, got " + std::to_string(c.image_size));
  if (c.nz <= 0 || c.ngf <= 0 || c.ndf <= 0 || c.nc <= 0)
    throw std::invalid_argument("dcgan: nz, ngf, ndf and nc must be positive");
}

// BatchNorm2d followed by its activation, fused or as a separate module (same indices either way).
void bn_act(nn::Sequential& net, int64_t ch, F::ActivationArgs act, DType dtype, bool fuse) {
  const bool relu = act.kind == F::Activation::ReLU;
  if (fuse) {
    net.add(std::make_shared<nn::BatchNorm2d>(ch, 1e-5, 0.1, true, true, act, dtype));
    net.add(std::make_shared<FusedActivation>(relu ? "ReLU" : "LeakyReLU(0.2)"));
  } else {
    net.add(std::make_shared<nn::BatchNorm2d>(ch, 1e-5, 0.1, true, true, F::ActivationArgs{}, dtype));
    if (relu) net.add(std::make_shared<nn::ReLU>());
    else net.add(std::make_shared<nn::LeakyReLU>(act.negative_slope));
  }
}

}  // namespace

std::shared_ptr<SequentialNet> dcgan_generator(const DcganConfig& c) {
  check(c);
  auto g = std::make_shared<SequentialNet>("DCGAN generator");
  nn::Sequential& net = *g->net;
  const F::ActivationArgs relu{F::Activation::ReLU};
  // 1x1 -> 4x4, then doubling to the image size; widths halve on the way.
  int64_t width = c.ngf * (c.image_size == 64 ? 8 : 4);
  net.add(std::make_shared<nn::ConvTranspose2d>(c.nz, width, 4, 1, 0, 0, false, c.dtype));
  bn_act(net, width, relu, c.dtype, c.fuse_bn_activation);
  for (int64_t size = 4; size * 2 < c.image_size; size *= 2) {
    net.add(std::make_shared<nn::ConvTranspose2d>(width, width / 2, 4, 2, 1, 0, false, c.dtype));
    bn_act(net, width / 2, relu, c.dtype, c.fuse_bn_activation);
    width /= 2;
  }
  net.add(std::make_shared<nn::ConvTranspose2d>(width, c.nc, 4, 2, 1, 0, false, c.dtype));
  net.add(std::make_shared<nn::Tanh>());
  nn::init::dcgan_(*g);
  return g;
}

std::shared_ptr<SequentialNet> dcgan_discriminator(const DcganConfig& c) {
  check(c);
  auto d = std::make_shared<SequentialNet>("DCGAN discriminator");
  nn::Sequential& net = *d->net;
  const F::ActivationArgs leaky{F::Activation::LeakyReLU, 0.2};
  int64_t width = c.ndf;
  net.add(std::make_shared<nn::Conv2d>(c.nc, width, 4, 2, 1, false, c.dtype));
  net.add(std::make_shared<nn::LeakyReLU>(0.2));
  for (int64_t size = c.image_size / 2; size > 4; size /= 2) {
    net.add(std::make_shared<nn::Conv2d>(width, width * 2, 4, 2, 1, false, c.dtype));
    bn_act(net, width * 2, leaky, c.dtype, c.fuse_bn_activation);
    width *= 2;
  }
  net.add(std::make_shared<nn::Conv2d>(width, 1, 4, 1, 0, false, c.dtype));
  net.add(std::make_shared<nn::Flatten>());
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
  out.d_real = loss_real.item();
  out.d_fake = loss_fake.item();
  out.g = loss_g.item();
  return out;
}

}  // namespace gan::models
