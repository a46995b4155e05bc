// The zoo on the CPU with tiny networks and synthetic batches: every model (on images and, where it takes them,
// 2-D points) trains a few steps with finite losses and moving weights, samples grids of the right shape and
// range, and continues bit-identically after state() -> load_state() into a fresh model.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "models/model.h"
#include "test_zoo_helpers.h"

namespace gan::models {
namespace {

using testing::BatchSource;
using testing::create;
using testing::image_spec;
using testing::points_spec;

struct Case {
  std::string model;
  data::DataSpec spec;
  std::string label;
  nlohmann::json extra = nlohmann::json::object();
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.model << "/" << c.label << " " << c.extra.dump(); }

std::vector<Case> cases() {
  const nlohmann::json tricks = {{"ema", 0.9}, {"instance_noise", 0.1}, {"instance_noise_anneal", 10},
                                 {"label_smoothing", 0.1}};
  return {
      {"gan", image_spec(28), "img28"},
      {"gan", points_spec(), "points", {{"loss", "minimax"}}},
      {"dcgan", image_spec(32, 3), "img32rgb"},
      {"dcgan", image_spec(28), "img28_tricks", tricks},
      {"dcgan", image_spec(64), "img64"},
      {"cgan", image_spec(28), "img28"},
      {"cgan", points_spec(), "points"},
      {"wgan", image_spec(32), "img32"},
      {"wgan", points_spec(), "points"},
      {"wgan-gp", image_spec(32), "img32"},
      {"wgan-gp", points_spec(), "points"},
      {"lsgan", image_spec(32), "img32", {{"coding", "0,1,1"}}},
      {"infogan", image_spec(28), "img28"},
      {"unrolled", points_spec(), "points"},
      {"unrolled", image_spec(28), "img28", {{"unroll_steps", 1}}},
      {"sngan", image_spec(32, 3), "img32rgb"},
      {"sngan", image_spec(28), "img28_diffaugment_ndis2", {{"diffaugment", "color,translation,cutout"}, {"n_dis", 2}}},
      {"dcgan", image_spec(28), "img28_r1_diffaugment",
       {{"r1", 10.0}, {"r1_every", 2}, {"diffaugment", "color,translation,cutout"}}},
      {"cgan", image_spec(28), "img28_r1_diffaugment", {{"diffaugment", "translation"}, {"r1", 1.0}, {"r1_every", 1}}},
      {"cgan", points_spec(), "points_r1", {{"r1", 1.0}, {"r1_every", 2}}},
      {"wgan-gp", image_spec(32), "img32_diffaugment", {{"diffaugment", "color,cutout"}}},
      {"vae", image_spec(28), "img28"},
      {"vae", points_spec(), "points"},
      {"ae", image_spec(32), "img32"},
  };
}

bool is_weight(const std::string& name) {
  return name.find("running_") == std::string::npos && name.find("num_batches") == std::string::npos &&
         name.rfind("opt", 0) != 0 && name.rfind("rng.", 0) != 0 && name.rfind("model.", 0) != 0;
}

std::map<std::string, std::vector<float>> weights(const GanModel& m) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [n, t] : m.state())
    if (is_weight(n) && t.dtype() == DType::Float32) out[n] = t.to_vector<float>();
  return out;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<size_t>(a.numel()) * dtype_size(a.dtype())) == 0;
}

class ZooCase : public ::testing::TestWithParam<Case> {};

TEST_P(ZooCase, TrainsSamplesAndInterpolates) {
  const Case& c = GetParam();
  auto model = create(c.model, c.spec, 7, c.extra);
  const auto before = weights(*model);
  BatchSource data(c.spec, 4, 11);
  for (int step = 0; step < 3; ++step) {
    const Metrics m = model->train_step(data.fn());
    ASSERT_FALSE(m.empty());
    for (const auto& [name, v] : m) EXPECT_TRUE(std::isfinite(v)) << "step " << step << ": " << name << " = " << v;
  }
  // Every network's weights moved (the EMA copy included when on).
  const auto after = weights(*model);
  ASSERT_EQ(before.size(), after.size());
  std::map<std::string, bool> moved;  // per network prefix
  for (const auto& [n, v] : before) {
    const std::string net = n.substr(0, n.find('.'));
    moved[net] = moved[net] || v != after.at(n);
  }
  for (const auto& [net, yes] : moved) EXPECT_TRUE(yes) << net << "'s weights did not change";
  EXPECT_GE(moved.size(), 2u);

  Generator gen(5);
  const SampleGrid g = model->sample(16, gen);
  ASSERT_GE(g.rows * g.cols, 1);
  ASSERT_EQ(g.images.shape()[0], g.rows * g.cols);
  if (c.spec.kind == data::ExampleKind::Image) {
    EXPECT_GE(g.rows * g.cols, 10);
    EXPECT_EQ(g.images.shape(), (Shape{g.rows * g.cols, c.spec.channels, c.spec.image_size, c.spec.image_size}));
    for (float v : g.images.to_vector<float>()) {
      ASSERT_TRUE(std::isfinite(v));
      ASSERT_GE(v, -1.0f);
      ASSERT_LE(v, 1.0f);
    }
  } else {
    EXPECT_EQ(g.images.shape(), (Shape{16, 2}));
    for (float v : g.images.to_vector<float>()) ASSERT_TRUE(std::isfinite(v));
  }
  EXPECT_TRUE(g.images.device().is_cpu());
  EXPECT_TRUE(g.row_labels.empty() || static_cast<int64_t>(g.row_labels.size()) == g.rows);

  // Same generator state -> same grid (the trainer's fixed-noise grids rely on it).
  Generator gen2(5);
  EXPECT_TRUE(same_bits(model->sample(16, gen2).images, g.images));

  const SampleGrid in = model->interpolate(2, 3, gen);
  EXPECT_EQ(in.rows, 2);
  EXPECT_EQ(in.cols, 3);
  EXPECT_EQ(in.images.shape()[0], 6);

  // Sampling ran in eval mode and restored training mode: the next step still trains.
  for (const auto& [name, v] : model->train_step(data.fn())) EXPECT_TRUE(std::isfinite(v)) << name;
}

TEST_P(ZooCase, StateRoundTripContinuesBitIdentically) {
  const Case& c = GetParam();
  auto a = create(c.model, c.spec, 3, c.extra);
  BatchSource data_a(c.spec, 4, 21);
  for (int step = 0; step < 2; ++step) a->train_step(data_a.fn());
  const NamedTensors saved = a->state();

  auto b = create(c.model, c.spec, 99, c.extra);  // another seed: everything must come from the state
  b->load_state(saved);
  const NamedTensors loaded = b->state();
  ASSERT_EQ(loaded.size(), saved.size());
  for (size_t i = 0; i < saved.size(); ++i) {
    EXPECT_EQ(loaded[i].first, saved[i].first);
    EXPECT_TRUE(same_bits(loaded[i].second, saved[i].second)) << saved[i].first;
  }

  BatchSource data_b(c.spec, 4, 21);
  data_b.set_index(data_a.index());
  const Metrics ma = a->train_step(data_a.fn());
  const Metrics mb = b->train_step(data_b.fn());
  ASSERT_EQ(ma.size(), mb.size());
  for (size_t i = 0; i < ma.size(); ++i) {
    EXPECT_EQ(ma[i].first, mb[i].first);
    EXPECT_EQ(ma[i].second, mb[i].second) << ma[i].first;  // bit-identical, not merely close
  }
  const NamedTensors sa = a->state(), sb = b->state();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(same_bits(sa[i].second, sb[i].second)) << sa[i].first;
}

TEST_P(ZooCase, ParameterCountsNameEveryNetwork) {
  const Case& c = GetParam();
  auto m = create(c.model, c.spec, 1, c.extra);
  const Metrics counts = m->parameter_counts();
  ASSERT_GE(counts.size(), 2u);
  for (const auto& [net, n] : counts) {
    EXPECT_GT(n, 0) << net;
    EXPECT_EQ(net.find("ema"), std::string::npos) << "the EMA copy is not a network of its own";
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooCase, ::testing::ValuesIn(cases()), [](const auto& info) {
  std::string n = info.param.model + "_" + info.param.label;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

}  // namespace
}  // namespace gan::models
