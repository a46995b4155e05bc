// The issue-15 training options: DiffAugment (against a plain-loop version of the reference code's maths, on the
// same random draws), lazy R1 (its schedule and what it adds to D's loss) and SNGAN's spectrally normalized D.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/nn/diffaugment.h"
#include "engine/nn/parametrize.h"
#include "engine/nn/spectral_norm.h"
#include "engine/ops.h"
#include "models/model.h"
#include "test_zoo_helpers.h"

namespace gan::models {
namespace {

using testing::BatchSource;
using testing::create;
using testing::message_of;
using testing::image_spec;
using testing::points_spec;

// ---- DiffAugment ----
TEST(DiffAugment, ParsesPoliciesAndNamesWhatIsWrong) {
  EXPECT_FALSE(nn::parse_diffaugment("").any());
  EXPECT_FALSE(nn::parse_diffaugment("none").any());
  const nn::DiffAugmentPolicy p = nn::parse_diffaugment("cutout,color");
  EXPECT_TRUE(p.color && p.cutout && !p.translation);
  EXPECT_EQ(p.str(), "color,cutout");  // applied in the reference order whatever the order written
  EXPECT_NE(message_of([] { nn::parse_diffaugment("color,flip"); }).find("unknown augmentation 'flip'"),
            std::string::npos);
  EXPECT_NE(message_of([] { nn::parse_diffaugment("color,color"); }).find("appears twice"), std::string::npos);
  EXPECT_NE(message_of([] { nn::parse_diffaugment("color,"); }).find("comma"), std::string::npos);
}

// The reference code's functions written as loops over one image, with the parameters drawn as diff_augment
// draws them (3N uniforms for color, then 2N for translation, then 2N for cutout).
std::vector<float> reference_augment(std::vector<float> x, int64_t n, int64_t c, int64_t h, int64_t w, Generator& gen) {
  auto draw = [&](int64_t k) {
    std::vector<float> u(static_cast<size_t>(k));
    gen.fill_uniform<float>(u.data(), k);
    return u;
  };
  auto randint = [](float u, int64_t lo, int64_t hi) {
    return lo + std::min<int64_t>(hi - lo - 1, static_cast<int64_t>(static_cast<double>(u) * (hi - lo)));
  };
  const int64_t chw = c * h * w, hw = h * w;
  const std::vector<float> uc = draw(3 * n);
  for (int64_t i = 0; i < n; ++i) {
    float* img = x.data() + i * chw;
    for (int64_t p = 0; p < chw; ++p) img[p] += static_cast<float>(uc[i] - 0.5);
    for (int64_t p = 0; p < hw; ++p) {  // saturation: around the mean over channels, per pixel
      double m = 0;
      for (int64_t ch = 0; ch < c; ++ch) m += img[ch * hw + p];
      m /= static_cast<double>(c);
      for (int64_t ch = 0; ch < c; ++ch) img[ch * hw + p] = static_cast<float>((img[ch * hw + p] - m) * (uc[n + i] * 2.0) + m);
    }
    double m = 0;  // contrast: around the image's mean
    for (int64_t p = 0; p < chw; ++p) m += img[p];
    m /= static_cast<double>(chw);
    for (int64_t p = 0; p < chw; ++p) img[p] = static_cast<float>((img[p] - m) * (uc[2 * n + i] + 0.5) + m);
  }
  const std::vector<float> ut = draw(2 * n);
  const int64_t rh = static_cast<int64_t>(h * 0.125 + 0.5), rw = static_cast<int64_t>(w * 0.125 + 0.5);
  std::vector<float> y(x.size(), 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t tx = randint(ut[i], -rh, rh + 1), ty = randint(ut[n + i], -rw, rw + 1);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t r = 0; r < h; ++r)
        for (int64_t q = 0; q < w; ++q) {
          const int64_t sr = r + tx, sq = q + ty;  // out[r, q] = x[r + tx, q + ty], zero outside
          if (sr >= 0 && sr < h && sq >= 0 && sq < w) y[i * chw + ch * hw + r * w + q] = x[i * chw + ch * hw + sr * w + sq];
        }
  }
  const std::vector<float> uk = draw(2 * n);
  const int64_t sh = static_cast<int64_t>(h * 0.5 + 0.5), sw = static_cast<int64_t>(w * 0.5 + 0.5);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ox = randint(uk[i], 0, h + (1 - sh % 2)), oy = randint(uk[n + i], 0, w + (1 - sw % 2));
    for (int64_t a = 0; a < sh; ++a)
      for (int64_t b = 0; b < sw; ++b) {
        const int64_t r = std::clamp<int64_t>(a + ox - sh / 2, 0, h - 1), q = std::clamp<int64_t>(b + oy - sw / 2, 0, w - 1);
        for (int64_t ch = 0; ch < c; ++ch) y[i * chw + ch * hw + r * w + q] = 0.0f;
      }
  }
  return y;
}

TEST(DiffAugment, MatchesTheReferenceMathsOnTheSameDraws) {
  for (const auto& [n, c, h, w] : std::vector<std::array<int64_t, 4>>{{5, 3, 32, 32}, {4, 1, 28, 28}, {3, 2, 9, 7}}) {
    Generator data(4);
    const Tensor x = rand({n, c, h, w}, DType::Float32, &data, -1.0, 1.0);
    Generator g1(12, 1), g2(12, 1);
    const Tensor got = nn::diff_augment(x, nn::parse_diffaugment("color,translation,cutout"), g1);
    const std::vector<float> want = reference_augment(x.to_vector<float>(), n, c, h, w, g2);
    const std::vector<float> v = got.to_vector<float>();
    ASSERT_EQ(v.size(), want.size());
    double worst = 0;
    for (size_t i = 0; i < v.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(v[i]) - want[i]));
    EXPECT_LT(worst, 1e-5) << n << "x" << c << "x" << h << "x" << w;
    EXPECT_EQ(g1.offset(), g2.offset()) << "diff_augment drew a different number of values";
  }
}

TEST(DiffAugment, SameStateSameResultAndEachCallDrawsAfresh) {
  Generator data(4);
  const Tensor x = rand({6, 1, 28, 28}, DType::Float32, &data, -1.0, 1.0);
  const nn::DiffAugmentPolicy all = nn::parse_diffaugment("color,translation,cutout");
  Generator g(3, 1);
  const Tensor a = nn::diff_augment(x, all, g);
  const Tensor b = nn::diff_augment(x, all, g);
  Generator again(3, 1);
  EXPECT_EQ(nn::diff_augment(x, all, again).to_vector<float>(), a.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_EQ(nn::diff_augment(x, nn::parse_diffaugment(""), g).to_vector<float>(), x.to_vector<float>());
}

TEST(DiffAugment, ModelsRefuseItOnPointData) {
  EXPECT_NE(message_of([] { create("gan", points_spec(), 1, {{"diffaugment", "color"}}); }).find("augments images"),
            std::string::npos);
}

// ---- R1 ----
TEST(R1, AppliedEveryKthDiscriminatorStepAndScaledByK) {
  auto model = create("dcgan", image_spec(28), 5, {{"r1", 10.0}, {"r1_every", 3}});
  BatchSource data(image_spec(28), 4, 2);
  for (int step = 0; step < 7; ++step) {
    const Metrics m = model->train_step(data.fn());
    bool has_r1 = false;
    for (const auto& [name, v] : m)
      if (name == "r1") {
        has_r1 = true;
        EXPECT_GT(v, 0.0);
        EXPECT_TRUE(std::isfinite(v));
      }
    EXPECT_EQ(has_r1, step % 3 == 0) << "step " << step;  // D steps 0, 3, 6
  }
  // Off by default: no penalty term at all.
  auto plain = create("dcgan", image_spec(28), 5);
  for (const auto& [name, v] : plain->train_step(data.fn())) EXPECT_NE(name, "r1");
}

TEST(R1, ChangesTheDiscriminatorStepExactlyWhenDue) {
  // Same seed and data: with r1 on, the first D step (due) differs from the plain model's; that is all that
  // differs in its first metrics besides the r1 entry (the penalty joins D's loss).
  auto a = create("dcgan", image_spec(28), 5, {{"r1", 10.0}, {"r1_every", 2}});
  auto b = create("dcgan", image_spec(28), 5);
  BatchSource da(image_spec(28), 4, 2), db(image_spec(28), 4, 2);
  const Metrics ma = a->train_step(da.fn()), mb = b->train_step(db.fn());
  ASSERT_EQ(ma[0].first, "loss_d");
  EXPECT_NE(ma[0].second, mb[0].second) << "R1 did not reach D's loss";
  EXPECT_EQ(ma[2].second, mb[2].second) << "d_real is computed before any update either way";
}

TEST(R1, RejectsBadSettings) {
  EXPECT_NE(message_of([] { create("dcgan", image_spec(28), 1, {{"r1", -1.0}}); }).find("r1 must be >= 0"),
            std::string::npos);
  EXPECT_NE(message_of([] { create("dcgan", image_spec(28), 1, {{"r1", 1.0}, {"r1_every", 0}}); })
                .find("r1_every must be >= 1"),
            std::string::npos);
}

// ---- SNGAN ----
TEST(Sngan, PaperDefaultsAndSpectrallyNormalizedDiscriminator) {
  const nlohmann::json cfg = resolve_config(*find_model("sngan"), nlohmann::json::object());
  EXPECT_EQ(cfg["nz"], 128);
  EXPECT_EQ(cfg["lr_d"], 2e-4);
  EXPECT_EQ(cfg["beta1"], 0.5);
  EXPECT_EQ(cfg["beta2"], 0.999);
  EXPECT_EQ(cfg["n_dis"], 1);

  auto model = create("sngan", image_spec(32, 3), 3);
  int64_t sn_layers = 0, plain_weights = 0;
  for (const auto& [name, t] : model->state()) {
    if (name.rfind("D.", 0) != 0) continue;
    if (name.find("parametrizations.weight.0._u") != std::string::npos) ++sn_layers;
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0) ++plain_weights;
  }
  EXPECT_EQ(sn_layers, 8) << "7 convs and the linear layer";
  EXPECT_EQ(plain_weights, 0) << "every D weight is parametrized";
  for (const auto& [name, t] : model->state()) {
    if (name.rfind("G.", 0) == 0) {
      EXPECT_EQ(name.find("parametrizations"), std::string::npos) << name;
    }
  }
}

TEST(Sngan, HingeLossesAndTraining) {
  auto model = create("sngan", image_spec(28), 3);
  BatchSource data(image_spec(28), 4, 9);
  for (int step = 0; step < 3; ++step) {
    const Metrics m = model->train_step(data.fn());
    ASSERT_EQ(m[0].first, "loss_d");
    EXPECT_GE(m[0].second, 0.0) << "the hinge critic loss is a sum of relus";
  }
  EXPECT_NE(message_of([] { create("sngan", points_spec(), 1); }), "");
  EXPECT_NE(find_model("sngan")->check_data(points_spec()), "");
}

}  // namespace
}  // namespace gan::models
