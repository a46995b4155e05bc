// models/conv_roofline.h: the FLOPs and minimum bytes of conv layers, recorded from a real forward.
#include <gtest/gtest.h>

#include <string>

#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "models/conv_roofline.h"
#include "models/dcgan.h"

namespace gan::models {
namespace {

TEST(ConvRoofline, CountsMultiplyAddsAndTheTensorsOfOnePass) {
  nn::Conv2d conv(64, 128, 4, 2, 1, false);
  nn::ConvTranspose2d up(128, 64, 4, 2, 1, 0, false);
  ConvRecorder rec;
  const Tensor x = randn({2, 64, 32, 32});
  const Tensor y = conv.forward(x);
  (void)up.forward(y);
  (void)conv.forward(x);
  const std::vector<ConvLayerCost> layers = rec.layers();
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].forwards, 2);
  EXPECT_EQ(layers[1].forwards, 1);
  // 2 * N * Cout * Ho * Wo * Cin * kh * kw
  EXPECT_EQ(layers[0].flops, 2.0 * 2 * 128 * 16 * 16 * 64 * 4 * 4);
  // The transposed conv is the adjoint of the same shapes: the same multiply-adds.
  EXPECT_EQ(layers[1].flops, layers[0].flops);
  // x, w and y once each, float32.
  EXPECT_EQ(layers[0].bytes, 4.0 * (2 * 64 * 32 * 32 + 128 * 64 * 4 * 4 + 2 * 128 * 16 * 16));
  EXPECT_EQ(layers[1].bytes, layers[0].bytes);
  EXPECT_EQ(layers[0].shapes, "[2, 64, 32, 32] -> [2, 128, 16, 16]");
}

TEST(ConvRoofline, DcganSixtyFourAtBatch128IsAbout320GflopPerIteration) {
  DcganConfig cfg;  // DCGAN-64: nz 100, ngf = ndf = 64
  auto G = dcgan_generator(cfg);
  auto D = dcgan_discriminator(cfg);
  ConvRecorder rec;
  {
    NoGradGuard no_grad;
    (void)D->forward(G->forward(randn({1, 100, 1, 1})));  // shapes at batch 1; FLOPs scale with the batch
  }
  EXPECT_EQ(rec.layers().size(), 10u);
  // G once and D three times per iteration (real, fake, and the generator step), three passes each, batch 128.
  double iteration = 0;
  for (const ConvLayerCost& l : rec.layers())
    iteration += 3 * 128 * l.flops * (l.layer.rfind("ConvTranspose2d", 0) == 0 ? 1 : 3);
  EXPECT_NEAR(iteration / 1e9, 319.5, 0.5);
  const std::string table = roofline_table(rec.layers(), 1, h200_spec_sheet_peaks());
  EXPECT_NE(table.find("ConvTranspose2d(100, 512"), std::string::npos) << table;
  EXPECT_NE(table.find("not yet measured"), std::string::npos);
}

}  // namespace
}  // namespace gan::models
