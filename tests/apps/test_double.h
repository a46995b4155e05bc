// A tiny model and dataset for the `gan` CLI tests: fast on a CPU, deterministic, and with a test-only flag
// (`nan_at`) that makes a loss non-finite at a chosen step, to test the stop-and-keep-the-checkpoint path.
// "tiny" is a 2-D point GAN (two-layer MLPs, Adam); "tiny2" is the same with other names, to test that a
// checkpoint from another model is refused; "ring" is 256 points on the unit circle.
#pragma once

#include <cmath>
#include <csignal>
#include <memory>
#include <stdexcept>
#include <string>

#include "apps/catalog.h"
#include "engine/autograd.h"
#include "engine/nn/functional.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/optimizers.h"
#include "models/common.h"

namespace gan::apps::testing {

class RingDataset : public data::Dataset {
 public:
  explicit RingDataset(int64_t n) : n_(n) {
    spec_.kind = data::ExampleKind::Points;
    spec_.point_dim = 2;
  }
  int64_t size() const override { return n_; }
  const data::DataSpec& spec() const override { return spec_; }
  int64_t get(int64_t i, float* out) const override {
    const double a = 2 * M_PI * static_cast<double>(i) / static_cast<double>(n_);
    out[0] = static_cast<float>(std::cos(a));
    out[1] = static_cast<float>(std::sin(a));
    return -1;
  }
  std::string describe() const override { return "ring: " + std::to_string(n_) + " points on the unit circle"; }

 private:
  int64_t n_;
  data::DataSpec spec_;
};

class TinyModel : public models::GanModel {
 public:
  TinyModel(std::string name, const models::ModelContext& ctx)
      : name_(std::move(name)), gen_(ctx.seed, 1), device_(ctx.device) {
    nz_ = ctx.config.at("nz").get<int64_t>();
    const int64_t hidden = ctx.config.at("hidden").get<int64_t>();
    nan_at_ = ctx.config.at("nan_at").get<int64_t>();
    signal_at_ = ctx.config.at("signal_at").get<int64_t>();
    if (nz_ < 1 || hidden < 1) throw std::invalid_argument("nz and hidden must be positive");
    G_ = std::make_shared<nn::Sequential>();
    G_->add(std::make_shared<nn::Linear>(nz_, hidden));
    G_->add(std::make_shared<nn::ReLU>());
    G_->add(std::make_shared<nn::Linear>(hidden, 2));
    D_ = std::make_shared<nn::Sequential>();
    D_->add(std::make_shared<nn::Linear>(2, hidden));
    D_->add(std::make_shared<nn::LeakyReLU>(0.2));
    D_->add(std::make_shared<nn::Linear>(hidden, 1));
    // Weights from the model's own generator, so runs do not depend on the process-wide one.
    for (auto* net : {G_.get(), D_.get()})
      for (auto& [n, p] : net->named_parameters()) {
        NoGradGuard ng;
        copy_(p, randn(p.shape(), DType::Float32, &gen_, 0.0, 0.3));
      }
    // On the run's device (a GPU when there is one), like the zoo's models; noise is drawn on the CPU and moved.
    models::module_to(*G_, device_);
    models::module_to(*D_, device_);
    const double lr = ctx.config.at("lr").get<double>();
    opt_g_ = std::make_unique<optim::Adam>(G_->named_parameters(), optim::AdamOptions{.lr = lr, .beta1 = 0.5});
    opt_d_ = std::make_unique<optim::Adam>(D_->named_parameters(), optim::AdamOptions{.lr = lr, .beta1 = 0.5});
  }

  std::string name() const override { return name_; }

  models::Metrics train_step(const std::function<std::pair<Tensor, Tensor>()>& next_batch) override {
    namespace F = nn::functional;
    ++step_;
    if (signal_at_ > 0 && step_ == signal_at_) std::raise(SIGINT);
    const Tensor real = next_batch().first;
    const int64_t n = real.size(0);
    opt_d_->zero_grad();
    const Tensor fake = (*G_)(randn({n, nz_}, DType::Float32, &gen_).to(device_));
    const Tensor lr_ = (*D_)(real), lf = (*D_)(fake.detach());
    const Tensor loss_d = F::bce_with_logits(lr_, ones_like(lr_)) + F::bce_with_logits(lf, zeros_like(lf));
    loss_d.backward();
    opt_d_->step();
    opt_g_->zero_grad();
    const Tensor lg = (*D_)(fake);
    const Tensor loss_g = F::bce_with_logits(lg, ones_like(lg));
    loss_g.backward();
    opt_g_->step();
    const double d = loss_d.item();
    return {{"loss_d", nan_at_ > 0 && step_ >= nan_at_ ? std::nan("") : d}, {"loss_g", loss_g.item()}};
  }

  models::SampleGrid sample(int64_t n, Generator& gen) override {
    NoGradGuard ng;
    return {(*G_)(randn({n, nz_}, DType::Float32, &gen).to(device_)), 1, n, {}};
  }
  models::SampleGrid interpolate(int64_t rows, int64_t steps, Generator& gen) override {
    return sample(rows * steps, gen);
  }

  models::NamedTensors state() const override {
    models::NamedTensors out;
    for (const auto& [n, t] : G_->state_dict()) out.emplace_back("G." + n, t);
    for (const auto& [n, t] : D_->state_dict()) out.emplace_back("D." + n, t);
    for (const auto& [n, t] : opt_g_->state()) out.emplace_back("opt_g." + n, t);
    for (const auto& [n, t] : opt_d_->state()) out.emplace_back("opt_d." + n, t);
    const Generator::State s = gen_.state();
    out.emplace_back("rng", from_vector<int64_t>({static_cast<int64_t>(s.seed), static_cast<int64_t>(s.offset),
                                                  static_cast<int64_t>(s.stream), step_},
                                                 {4}));
    return out;
  }

  void load_state(const models::NamedTensors& state) override {
    models::NamedTensors g, d, og, od;
    bool rng = false;
    for (const auto& [n, t] : state) {
      if (n.rfind("G.", 0) == 0) g.emplace_back(n.substr(2), t);
      else if (n.rfind("D.", 0) == 0) d.emplace_back(n.substr(2), t);
      else if (n.rfind("opt_g.", 0) == 0) og.emplace_back(n.substr(6), t);
      else if (n.rfind("opt_d.", 0) == 0) od.emplace_back(n.substr(6), t);
      else if (n == "rng") {
        const auto v = t.to_vector<int64_t>();
        gen_.set_state({static_cast<uint64_t>(v[0]), static_cast<uint64_t>(v[1]), static_cast<uint64_t>(v[2])});
        step_ = v[3];
        rng = true;
      } else {
        throw std::runtime_error("unexpected tensor " + n);
      }
    }
    if (!rng) throw std::runtime_error("missing rng");
    G_->load_state_dict(g);
    D_->load_state_dict(d);
    opt_g_->load_state(og);
    opt_d_->load_state(od);
  }

  models::Metrics parameter_counts() const override {
    return {{"G", static_cast<double>(G_->parameter_count())}, {"D", static_cast<double>(D_->parameter_count())}};
  }

 private:
  std::string name_;
  Generator gen_;
  Device device_;
  int64_t nz_ = 2, nan_at_ = 0, signal_at_ = 0, step_ = 0;
  std::shared_ptr<nn::Sequential> G_, D_;
  std::unique_ptr<optim::Adam> opt_g_, opt_d_;
};

inline models::ModelEntry tiny_entry(const std::string& name, int64_t hidden = 8) {
  models::ModelEntry e;
  e.name = name;
  e.description = "test double: 2-D point GAN with two-layer MLPs";
  e.flags = {{"nz", 2, "latent size"},
             {"hidden", hidden, "hidden width"},
             {"lr", 1e-3, "Adam learning rate"},
             {"nan_at", 0, "test only: loss_d becomes NaN from this step on (0: never)"},
             {"signal_at", 0, "test only: raise SIGINT during this step (0: never)"},
             {"note_flag", false, "test only: a boolean flag that changes nothing"}};
  e.check_data = [name](const data::DataSpec& s) {
    return s.kind == data::ExampleKind::Points ? std::string() : name + " needs 2-D points";
  };
  e.create = [name](const models::ModelContext& ctx) -> std::unique_ptr<models::GanModel> {
    return std::make_unique<TinyModel>(name, ctx);
  };
  return e;
}

inline const Catalog& test_catalog() {
  static const Catalog c = [] {
    Catalog c;
    c.models = {tiny_entry("tiny"), tiny_entry("tiny2", 6)};
    c.datasets = {{"ring", "256 points on the unit circle"}};
    c.open_dataset = [](const std::string& name, const data::DatasetOptions& o) -> std::unique_ptr<data::Dataset> {
      if (name != "ring") throw std::runtime_error("unknown dataset '" + name + "'; known: ring");
      return std::make_unique<RingDataset>(o.size > 0 ? o.size : 256);
    };
    return c;
  }();
  return c;
}

}  // namespace gan::apps::testing
