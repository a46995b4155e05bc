// The registry, flag resolution, data checks, state validation and model-specific behaviour (grid layouts,
// clipping, the generator-loss choice, conv variants per image size).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "models/common.h"
#include "models/model.h"
#include "test_zoo_helpers.h"

namespace gan::models {
namespace {

using testing::BatchSource;
using testing::create;
using testing::message_of;
using testing::image_spec;
using testing::points_spec;

TEST(Registry, ListsTheElevenModelsWithUniqueNames) {
  const auto& reg = model_registry();
  ASSERT_EQ(reg.size(), 11u);
  std::set<std::string> names;
  for (const ModelEntry& e : reg) {
    EXPECT_TRUE(names.insert(e.name).second) << "duplicate " << e.name;
    EXPECT_FALSE(e.description.empty()) << e.name;
    EXPECT_TRUE(e.create) << e.name;
    EXPECT_TRUE(e.check_data) << e.name;
    std::set<std::string> flags;
    for (const FlagSpec& f : e.flags) {
      EXPECT_TRUE(flags.insert(f.name).second) << e.name << " repeats flag " << f.name;
      EXPECT_FALSE(f.help.empty()) << e.name << "." << f.name;
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{"gan", "dcgan", "cgan", "wgan", "wgan-gp", "lsgan", "infogan", "unrolled",
                                          "sngan", "vae", "ae"}));
  EXPECT_EQ(find_model("wgan-gp")->name, "wgan-gp");
  EXPECT_EQ(find_model("stylegan"), nullptr);
}

TEST(Registry, PaperDefaults) {
  const auto cfg = [](const std::string& m) { return resolve_config(*find_model(m), nlohmann::json::object()); };
  EXPECT_EQ(cfg("dcgan")["lr_g"], 2e-4);
  EXPECT_EQ(cfg("dcgan")["beta1"], 0.5);
  EXPECT_EQ(cfg("wgan")["clip"], 0.01);
  EXPECT_EQ(cfg("wgan")["n_critic"], 5);
  EXPECT_EQ(cfg("wgan")["lr_d"], 5e-5);
  EXPECT_EQ(cfg("wgan-gp")["gp_lambda"], 10.0);
  EXPECT_EQ(cfg("wgan-gp")["beta1"], 0.0);
  EXPECT_EQ(cfg("wgan-gp")["beta2"], 0.9);
  EXPECT_EQ(cfg("infogan")["n_cat"], 10);
  EXPECT_EQ(cfg("infogan")["n_cont"], 2);
  EXPECT_EQ(cfg("lsgan")["coding"], "-1,1,0");
}

TEST(ResolveConfig, OverlaysOverridesAndConvertsText) {
  const ModelEntry& e = *find_model("wgan");
  const auto cfg = resolve_config(e, {{"clip", 0.02}, {"n-critic", "3"}, {"ema", "0.999"}});
  EXPECT_EQ(cfg["clip"], 0.02);
  EXPECT_EQ(cfg["n_critic"], 3);
  EXPECT_TRUE(cfg["n_critic"].is_number_integer());
  EXPECT_EQ(cfg["ema"], 0.999);
  for (const FlagSpec& f : e.flags) EXPECT_TRUE(cfg.contains(f.name)) << f.name;
  EXPECT_EQ(resolve_config(e, nullptr).size(), e.flags.size());
}

TEST(ResolveConfig, RejectsUnknownFlagsAndWrongTypes) {
  const ModelEntry& e = *find_model("wgan");
  const std::string unknown = message_of([&] { resolve_config(e, {{"gp_lambda", 10}}); });
  EXPECT_NE(unknown.find("gp_lambda"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("wgan"), std::string::npos) << unknown;
  EXPECT_NE(message_of([&] { resolve_config(e, {{"n_critic", 2.5}}); }).find("n_critic"), std::string::npos);
  EXPECT_NE(message_of([&] { resolve_config(e, {{"clip", "small"}}); }).find("clip"), std::string::npos);
  EXPECT_NE(message_of([&] { resolve_config(*find_model("lsgan"), {{"coding", 3}}); }).find("coding"),
            std::string::npos);
  EXPECT_THROW(resolve_config(e, nlohmann::json::array()), std::invalid_argument);
}

TEST(CheckData, RefusesWhatAModelCannotTrainOn) {
  const auto check = [](const std::string& m, const data::DataSpec& s) { return find_model(m)->check_data(s); };
  for (const ModelEntry& e : model_registry()) {
    EXPECT_EQ(e.check_data(image_spec(28)), "") << e.name;
    EXPECT_EQ(e.check_data(image_spec(64, 3)), "") << e.name;
  }
  EXPECT_NE(check("dcgan", points_spec()), "");
  EXPECT_NE(check("infogan", points_spec()), "");
  EXPECT_EQ(check("unrolled", points_spec()), "");
  EXPECT_EQ(check("wgan-gp", points_spec()), "");
  const std::string odd = check("dcgan", image_spec(48));
  EXPECT_NE(odd.find("48"), std::string::npos) << odd;
  EXPECT_EQ(check("gan", image_spec(48)), "");  // MLPs take any size
  EXPECT_NE(check("cgan", image_spec(32, 1, 0)), "");
  EXPECT_EQ(preferred_image_size(28), 28);
  EXPECT_EQ(preferred_image_size(20), 32);
  EXPECT_EQ(preferred_image_size(96), 64);
}

TEST(CreateZooModel, BuildsWithFlagsAndRefusesUnknownNamesAndData) {
  const std::unique_ptr<GanModel> m = create_zoo_model("dcgan", image_spec(32), Device::cpu(), 3, {{"ngf", 4}});
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->name(), "dcgan");
  EXPECT_NE(message_of([] { (void)create_zoo_model("nope", image_spec(32), Device::cpu(), 0); }).find("'nope'"),
            std::string::npos);
  EXPECT_NE(message_of([] { (void)create_zoo_model("dcgan", points_spec(), Device::cpu(), 0); }).find("dcgan"),
            std::string::npos);
  EXPECT_THROW((void)create_zoo_model("dcgan", image_spec(32), Device::cpu(), 0, {{"no_such_flag", 1}}),
               std::invalid_argument);
}

TEST(LoadState, RejectsAnotherModelsState) {
  auto dcgan = create("dcgan", image_spec(32), 1);
  auto lsgan = create("lsgan", image_spec(32), 1);  // the same networks: only the marker tells them apart
  const std::string msg = message_of([&] { lsgan->load_state(dcgan->state()); });
  EXPECT_NE(msg.find("dcgan"), std::string::npos) << msg;
  EXPECT_NE(msg.find("lsgan"), std::string::npos) << msg;

  auto wgan_gp = create("wgan-gp", image_spec(32), 1);
  EXPECT_THROW(wgan_gp->load_state(dcgan->state()), std::invalid_argument);
}

TEST(LoadState, ListsMissingUnexpectedAndMismatched) {
  auto m = create("dcgan", image_spec(32), 1);
  NamedTensors s = m->state();
  const std::string dropped = s[1].first;
  s.erase(s.begin() + 1);
  s.emplace_back("D.extra.weight", zeros({2}));
  const std::string msg = message_of([&] { m->load_state(s); });
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find(dropped), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected"), std::string::npos) << msg;
  EXPECT_NE(msg.find("D.extra.weight"), std::string::npos) << msg;

  // A wider network: shape mismatches named with both shapes; the model is left untouched.
  auto wide = create("dcgan", image_spec(32), 1, {{"ngf", 8}});
  const auto before = m->state();
  const std::string shapes = message_of([&] { m->load_state(wide->state()); });
  EXPECT_NE(shapes.find("shape mismatch"), std::string::npos) << shapes;
  const auto after = m->state();
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_EQ(before[i].second.to_vector<double>(), after[i].second.to_vector<double>()) << before[i].first;
}

TEST(Determinism, SameSeedSameRun) {
  auto a = create("wgan-gp", image_spec(32), 4);
  auto b = create("wgan-gp", image_spec(32), 4);
  BatchSource da(image_spec(32), 4, 8), db(image_spec(32), 4, 8);
  const Metrics ma = a->train_step(da.fn()), mb = b->train_step(db.fn());
  for (size_t i = 0; i < ma.size(); ++i) EXPECT_EQ(ma[i].second, mb[i].second) << ma[i].first;
  auto c = create("wgan-gp", image_spec(32), 5);
  EXPECT_NE(a->state()[1].second.to_vector<float>(), c->state()[1].second.to_vector<float>());
}

TEST(Models, WganClipsCriticWeights) {
  auto m = create("wgan", image_spec(32), 2, {{"clip", 0.005}});
  BatchSource d(image_spec(32), 4, 3);
  m->train_step(d.fn());
  size_t checked = 0;
  for (const auto& [n, t] : m->state())
    if (n.rfind("D.", 0) == 0 && n.find("running") == std::string::npos && t.dtype() == DType::Float32)
      for (float v : t.to_vector<float>()) {
        ASSERT_LE(std::abs(v), 0.005f + 1e-9f) << n;
        ++checked;
      }
  EXPECT_GT(checked, 0u);
}

TEST(Models, WganGpRefusesBatchNormCritic) {
  const std::string msg = message_of([] { create("wgan-gp", image_spec(32), 1, {{"critic_norm", "batch"}}); });
  EXPECT_NE(msg.find("critic_norm"), std::string::npos) << msg;
}

TEST(Models, GanMinimaxLossIsNonPositive) {
  auto m = create("gan", points_spec(), 1, {{"loss", "minimax"}});
  BatchSource d(points_spec(), 8, 2);
  for (const auto& [n, v] : m->train_step(d.fn())) {
    if (n == "loss_g") {
      EXPECT_LE(v, 0.0);  // log(1 - D(G(z))) <= 0
    }
  }
  EXPECT_THROW(create("gan", points_spec(), 1, {{"loss", "hinge"}}), std::invalid_argument);
}

TEST(Models, CganGridHasOneRowPerClass) {
  auto m = create("cgan", image_spec(28, 1, 4), 1);
  Generator gen(1);
  const SampleGrid g = m->sample(16, gen);
  EXPECT_EQ(g.rows, 4);
  EXPECT_EQ(g.cols, 4);
  EXPECT_EQ(g.row_labels, (std::vector<std::string>{"c0", "c1", "c2", "c3"}));
  // Unlabeled batches are refused with a message, not used with label -1.
  BatchSource unlabeled(image_spec(28, 1, 0), 4, 1);
  const std::string msg = message_of([&] { m->train_step(unlabeled.fn()); });
  EXPECT_NE(msg.find("label"), std::string::npos) << msg;
}

TEST(Models, InfoganGridVariesOneCodePerRow) {
  auto m = create("infogan", image_spec(32), 1);  // tiny flags: n_cat 3, n_cont 2
  Generator gen(1);
  const SampleGrid g = m->sample(20, gen);
  EXPECT_EQ(g.rows, 5);
  EXPECT_EQ(g.images.shape()[0], g.rows * g.cols);
  ASSERT_EQ(g.row_labels.size(), 5u);
  EXPECT_EQ(g.row_labels[0], "cat 0");
  EXPECT_EQ(g.row_labels[3], "c1 -2..2");
  // Categorical rows share noise per column: with the code fixed they would be identical, so rows 0 and 1 differ
  // only through the code.
  const Tensor row0 = narrow(g.images, 0, 0, g.cols), row1 = narrow(g.images, 0, g.cols, g.cols);
  EXPECT_NE(row0.to_vector<float>(), row1.to_vector<float>());
}

TEST(Models, AutoencodersReconstruct) {
  for (const std::string name : {"vae", "ae"}) {
    auto m = create(name, image_spec(28), 1);
    ASSERT_TRUE(m->can_reconstruct());
    BatchSource d(image_spec(28), 5, 1);
    const Tensor x = d().first;
    const SampleGrid g = m->reconstruct(x);
    EXPECT_EQ(g.rows, 2);
    EXPECT_EQ(g.cols, 5);
    EXPECT_EQ(g.images.shape(), (Shape{10, 1, 28, 28}));
    EXPECT_EQ(g.row_labels, (std::vector<std::string>{"input", "reconstruction"}));
  }
  EXPECT_FALSE(create("dcgan", image_spec(32), 1)->can_reconstruct());
}

TEST(Models, EmaStateIsSavedAndNotCounted) {
  auto m = create("dcgan", image_spec(32), 1, {{"ema", 0.99}});
  bool has_ema = false;
  for (const auto& [n, t] : m->state()) has_ema = has_ema || n.rfind("G_ema.", 0) == 0;
  EXPECT_TRUE(has_ema);
  EXPECT_EQ(m->parameter_counts().size(), 2u);
}

TEST(Builders, ConvVariantsPerImageSize) {
  for (int64_t s : {28, 32, 64}) {
    auto g = conv_generator(6, 3, s, 4);
    auto d = conv_discriminator(3, s, 4, Norm::Batch);
    const Tensor img = (*g)(randn({2, 6, 1, 1}));
    EXPECT_EQ(img.shape(), (Shape{2, 3, s, s})) << s;
    EXPECT_EQ((*d)(img).shape(), (Shape{2, 1})) << s;
    auto body = conv_discriminator(3, s, 4, Norm::Layer, /*head=*/false);
    const int64_t f = conv_feature_size(s);
    EXPECT_EQ((*body)(img).shape(), (Shape{2, conv_feature_channels(s, 4), f, f})) << s;
  }
  EXPECT_THROW(conv_generator(6, 3, 48, 4), std::invalid_argument);
}

TEST(Builders, ForwardWithParamsMatchesForward) {
  MlpOptions o;
  o.in = 3;
  o.out = 2;
  o.hidden = 5;
  o.act = Act::LeakyReLU;
  auto net = mlp(o, "mlp");
  const Tensor x = randn({4, 3});
  EXPECT_EQ((*net)(x).to_vector<float>(), forward_with_params(*net, x, net->parameters()).to_vector<float>());
  auto bn = conv_discriminator(1, 32, 4, Norm::Batch);
  EXPECT_THROW(forward_with_params(*bn, randn({2, 1, 32, 32}), bn->parameters()), std::invalid_argument);
}

}  // namespace
}  // namespace gan::models
