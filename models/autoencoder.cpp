// Encoder E: images -> the DCGAN conv body, then a linear layer; points -> an MLP. It outputs the latent code
// (ae) or its Gaussian's mean and log-variance (vae, 2 nz values). Decoder G: the DCGAN transposed-conv generator
// (points: an MLP) producing raw outputs that the reconstruction loss reads:
//   recon bce (images, Kingma's Bernoulli decoder): pixels mapped to [0, 1] are the targets of
//        BCE-with-logits; the image is sigmoid(raw) mapped back to [-1, 1], i.e. tanh(raw / 2).
//   recon mse: the image is tanh(raw) (points: raw), the loss the squared error (a Gaussian decoder of fixed
//        variance 1/2).
// Both are summed over an example's values and averaged over the batch, so they weigh against the KL term
// (kl_normal: summed over latent dims, averaged over the batch) as in the ELBO. The paper's Adagrad is replaced by
// Adam 1e-3. State: "E.", "G." and the one optimizer under "opt.". ae's samples decode N(0, I) codes, which the
// autoencoder never learned to match: they show why a plain autoencoder is not a generative model.
#include "models/autoencoder.h"

#include <stdexcept>

#include "engine/optim/optimizers.h"
#include "models/common.h"

namespace gan::models {

namespace F = nn::functional;

namespace {

class Autoencoder : public ZooModel {
 public:
  Autoencoder(const ModelContext& ctx, bool variational)
      : ZooModel(variational ? "vae" : "ae", ctx), vae_(variational), nz_(cfg_int(cfg_, "nz")) {
    if (nz_ <= 0) throw std::invalid_argument(name_ + ": nz must be positive, got " + std::to_string(nz_));
    const std::string recon = cfg_str(cfg_, "recon");
    if (recon == "auto") bce_ = images();
    else if (recon == "bce") bce_ = true;
    else if (recon == "mse") bce_ = false;
    else throw std::invalid_argument(name_ + ": flag 'recon' must be auto, bce or mse, got '" + recon + "'");
    if (bce_ && !images())
      throw std::invalid_argument(name_ + ": recon bce needs images in [-1, 1]; point data takes recon mse");
    const int64_t code = vae_ ? 2 * nz_ : nz_;
    if (images()) {
      const int64_t S = spec_.image_size, nf = cfg_int(cfg_, "nf");
      E_ = conv_discriminator(spec_.channels, S, nf, Norm::Batch, /*head=*/false);
      E_->net->add(std::make_shared<nn::Flatten>());
      const int64_t base = conv_feature_size(S);
      E_->net->add(std::make_shared<nn::Linear>(conv_feature_channels(S, nf) * base * base, code));
      G_ = conv_generator(nz_, spec_.channels, S, nf, Norm::Batch, /*tanh_out=*/false);
    } else {
      MlpOptions o;
      o.hidden = cfg_int(cfg_, "hidden");
      o.layers = cfg_int(cfg_, "layers");
      o.in = spec_.point_dim;
      o.out = code;
      E_ = mlp(o, "MLP encoder");
      o.in = nz_;
      o.out = spec_.point_dim;
      G_ = mlp(o, "MLP decoder");
    }
    init_weights(*E_, Init::Default, rng_);
    init_weights(*G_, Init::Default, rng_);
    module_to(*E_, device_);
    module_to(*G_, device_);
    add_net("E", E_.get());
    add_net("G", G_.get());
    optim::NamedTensors params;
    for (auto& [n, t] : E_->named_parameters()) params.emplace_back("E." + n, t);
    for (auto& [n, t] : G_->named_parameters()) params.emplace_back("G." + n, t);
    opt_ = std::make_unique<optim::Adam>(params, optim::AdamOptions{.lr = cfg_num(cfg_, "lr")});
    add_optimizer("opt", opt_.get());
  }

  Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) override {
    const Tensor x = next_batch().first;
    opt_->zero_grad();
    const Tensor h = (*E_)(x);
    Tensor z, kl;
    if (vae_) {
      const Tensor mu = narrow(h, 1, 0, nz_), logvar = narrow(h, 1, nz_, nz_);
      // Reparameterization: z = mu + sigma * eps keeps z differentiable in mu and logvar.
      z = mu + exp(logvar * 0.5) * normal_noise(mu.shape(), rng_, device_);
      kl = F::kl_normal(mu, logvar);
    } else {
      z = h;
    }
    const Tensor recon = recon_loss(decode_raw(z), x);
    const Tensor loss = vae_ ? recon + kl * cfg_num(cfg_, "beta") : recon;
    loss.backward();
    opt_->step();
    Metrics out = {{"loss", loss}, {"recon", recon}};
    if (vae_) out.emplace_back("kl", kl);
    return out;
  }

  SampleGrid sample(int64_t n, Generator& gen) override {
    auto [rows, cols] = images() ? grid_shape(n) : std::pair<int64_t, int64_t>{1, std::max<int64_t>(n, 1)};
    return grid(normal_noise({rows * cols, nz_}, gen, device_), rows, cols, {});
  }

  SampleGrid interpolate(int64_t rows, int64_t steps, Generator& gen) override {
    const Tensor a = normal_noise({rows, nz_}, gen, device_), b = normal_noise({rows, nz_}, gen, device_);
    return grid(lerp_rows(a, b, steps), rows, steps, {});
  }

  bool can_reconstruct() const override { return true; }
  GeneratorNet generator_net() const override {
    return {G_.get(), bce_ ? "tanh(0.5 * y)" : images() ? "tanh(y)" : ""};  // as to_output()
  }

  SampleGrid reconstruct(const Tensor& examples) override {
    EvalScope scope({E_.get(), G_.get()});
    const Tensor h = (*E_)(examples);
    const Tensor z = vae_ ? narrow(h, 1, 0, nz_) : h;  // the VAE's mean code
    SampleGrid g;
    g.images = concat({examples, to_output(decode_raw(z))}, 0).to(Device::cpu()).contiguous();
    g.rows = 2;
    g.cols = examples.shape()[0];
    g.row_labels = {"input", "reconstruction"};
    return g;
  }

 private:
  bool images() const { return spec_.kind == data::ExampleKind::Image; }

  Tensor decode_raw(const Tensor& z) {
    return (*G_)(images() ? reshape(z, {z.shape()[0], nz_, 1, 1}) : z);
  }

  Tensor to_output(const Tensor& raw) const {
    if (bce_) return tanh(raw * 0.5);
    return images() ? tanh(raw) : raw;
  }

  Tensor recon_loss(const Tensor& raw, const Tensor& x) const {
    const double per_example = static_cast<double>(spec_.example_numel());
    if (bce_) return F::bce_with_logits(raw, (x + 1.0) * 0.5) * per_example;
    return F::mse_loss(to_output(raw), x) * per_example;
  }

  SampleGrid grid(const Tensor& z, int64_t rows, int64_t cols, std::vector<std::string> labels) {
    EvalScope scope({E_.get(), G_.get()});
    SampleGrid g;
    g.images = to_output(decode_raw(z)).to(Device::cpu()).contiguous();
    g.rows = rows;
    g.cols = cols;
    g.row_labels = std::move(labels);
    return g;
  }

  bool vae_;
  int64_t nz_;
  bool bce_ = true;
  std::shared_ptr<SequentialNet> E_, G_;
  std::unique_ptr<optim::Adam> opt_;
};

}  // namespace

std::vector<FlagSpec> autoencoder_flags(bool variational) {
  std::vector<FlagSpec> f = {
      {"nz", 20, "latent size"},
      {"nf", 32, "conv width of encoder and decoder (images)"},
      {"hidden", 256, "MLP width (point data)"},
      {"layers", 2, "MLP hidden layers (point data)"},
      {"lr", 1e-3, "Adam learning rate"},
      {"recon", "auto", "reconstruction loss: bce (images, Bernoulli decoder), mse, or auto (bce for images)"},
  };
  if (variational) f.push_back({"beta", 1.0, "weight of the KL term (1: the ELBO)"});
  return f;
}

std::unique_ptr<GanModel> make_autoencoder(const ModelContext& ctx, bool variational) {
  return std::make_unique<Autoencoder>(ctx, variational);
}

}  // namespace gan::models
