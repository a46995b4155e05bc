// A training step on the CUDA backend never makes the host wait for the device, and after warm-up it obtains no
// new device memory: the losses stay on the device (kernels/losses.h _to twins), batch norm counts its batches on
// the device (one launch), labels become one-hot vectors there (cgan, infogan), and the caching allocator serves
// every block. Counted with kernels/cuda/sync_count.h and
// allocator.h; the counts are the same in the emulator as on a GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/nn/functional.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/optimizers.h"
#include "gpu_test_util.h"
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/launch_count.h"
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
  kc::reset_launch_counts();
  for (int i = 0; i < 3; ++i) (void)bn.forward(x);
  EXPECT_EQ(kc::sync_count(), 0u) << sync_reasons();
  // One launch per forward counts the batch (a fused int64 increment, not a round trip through float64).
  uint64_t counter_launches = 0;
  for (const kc::KernelLaunches& k : kc::launch_counts())
    if (k.kernel.find("count_batch") != std::string::npos) counter_launches += k.launches;
  EXPECT_EQ(counter_launches, 3u);
  EXPECT_EQ(bn.num_batches_tracked.item(), 4.0);
  EXPECT_EQ(bn.num_batches_tracked.dtype(), DType::Int64);
}

TEST_F(StepWithoutSyncs, OneHotIsBuiltOnTheDeviceAsOnTheHost) {
  const std::vector<int64_t> values = {2, 0, 4, 4, 1, 3, 0};
  const Tensor host = from_vector(values, {7});
  const Tensor dev = host.to(kGpu);
  (void)dev.to(Device::cpu());  // nothing pending in the staging buffer
  kc::reset_sync_counts();
  const Tensor f = F::one_hot(dev, 5), d = F::one_hot(dev, 6, DType::Float64), i = F::one_hot(dev, 5, DType::Int64);
  EXPECT_EQ(kc::sync_count(), 0u) << "one_hot on a device must not read its labels back: " << sync_reasons();
  EXPECT_TRUE(f.device().is_cuda());
  EXPECT_EQ(f.shape(), (Shape{7, 5}));
  EXPECT_EQ(f.to_vector<float>(), F::one_hot(host, 5).to_vector<float>());
  EXPECT_EQ(d.to_vector<double>(), F::one_hot(host, 6, DType::Float64).to_vector<double>());
  EXPECT_EQ(i.to_vector<int64_t>(), F::one_hot(host, 5, DType::Int64).to_vector<int64_t>());
  // Inferring num_classes needs the largest label: that one reads back, and gives the host's answer.
  EXPECT_EQ(F::one_hot(dev, -1).to_vector<float>(), F::one_hot(host, -1).to_vector<float>());
  // Unchecked on the device (as documented): an out-of-range label gives an all-zero row, never a stray write.
  const Tensor bad = F::one_hot(from_vector<int64_t>({1, 7, -1}, {3}).to(kGpu), 3);
  EXPECT_EQ(bad.to_vector<float>(), (std::vector<float>{0, 1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_THROW((void)F::one_hot(from_vector<int64_t>({1, 7, -1}, {3}), 3), std::out_of_range);
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

// Two warm-up iterations of `model`, then two counted ones: no host waits, no new device memory, every logged value
// a device tensor (finite, read after the count). Returns the last iteration's values.
models::Metrics expect_settled_iterations(models::GanModel& model,
                                          const std::function<std::pair<Tensor, Tensor>()>& next_batch) {
  models::Metrics m;
  for (int i = 0; i < 2; ++i) m = model.train_step(next_batch);
  kc::synchronize();
  kc::reset_sync_counts();
  kc::reset_device_mallocs();
  for (int i = 0; i < 2; ++i) m = model.train_step(next_batch);
  EXPECT_EQ(kc::sync_count(), 0u) << sync_reasons();
  EXPECT_EQ(kc::device_mallocs().bytes, 0u);
  for (const auto& [key, value] : m) {
    EXPECT_TRUE(value.tensor().device().is_cuda()) << key;
    EXPECT_TRUE(std::isfinite(value.value())) << key;
  }
  return m;
}

TEST_F(StepWithoutSyncs, WganGpIterationAfterWarmUp) {
  if (!kc::caching_enabled()) GTEST_SKIP() << "GAN_CUDA_ALLOC=direct frees with cudaFree, which waits, by design";
  std::unique_ptr<models::GanModel> model =
      models::create_zoo_model("wgan-gp",
                               {.kind = data::ExampleKind::Image, .channels = 3, .image_size = 32, .class_names = {}},
                               kGpu, 1,
                               {{"ngf", 8}, {"ndf", 8}, {"nz", 16}, {"n_critic", 2}});
  const Tensor real = rand({4, 3, 32, 32}, DType::Float32, nullptr, -1.0, 1.0, kGpu);
  EXPECT_EQ(expect_settled_iterations(*model, [&] { return std::pair{real, Tensor()}; }).size(), 4u);
}

// CGAN (the batch's labels, one-hot on the device, and random fake labels) and InfoGAN (random codes, the
// categorical and continuous information terms) through the zoo: no waits, no new memory after warm-up.
TEST_F(StepWithoutSyncs, CganAndInfoganIterationsAfterWarmUp) {
  if (!kc::caching_enabled()) GTEST_SKIP() << "GAN_CUDA_ALLOC=direct frees with cudaFree, which waits, by design";
  const data::DataSpec spec{
      .kind = data::ExampleKind::Image, .channels = 1, .image_size = 32, .num_classes = 3, .class_names = {}};
  const Tensor real = rand({4, 1, 32, 32}, DType::Float32, nullptr, -1.0, 1.0, kGpu);
  const Tensor labels = from_vector<int64_t>({2, 0, 1, 2}, {4}).to(kGpu);
  for (const std::string name : {"cgan", "infogan"}) {
    SCOPED_TRACE(name);
    std::unique_ptr<models::GanModel> model =
        models::create_zoo_model(name, spec, kGpu, 1, {{"ngf", 8}, {"ndf", 8}, {"nz", 16}});
    EXPECT_EQ(expect_settled_iterations(*model, [&] { return std::pair{real, labels}; }).size(),
              name == "cgan" ? 4u : 5u);
  }
}

}  // namespace
}  // namespace gan::testing
