// InfoGAN (Chen et al. 2016): G's input is noise z plus a latent code c (one categorical code with n_cat values
// and n_cont continuous codes ~ U(-1, 1)); a Q head sharing D's conv body predicts c from an image, and both G
// and Q minimize lambda * (cross-entropy of the categorical code + Gaussian NLL of the continuous ones, unit
// variance), a lower bound on the mutual information I(c; G(z, c)). D (body + head) and Q are updated together
// by opt_d on the adversarial loss plus the info loss on detached fakes; G by opt_g on its adversarial loss plus
// the info loss. Adam 2e-4 for D/Q and 1e-3 for G (beta1 0.5), z of 62 as in the paper's MNIST model.
// Sample grids vary one code per row.
#include <cmath>
#include <stdexcept>

#include "models/adversarial.h"

namespace gan::models {

namespace F = nn::functional;

namespace {

class Infogan : public AdversarialModel {
 public:
  explicit Infogan(const ModelContext& ctx)
      : AdversarialModel("infogan", ctx),
        n_cat_(cfg_int(cfg_, "n_cat")),
        n_cont_(cfg_int(cfg_, "n_cont")),
        lambda_(cfg_num(cfg_, "info_lambda")) {
    if (n_cat_ < 1 || n_cont_ < 0)
      throw std::invalid_argument("infogan: need n_cat >= 1 and n_cont >= 0, got " + std::to_string(n_cat_) + " and " +
                                  std::to_string(n_cont_));
    const int64_t S = spec_.image_size, ndf = cfg_int(cfg_, "ndf");
    const int64_t feat_ch = conv_feature_channels(S, ndf), base = conv_feature_size(S);
    auto d = std::make_shared<NetGroup>("InfoGAN discriminator");
    body_ = d->add("body", conv_discriminator(spec_.channels, S, ndf, Norm::Batch, /*head=*/false));
    head_ = d->add("head", std::make_shared<SequentialNet>("D head"));
    head_->net->add(std::make_shared<nn::Conv2d>(feat_ch, 1, base, 1, 0, false));
    head_->net->add(std::make_shared<nn::Flatten>());
    setup([this] { return standard_generator(nz_ + n_cat_ + n_cont_); }, d, Init::Dcgan, true);
    // Q: features -> hidden -> categorical logits and continuous means.
    Q_ = std::make_shared<SequentialNet>("InfoGAN Q head");
    Q_->net->add(std::make_shared<nn::Flatten>());
    Q_->net->add(std::make_shared<nn::Linear>(feat_ch * base * base, cfg_int(cfg_, "q_hidden")));
    Q_->net->add(std::make_shared<nn::LeakyReLU>(0.2));
    Q_->net->add(std::make_shared<nn::Linear>(cfg_int(cfg_, "q_hidden"), n_cat_ + n_cont_));
    init_weights(*Q_, Init::Dcgan, rng_);
    module_to(*Q_, device_);
    add_net("Q", Q_.get());
    optim::NamedTensors dq = prefixed_parameters("D", *D_);
    for (auto& p : prefixed_parameters("Q", *Q_)) dq.push_back(p);
    set_optimizers(adam(prefixed_parameters("G", *G_), cfg_num(cfg_, "lr_g")), adam(dq, cfg_num(cfg_, "lr_d")));
  }

  Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) override {
    const Tensor real = next_batch().first;
    const int64_t n = real.shape()[0];
    const Tensor cat = F::one_hot(random_labels(n, n_cat_, rng_, device_), n_cat_, DType::Float32);
    const Tensor cont = n_cont_ > 0 ? uniform_noise({n, n_cont_}, rng_, device_, -1.0, 1.0) : Tensor();
    std::vector<Tensor> g_in = {latent(n, rng_), cat};
    if (n_cont_ > 0) g_in.push_back(cont);
    const Tensor fake = generate(concat(g_in, 1));

    opt_d_->zero_grad();
    const Tensor real_logits = (*head_)((*body_)(d_in(real)));
    const Tensor fake_features = (*body_)(d_in(fake.detach()));
    const Tensor fake_logits = (*head_)(fake_features);
    const Tensor info_d = info_loss((*Q_)(fake_features), cat, cont);
    const Tensor loss_d = F::bce_with_logits(real_logits, real_targets(real_logits, smoothing_)) +
                          F::bce_with_logits(fake_logits, zeros_like(fake_logits)) + info_d * lambda_;
    loss_d.backward();
    opt_d_->step();

    opt_g_->zero_grad();
    const Tensor features = (*body_)(d_in(fake));
    const Tensor logits = (*head_)(features);
    const Tensor info_g = info_loss((*Q_)(features), cat, cont);
    const Tensor adv_g = F::bce_with_logits(logits, ones_like(logits));
    const Tensor loss_g = adv_g + info_g * lambda_;
    loss_g.backward();
    opt_g_->step();
    after_g_step();
    return {{"loss_d", loss_d},
            {"loss_g", loss_g},
            {"loss_info", info_g},
            {"d_real", mean_probability(real_logits)},
            {"d_fake", mean_probability(fake_logits)}};
  }

  // Rows 0..n_cat-1: categorical code = row, continuous codes 0, noise shared down each column. Then one row per
  // continuous code sweeping it from -2 to 2 (beyond the training range, as in the paper's figures) with one
  // noise draw and categorical code 0.
  SampleGrid sample(int64_t n, Generator& gen) override {
    const int64_t rows = n_cat_ + n_cont_;
    const int64_t cols = std::max<int64_t>(2, static_cast<int64_t>(std::llround(static_cast<double>(n) / rows)));
    const Tensor z = latent(cols, gen);
    std::vector<Tensor> parts;
    std::vector<std::string> labels;
    for (int64_t r = 0; r < n_cat_; ++r) {
      parts.push_back(codes(z, std::vector<int64_t>(static_cast<size_t>(cols), r), zeros({cols, n_cont_})));
      labels.push_back("cat " + std::to_string(r));
    }
    const Tensor z0 = expand(narrow(z, 0, 0, 1), {cols, nz_}).contiguous();
    for (int64_t j = 0; j < n_cont_; ++j) {
      std::vector<float> values(static_cast<size_t>(cols * n_cont_), 0.0f);
      for (int64_t c = 0; c < cols; ++c)
        values[c * n_cont_ + j] = static_cast<float>(-2.0 + 4.0 * static_cast<double>(c) / (cols - 1));
      parts.push_back(codes(z0, std::vector<int64_t>(static_cast<size_t>(cols), 0), from_vector(values, {cols, n_cont_})));
      labels.push_back("c" + std::to_string(j + 1) + " -2..2");
    }
    return grid_from(concat(parts, 0), rows, cols, labels);
  }

  // Row r walks between two noise draws with categorical code r mod n_cat and continuous codes 0.
  SampleGrid interpolate(int64_t rows, int64_t steps, Generator& gen) override {
    const Tensor a = latent(rows, gen), b = latent(rows, gen);
    std::vector<int64_t> cats;
    std::vector<std::string> labels;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t s = 0; s < steps; ++s) cats.push_back(r % n_cat_);
      labels.push_back("cat " + std::to_string(r % n_cat_));
    }
    return grid_from(codes(lerp_rows(a, b, steps), cats, zeros({rows * steps, n_cont_})), rows, steps, labels);
  }

 private:
  // cat: the categorical codes one-hot [N, n_cat]. Cross-entropy as the one-hot-weighted sum of log_softmax, and
  // the unit-variance Gaussian NLL as half the squared error: the same values as F::cross_entropy with class
  // indices and F::gaussian_nll_loss with var = 1, without their host-side checks of the targets and the variance
  // (each reads its tensor back, so the step would wait for the device and could not be a CUDA graph); the codes
  // are drawn here, in range by construction.
  Tensor info_loss(const Tensor& q, const Tensor& cat, const Tensor& cont) const {
    Tensor loss = neg(mean(sum(mul(cat, F::log_softmax(narrow(q, 1, 0, n_cat_), 1)), {1})));
    if (n_cont_ > 0) {
      const Tensor mu = narrow(q, 1, n_cat_, n_cont_);
      loss = loss + mul(F::mse_loss(mu, cont), 0.5);
    }
    return loss;
  }

  // G's input for noise z [m, nz], categorical codes (m values) and continuous codes [m, n_cont] (CPU).
  Tensor codes(const Tensor& z, const std::vector<int64_t>& cats, const Tensor& cont) const {
    Tensor c = from_vector(cats, {static_cast<int64_t>(cats.size())});
    if (!device_.is_cpu()) c = c.to(device_);
    std::vector<Tensor> parts = {z, F::one_hot(c, n_cat_, DType::Float32)};
    if (n_cont_ > 0) parts.push_back(device_.is_cpu() ? cont : cont.to(device_));
    return concat(parts, 1);
  }

  int64_t n_cat_, n_cont_;
  double lambda_;
  std::shared_ptr<SequentialNet> body_, head_, Q_;
};

}  // namespace

ModelEntry infogan_entry() {
  ModelEntry e;
  e.name = "infogan";
  e.description = "InfoGAN (Chen 2016): categorical (10) and continuous (2) codes, Q head on D's body, lambda 1";
  e.flags = adversarial_flags({.nz = 62, .lr_g = 1e-3, .lr_d = 2e-4, .beta1 = 0.5, .beta2 = 0.999});
  e.flags.push_back({"n_cat", 10, "values of the categorical code"});
  e.flags.push_back({"n_cont", 2, "continuous codes, each U(-1, 1)"});
  e.flags.push_back({"info_lambda", 1.0, "weight of the mutual-information term"});
  e.flags.push_back({"q_hidden", 128, "width of Q's hidden layer"});
  e.check_data = [](const data::DataSpec& s) { return check_images("infogan", s); };
  e.create = [](const ModelContext& ctx) -> std::unique_ptr<GanModel> { return std::make_unique<Infogan>(ctx); };
  return e;
}

}  // namespace gan::models
