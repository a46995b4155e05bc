// Conditional GAN (Mirza & Osindero 2014): G and D both see the class. The label enters as a one-hot vector,
// appended to G's noise and, for D, appended to a point or broadcast into K constant channels joined to the image.
// Fakes get uniformly drawn labels. Networks: DCGAN convs on images, MLPs on points; Adam 2e-4 (beta1 0.5) with the
// non-saturating BCE loss (the paper's MLPs and SGD schedule are not reproduced). Sample grids have one row per
// class, the same noise down each column.
#include <cmath>
#include <stdexcept>

#include "models/adversarial.h"

namespace gan::models {

namespace F = nn::functional;

namespace {

class Cgan : public AdversarialModel {
 public:
  explicit Cgan(const ModelContext& ctx) : AdversarialModel("cgan", ctx), k_(ctx.data.num_classes) {
    if (k_ <= 0) throw std::invalid_argument("cgan: the dataset has no classes");
    setup([this] { return standard_generator(nz_ + k_); }, standard_discriminator(k_, Norm::Batch),
          images() ? Init::Dcgan : Init::Default, images());
    set_optimizers(adam(prefixed_parameters("G", *G_), cfg_num(cfg_, "lr_g")),
                   adam(prefixed_parameters("D", *D_), cfg_num(cfg_, "lr_d")));
  }

  Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) override {
    const auto [real, labels] = next_batch();
    const int64_t n = real.shape()[0];
    const Tensor real_cond = one_hot_labels("cgan", labels, k_);
    const Tensor fake_cond = F::one_hot(random_labels(n, k_, rng_, device_), k_, DType::Float32);
    const Tensor z = latent(n, rng_);
    opt_d_->zero_grad();
    const bool r1 = r1_due();  // R1 on the image input (the label channels are not data)
    const Tensor real_in = r1 ? r1_input(real) : real;
    const Tensor real_logits = (*D_)(join_condition(d_in(real_in), real_cond));
    const Tensor fake = generate(concat({z, fake_cond}, 1));
    const Tensor fake_logits = (*D_)(join_condition(d_in(fake.detach()), fake_cond));
    Tensor loss_d = F::bce_with_logits(real_logits, real_targets(real_logits, smoothing_)) +
                    F::bce_with_logits(fake_logits, zeros_like(fake_logits));
    const Tensor penalty = r1 ? add_r1(loss_d, real_logits, real_in) : Tensor();
    loss_d.backward();
    opt_d_->step();
    opt_g_->zero_grad();
    const Tensor logits = (*D_)(join_condition(d_in(fake), fake_cond));
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

  // One row per class; column j uses the same noise in every row, so rows differ only by the class.
  SampleGrid sample(int64_t n, Generator& gen) override {
    const int64_t cols = std::max<int64_t>(1, static_cast<int64_t>(std::llround(static_cast<double>(n) / k_)));
    const Tensor z = latent(cols, gen);
    std::vector<Tensor> rows;
    std::vector<int64_t> labels;
    for (int64_t r = 0; r < k_; ++r) {
      rows.push_back(z);
      for (int64_t c = 0; c < cols; ++c) labels.push_back(r);
    }
    return grid_from(inputs(concat(rows, 0), labels), k_, cols, row_labels(k_));
  }

  // Row r walks between two noise draws with class r mod K.
  SampleGrid interpolate(int64_t rows, int64_t steps, Generator& gen) override {
    const Tensor a = latent(rows, gen), b = latent(rows, gen);
    std::vector<int64_t> labels;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t s = 0; s < steps; ++s) labels.push_back(r % k_);
    std::vector<std::string> names = row_labels(rows);
    return grid_from(inputs(lerp_rows(a, b, steps), labels), rows, steps, names);
  }

 private:
  Tensor inputs(const Tensor& z, const std::vector<int64_t>& labels) const {
    Tensor l = from_vector(labels, {static_cast<int64_t>(labels.size())});
    if (!device_.is_cpu()) l = l.to(device_);
    return concat({z, F::one_hot(l, k_, DType::Float32)}, 1);
  }

  std::vector<std::string> row_labels(int64_t rows) const {
    std::vector<std::string> out;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t c = r % k_;
      out.push_back(static_cast<int64_t>(spec_.class_names.size()) == k_ ? spec_.class_names[c]
                                                                          : "class " + std::to_string(c));
    }
    return out;
  }

  int64_t k_;
};

}  // namespace

ModelEntry cgan_entry() {
  ModelEntry e;
  e.name = "cgan";
  e.description = "conditional GAN (Mirza 2014): one-hot labels joined in G and D; grids with one row per class";
  e.flags = adversarial_flags({.lr_g = 2e-4, .lr_d = 2e-4, .beta1 = 0.5, .beta2 = 0.999, .r1 = true});
  e.check_data = [](const data::DataSpec& s) -> std::string {
    if (s.num_classes <= 0) return "cgan needs a labeled dataset (this one has no classes)";
    return check_images_or_points("cgan", s);
  };
  e.create = [](const ModelContext& ctx) -> std::unique_ptr<GanModel> { return std::make_unique<Cgan>(ctx); };
  return e;
}

}  // namespace gan::models
