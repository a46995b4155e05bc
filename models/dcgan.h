// DCGAN (Radford, Metz, Chintala 2015): a transposed-conv generator with batch norm + ReLU and a tanh output, and
// a strided-conv discriminator with LeakyReLU(0.2) and batch norm that outputs logits (the sigmoid lives in the
// fused BCE-with-logits loss). Layer indices match PyTorch's reference nn.Sequential, so "G.net.3.weight" means
// the same tensor in both; an activation fused into the batch norm before it keeps its slot as a FusedActivation.
#pragma once

#include <memory>

#include "engine/nn/layers.h"
#include "models/model.h"
#include "engine/optim/optimizer.h"

namespace gan::models {

struct DcganConfig {
  int64_t nz = 100;          // latent size
  int64_t ngf = 64;          // generator width
  int64_t ndf = 64;          // discriminator width
  int64_t nc = 3;            // image channels
  int64_t image_size = 64;   // 28 (7x7 start: 7 -> 14 -> 28), 32 or 64 (4x4 start)
  bool fuse_bn_activation = true;
  DType dtype = DType::Float32;
};

// Holds the place of an activation that the preceding BatchNorm computes (fused); forward is the identity.
class FusedActivation : public nn::Module {
 public:
  explicit FusedActivation(std::string what) : what_(std::move(what)) {}
  Tensor forward(const Tensor& x) override { return x; }
  std::string describe() const override { return what_ + " (fused into the batch norm before)"; }

 private:
  std::string what_;
};

// A module holding one Sequential as "net" (PyTorch's common `self.net = nn.Sequential(...)`).
class SequentialNet : public nn::Module {
 public:
  explicit SequentialNet(std::string name) : name_(std::move(name)) { net = register_module("net", std::make_shared<nn::Sequential>()); }
  Tensor forward(const Tensor& x) override { return net->forward(x); }
  std::string describe() const override { return name_; }
  std::shared_ptr<nn::Sequential> net;

 private:
  std::string name_;
};

// z [N, nz, 1, 1] -> images [N, nc, S, S] in [-1, 1].
std::shared_ptr<SequentialNet> dcgan_generator(const DcganConfig& cfg);
// images [N, nc, S, S] -> logits [N].
std::shared_ptr<SequentialNet> dcgan_discriminator(const DcganConfig& cfg);

// The losses of one DCGAN iteration (Radford 2015, with the non-saturating generator loss), as 0-d tensors on the
// models' device (models/model.h: reading one waits for the device).
struct DcganStepLosses {
  Metric d_real;  // BCE(D(x), 1)
  Metric d_fake;  // BCE(D(G(z)), 0)
  Metric g;       // BCE(D(G(z)), 1)
};

// One full iteration: a discriminator step on real and fake (fake detached), then a generator step through the
// updated discriminator, each with its own optimizer. `real` is [N, nc, S, S] in [-1, 1], `z` is [N, nz, 1, 1].
DcganStepLosses dcgan_train_step(nn::Module& G, nn::Module& D, optim::Optimizer& opt_g, optim::Optimizer& opt_d,
                                 const Tensor& real, const Tensor& z);

}  // namespace gan::models
