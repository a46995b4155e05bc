// Unrolled GAN (Metz et al. 2016). D takes an ordinary Adam step on real and fake batches. G's loss is then
// taken through D's parameters after k further Adam steps on the same batches, and those steps are
// differentiated through (the paper's full variant, with the second-order term that lets G anticipate how D
// reacts): the unrolled Adam updates are built from engine ops with create_graph, starting from opt_d's moments,
// and G's gradient flows through all of them. The unrolled parameters are then thrown away (D keeps its single
// real step). Differences from the paper: the unrolling starts after D's real update rather than alongside it,
// all k steps reuse the iteration's real batch and noise, and sqrt(v) is computed as sqrt(v + eps^2) so its
// derivative stays finite. D has no batch norm or dropout (its loss is differentiated twice): an MLP on points
// (the paper's 2-D mixture experiment) or the DCGAN conv stack without normalization on images.
// Adam 1e-4 (beta1 0.5) for both networks, k = 5.
#include <cmath>
#include <map>
#include <stdexcept>

#include "models/adversarial.h"

namespace gan::models {

namespace F = nn::functional;

namespace {

class Unrolled : public AdversarialModel {
 public:
  explicit Unrolled(const ModelContext& ctx) : AdversarialModel("unrolled", ctx), k_(cfg_int(cfg_, "unroll_steps")) {
    if (k_ < 0) throw std::invalid_argument("unrolled: unroll_steps must be >= 0, got " + std::to_string(k_));
    setup([this] { return standard_generator(nz_); }, standard_discriminator(0, Norm::None),
          images() ? Init::Dcgan : Init::Default, images());
    set_optimizers(adam(prefixed_parameters("G", *G_), cfg_num(cfg_, "lr_g")),
                   adam(prefixed_parameters("D", *D_), cfg_num(cfg_, "lr_d")));
  }

  Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) override {
    const Tensor real_in = d_in(next_batch().first);
    const int64_t n = real_in.shape()[0];
    const Tensor z = latent(n, rng_);

    // D's own step.
    opt_d_->zero_grad();
    const Tensor fake = generate(z);
    const Tensor fake_in = d_in(fake);
    const Tensor real_logits = (*D_)(real_in);
    const Tensor fake_logits = (*D_)(fake_in.detach());
    const Tensor target_real = real_targets(real_logits, smoothing_);
    const Tensor loss_d =
        F::bce_with_logits(real_logits, target_real) + F::bce_with_logits(fake_logits, zeros_like(fake_logits));
    loss_d.backward();
    opt_d_->step();

    // G through k differentiable Adam steps of D, starting at D's updated parameters and opt_d's moments.
    std::vector<Tensor> theta, m, v;
    std::vector<double> t;
    std::map<std::string, Tensor> st;
    for (auto& [name, s] : opt_d_->state()) st.emplace(name, s);
    for (auto& [name, p] : opt_d_->params()) {
      theta.push_back(p);
      m.push_back(slot(st, name + ".exp_avg", p));
      v.push_back(slot(st, name + ".exp_avg_sq", p));
      auto it = st.find(name + ".step");
      t.push_back(it == st.end() ? 0.0 : it->second.item());
    }
    const double lr = cfg_num(cfg_, "lr_d"), b1 = cfg_num(cfg_, "beta1"), b2 = cfg_num(cfg_, "beta2"), eps = 1e-8;
    for (int64_t step = 0; step < k_; ++step) {
      const Tensor rl = forward_with_params(*D_, real_in, theta);
      const Tensor fl = forward_with_params(*D_, fake_in, theta);
      const Tensor ld = bce_with_logits_differentiable(rl, target_real) +
                        bce_with_logits_differentiable(fl, zeros_like(fl));
      const std::vector<Tensor> g = grad({ld}, theta, {}, /*create_graph=*/true, /*allow_unused=*/true);
      for (size_t j = 0; j < theta.size(); ++j) {
        if (!g[j].defined()) continue;
        t[j] += 1;
        m[j] = m[j] * b1 + g[j] * (1 - b1);
        v[j] = v[j] * b2 + g[j] * g[j] * (1 - b2);
        const Tensor m_hat = m[j] / (1 - std::pow(b1, t[j]));
        const Tensor v_hat = v[j] / (1 - std::pow(b2, t[j]));
        theta[j] = theta[j] - m_hat / sqrt(v_hat + eps * eps) * lr;
      }
    }
    opt_g_->zero_grad();
    const Tensor logits = forward_with_params(*D_, fake_in, theta);
    const Tensor loss_g = bce_with_logits_differentiable(logits, ones_like(logits));
    loss_g.backward();
    opt_g_->step();
    opt_d_->zero_grad();  // G's backward also reached D's parameters; that gradient is not D's to use
    after_g_step();
    return {{"loss_d", loss_d},
            {"loss_g", loss_g},
            {"d_real", mean_probability(real_logits)},
            {"d_fake", mean_probability(fake_logits)}};
  }

 public:
  std::string cuda_graph_blocker() const override {
    if (k_ == 0) return AdversarialModel::cuda_graph_blocker();
    // The unrolled steps' bias corrections are host numbers from opt_d's step count: a graph would freeze them.
    return "the unrolled Adam steps compute their bias corrections on the host from the step count";
  }

 private:
  static Tensor slot(const std::map<std::string, Tensor>& st, const std::string& name, const Tensor& p) {
    auto it = st.find(name);
    return it == st.end() ? zeros_like(p) : it->second.detach().clone();
  }

  int64_t k_;
};

}  // namespace

ModelEntry unrolled_entry() {
  ModelEntry e;
  e.name = "unrolled";
  e.description =
      "Unrolled GAN (Metz 2016): G's loss through k=5 Adam steps of D, differentiated through the unrolling";
  e.flags = adversarial_flags({.hidden = 128, .lr_g = 1e-4, .lr_d = 1e-4, .beta1 = 0.5, .beta2 = 0.999});
  e.flags.push_back({"unroll_steps", 5, "discriminator steps unrolled for the generator's loss (0: a plain GAN)"});
  e.check_data = [](const data::DataSpec& s) { return check_images_or_points("unrolled", s); };
  e.create = [](const ModelContext& ctx) -> std::unique_ptr<GanModel> { return std::make_unique<Unrolled>(ctx); };
  return e;
}

}  // namespace gan::models
