// A training step on the CUDA backend never makes the host wait for the device, and after warm-up it obtains no
// new device memory: the losses stay on the device (kernels/losses.h _to twins), batch norm counts its batches on
// the device, and the caching allocator serves every block. Counted with kernels/cuda/sync_count.h and
// allocator.h; the counts are the same in the emulator as on a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>

#include "engine/nn/functional.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/optimizers.h"
#include "gpu_test_util.h"
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/sync_count.h"
#include "kernels/losses.h"
#include "models/common.h"
#include "models/dcgan.h"
#include "models/model.h"

namespace gan::testing {
namespace {

namespace kc = gan::kernels::cuda;
namespace F = nn::functional;
const Device kGpu = Device::cuda(0);

class StepWithoutSyncs : public CudaTest {};

// "copy to host: 2; ..." for failure messages.
std::string sync_reasons() {
  std::string out;
  for (const kc::HostSyncs& s : kc::sync_counts()) out += s.reason + ": " + std::to_string(s.syncs) + "; ";
  return out;
}

uint64_t syncs_for(const std::string& reason) {
  for (const kc::HostSyncs& s : kc::sync_counts())
    if (s.reason == reason) return s.syncs;
  return 0;
}

TEST_F(StepWithoutSyncs, LossesStayOnTheDeviceWithTheValueTheHostTwinReturns) {
  Generator gen(3, 0);
  const Tensor x = randn({37}, DType::Float32, &gen).to(kGpu), t = rand({37}, DType::Float32, &gen).to(kGpu);
  const Tensor y = randn({29}, DType::Float32, &gen).to(kGpu);
  (void)F::hinge_critic_loss(x, y);  // warm-up: the reduction scratch grows (and waits) at its first use
  (void)x.to(Device::cpu());          // nothing pending in the staging buffer
  kc::reset_sync_counts();
  const Tensor bce = F::bce_with_logits(x, t), mse = F::mse_loss(x, t);
  const Tensor wc = F::wasserstein_critic_loss(x, y), wg = F::wasserstein_generator_loss(y);
  const Tensor hc = F::hinge_critic_loss(x, y);
  EXPECT_EQ(kc::sync_count(), 0u) << "computing a loss must not wait for the device: " << sync_reasons();
  for (const Tensor& l : {bce, mse, wc, wg, hc}) {
    EXPECT_TRUE(l.device().is_cuda());
    EXPECT_EQ(l.dim(), 0);
  }
#if defined(GAN_WITH_CUDA)  // the kernels' CUDA twins exist only in a CUDA (or emulator) build
  // The value-returning twins copy the sum back and scale it on the host: the same bits.
  const float* xp = x.data<float>();
  const float* tp = t.data<float>();
  const float* yp = y.data<float>();
  EXPECT_EQ(static_cast<float>(bce.item()),
            kc::bce_with_logits<float>(xp, tp, 37, 37.0, nullptr, nullptr, nullptr));
  EXPECT_EQ(static_cast<float>(mse.item()), kc::mse<float>(xp, tp, 37, 37.0, nullptr, nullptr, nullptr));
  EXPECT_EQ(static_cast<float>(wc.item()), kc::wasserstein<float>(xp, 37, 37.0, yp, 29, 29.0));
  EXPECT_EQ(static_cast<float>(wg.item()), kc::wasserstein<float>(yp, 29, 29.0, nullptr, 0, 1.0));
  const double hinge_sum = static_cast<double>(kc::hinge<float>(xp, 37, -1.0, 37.0, nullptr, nullptr)) +
                           static_cast<double>(kc::hinge<float>(yp, 29, 1.0, 29.0, nullptr, nullptr));
  EXPECT_EQ(static_cast<float>(hc.item()), static_cast<float>(hinge_sum));
#endif
  // And the CPU's value, to float rounding.
  EXPECT_NEAR(bce.item(), F::bce_with_logits(x.to(Device::cpu()), t.to(Device::cpu())).item(), 1e-6);
}

TEST_F(StepWithoutSyncs, BatchNormCountsItsBatchesOnTheDevice) {
  nn::BatchNorm bn(4, 4);
  models::module_to(bn, kGpu);
  const Tensor x = randn({3, 4, 5, 5}, DType::Float32).to(kGpu);
  (void)bn.forward(x);  // warm-up: the reduction scratch grows (and waits) at its first use
  (void)x.to(Device::cpu());
  kc::reset_sync_counts();
  for (int i = 0; i < 3; ++i) (void)bn.forward(x);
  EXPECT_EQ(kc::sync_count(), 0u) << sync_reasons();
  EXPECT_EQ(bn.num_batches_tracked.item(), 4.0);
}

// DCGAN (a small one) and WGAN-GP through the zoo: after two warm-up iterations an iteration waits for nothing
// and allocates nothing new.
models::DcganConfig small_dcgan() {
  models::DcganConfig cfg;
  cfg.nz = 16;
  cfg.ngf = 8;
  cfg.ndf = 8;
  cfg.image_size = 32;
  return cfg;
}

TEST_F(StepWithoutSyncs, DcganIterationAfterWarmUp) {
  if (!kc::caching_enabled()) GTEST_SKIP() << "GAN_CUDA_ALLOC=direct frees with cudaFree, which waits, by design";
  const models::DcganConfig cfg = small_dcgan();
  auto G = models::dcgan_generator(cfg);
  auto D = models::dcgan_discriminator(cfg);
  models::module_to(*G, kGpu);
  models::module_to(*D, kGpu);
  const optim::AdamOptions adam{.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999};
  optim::Adam opt_g(G->named_parameters(), adam), opt_d(D->named_parameters(), adam);
  const Tensor real = rand({6, 3, 32, 32}, DType::Float32, nullptr, -1.0, 1.0, kGpu);
  const auto step = [&] {
    return models::dcgan_train_step(*G, *D, opt_g, opt_d, real,
                                    randn({6, cfg.nz, 1, 1}, DType::Float32, nullptr, 0.0, 1.0, kGpu));
  };
  // The warm-up holds the previous iteration's losses while the next runs, as the measured loop does.
  models::DcganStepLosses losses;
  for (int i = 0; i < 2; ++i) losses = step();
  kc::synchronize();
  kc::reset_sync_counts();
  kc::reset_device_mallocs();
  for (int i = 0; i < 2; ++i) losses = step();
  EXPECT_EQ(kc::sync_count(), 0u) << sync_reasons();
  EXPECT_EQ(kc::device_mallocs().bytes, 0u);
  EXPECT_TRUE(losses.g.tensor().device().is_cuda());
  EXPECT_TRUE(std::isfinite(losses.g.value()));  // the read is where the host waits
  EXPECT_EQ(syncs_for("copy to host"), 1u) << sync_reasons();
}

TEST_F(StepWithoutSyncs, WganGpIterationAfterWarmUp) {
  if (!kc::caching_enabled()) GTEST_SKIP() << "GAN_CUDA_ALLOC=direct frees with cudaFree, which waits, by design";
  const models::ModelEntry* entry = models::find_model("wgan-gp");
  ASSERT_NE(entry, nullptr);
  models::ModelContext ctx;
  ctx.data.kind = data::ExampleKind::Image;
  ctx.data.channels = 3;
  ctx.data.image_size = 32;
  ctx.device = kGpu;
  ctx.seed = 1;
  ctx.config = models::resolve_config(*entry, {{"ngf", 8}, {"ndf", 8}, {"nz", 16}, {"n_critic", 2}});
  std::unique_ptr<models::GanModel> model = entry->create(ctx);
  const Tensor real = rand({4, 3, 32, 32}, DType::Float32, nullptr, -1.0, 1.0, kGpu);
  const std::function<std::pair<Tensor, Tensor>()> next_batch = [&] { return std::pair{real, Tensor()}; };
  models::Metrics m;
  for (int i = 0; i < 2; ++i) m = model->train_step(next_batch);
  kc::synchronize();
  kc::reset_sync_counts();
  kc::reset_device_mallocs();
  for (int i = 0; i < 2; ++i) m = model->train_step(next_batch);
  EXPECT_EQ(kc::sync_count(), 0u) << sync_reasons();
  EXPECT_EQ(kc::device_mallocs().bytes, 0u);
  ASSERT_EQ(m.size(), 4u);
  for (const auto& [name, value] : m) EXPECT_TRUE(value.tensor().device().is_cuda()) << name;
}

}  // namespace
}  // namespace gan::testing
