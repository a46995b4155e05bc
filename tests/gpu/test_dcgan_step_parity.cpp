// Whole DCGAN training iterations (D on real + fake, then G through the updated D; Adam) on the GPU against the
// same iterations on the CPU, from the same weights, data and noise: the end-to-end check that the CUDA kernels
// compose (transposed conv, conv, batch norm fused with ReLU/LeakyReLU, BCE-with-logits, fused Adam, running
// statistics) the way the CPU reference does.
#include <cmath>
#include <string>
#include <tuple>

#include "engine/optim/optimizers.h"
#include "gpu_test_util.h"
#include "models/common.h"
#include "models/dcgan.h"

namespace gan {
namespace {

using testing::parity;

class DcganStepParity : public testing::CudaTest {};

struct Pair {
  std::shared_ptr<models::SequentialNet> G, D;
};

// Both networks initialized from one seed, so the CPU pair and the pair moved to the GPU start bit-identical.
Pair make_pair(const models::DcganConfig& cfg, Device device) {
  Pair p{models::dcgan_generator(cfg), models::dcgan_discriminator(cfg)};
  Generator gen(7, 0);
  models::init_weights(*p.G, models::Init::Dcgan, gen);
  models::init_weights(*p.D, models::Init::Dcgan, gen);
  models::module_to(*p.G, device);
  models::module_to(*p.D, device);
  return p;
}

TEST_F(DcganStepParity, TwoIterationsOnCudaMatchTheCpu) {
  models::DcganConfig cfg;
  cfg.nz = 16;
  cfg.ngf = 8;
  cfg.ndf = 8;
  cfg.nc = 3;
  cfg.image_size = 32;
  const Device cuda = Device::cuda();
  Pair cpu = make_pair(cfg, Device::cpu()), gpu = make_pair(cfg, cuda);
  const optim::AdamOptions adam{.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999};
  optim::Adam cpu_opt_g(cpu.G->named_parameters(), adam), cpu_opt_d(cpu.D->named_parameters(), adam);
  optim::Adam gpu_opt_g(gpu.G->named_parameters(), adam), gpu_opt_d(gpu.D->named_parameters(), adam);

  Generator data_gen(11, 0);
  for (int iteration = 0; iteration < 2; ++iteration) {
    const Tensor real = rand({5, cfg.nc, 32, 32}, DType::Float32, &data_gen, -1.0, 1.0);
    const Tensor z = randn({5, cfg.nz, 1, 1}, DType::Float32, &data_gen);
    const models::DcganStepLosses want = models::dcgan_train_step(*cpu.G, *cpu.D, cpu_opt_g, cpu_opt_d, real, z);
    const models::DcganStepLosses got =
        models::dcgan_train_step(*gpu.G, *gpu.D, gpu_opt_g, gpu_opt_d, real.to(cuda), z.to(cuda));
    const std::string at = "iteration " + std::to_string(iteration);
    EXPECT_NEAR(got.d_real, want.d_real, 1e-4 * std::abs(want.d_real)) << at;
    EXPECT_NEAR(got.d_fake, want.d_fake, 1e-4 * std::abs(want.d_fake)) << at;
    EXPECT_NEAR(got.g, want.g, 1e-4 * std::abs(want.g)) << at;
  }
  // Weights after two Adam steps. Adam's first steps move each weight by about lr * sign(gradient), so a gradient
  // element within float rounding of zero may step the other way on one device: 1e-3 of a layer's norm allows a
  // couple of such elements while still catching any systematic difference.
  for (const auto& [net_cpu, net_gpu, name] :
       {std::tuple{cpu.G.get(), gpu.G.get(), "G"}, std::tuple{cpu.D.get(), gpu.D.get(), "D"}}) {
    const nn::NamedTensors want = net_cpu->state_dict(), got = net_gpu->state_dict();
    ASSERT_EQ(want.size(), got.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const auto& [key, w] = want[i];
      ASSERT_EQ(got[i].first, key);
      const Tensor& g = got[i].second;
      EXPECT_TRUE(g.device().is_cuda()) << name << "." << key;
      EXPECT_TRUE(parity(g, w, std::string(name) + "." + key, 1e-3));
    }
  }
}

}  // namespace
}  // namespace gan
