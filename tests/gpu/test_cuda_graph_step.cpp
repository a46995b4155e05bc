// A whole training iteration captured once as a CUDA graph and replayed (models/graph_step.h) gives exactly what
// the eager iterations give: from the same state, k iterations through GraphedStep (2 eager warm-up, 1 capture +
// replay, then replays) and k eager iterations end with bit-identical parameters, batch-norm buffers, optimizer
// state (moments, step counts, settings) and Philox offsets, and log bit-identical values at every iteration. A
// value frozen at capture (Adam's bias correction, a noise offset) would break this. A replayed iteration is one
// launch, no host synchronization and no new device memory. Fallbacks: a batch of another shape runs eagerly
// between replays (and the two paths still agree), a step that reads a loss on the host is detected and runs
// eagerly (an error with --cuda-graph on). DCGAN and WGAN-GP (n_critic critic steps with the double-backward
// penalty inside the graph), small widths and images so the emulator runs them in seconds.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/ops.h"
#include "engine/optim/optimizers.h"
#include "engine/rng.h"
#include "gpu_test_util.h"
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/sync_count.h"
#include "models/common.h"
#include "models/dcgan.h"
#include "models/graph_step.h"
#include "models/model.h"

namespace gan::testing {
namespace {

namespace kc = gan::kernels::cuda;
using models::Metrics;
using models::NamedTensors;
const Device kGpu = Device::cuda(0);

class CudaGraphStep : public CudaTest {};

std::vector<uint8_t> bytes_of(const Tensor& t) {
  const Tensor c = t.detach().to(Device::cpu()).contiguous();
  std::vector<uint8_t> out(static_cast<size_t>(c.numel()) * dtype_size(c.dtype()));
  if (!out.empty()) std::memcpy(out.data(), c.raw_data(), out.size());
  return out;
}

void expect_identical(const NamedTensors& a, const NamedTensors& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first) << what;
    EXPECT_EQ(a[i].second.shape(), b[i].second.shape()) << what << " " << a[i].first;
    EXPECT_TRUE(bytes_of(a[i].second) == bytes_of(b[i].second)) << what << ": " << a[i].first << " differs";
  }
}

// The logged values of one iteration, on the host.
std::vector<std::pair<std::string, double>> values_of(const Metrics& m) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [name, metric] : m) out.emplace_back(name, metric.value());
  return out;
}

models::GraphedStep::Options options(models::CudaGraphMode mode, int64_t warmup, std::vector<std::string>* log,
                                    std::string blocker = "") {
  models::GraphedStep::Options o;
  o.mode = mode;
  o.warmup = warmup;
  if (log != nullptr) o.log = [log](const std::string& line) { log->push_back(line); };
  o.blocker = std::move(blocker);
  return o;
}

// Counters of one iteration.
struct Counts {
  uint64_t launches = 0, syncs = 0, malloc_bytes = 0;
};

template <typename F>
Counts count(F&& f) {
  kc::reset_launch_counts();
  kc::reset_sync_counts();
  kc::reset_device_mallocs();
  f();
  return {kc::launch_count(), kc::sync_count(), kc::device_mallocs().bytes};
}

// ---- DCGAN (models::dcgan_train_step, noise drawn inside the step) ----

struct Dcgan {
  models::DcganConfig cfg;
  std::shared_ptr<nn::Module> G, D;
  std::unique_ptr<optim::Adam> opt_g, opt_d;
  Generator noise{11, 3};

  Dcgan() {
    cfg.nz = 16, cfg.ngf = 8, cfg.ndf = 8, cfg.nc = 3, cfg.image_size = 32;
    manual_seed(5);
    G = models::dcgan_generator(cfg);
    D = models::dcgan_discriminator(cfg);
    models::module_to(*G, kGpu);
    models::module_to(*D, kGpu);
    const optim::AdamOptions adam{.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999};
    opt_g = std::make_unique<optim::Adam>(G->named_parameters(), adam);
    opt_d = std::make_unique<optim::Adam>(D->named_parameters(), adam);
  }

  Metrics step(const models::NextBatch& next_batch) {
    const Tensor real = next_batch().first;
    const Tensor z = randn({real.shape()[0], cfg.nz, 1, 1}, DType::Float32, &noise, 0.0, 1.0, kGpu);
    const models::DcganStepLosses l = models::dcgan_train_step(*G, *D, *opt_g, *opt_d, real, z);
    return {{"d_real", l.d_real}, {"d_fake", l.d_fake}, {"g", l.g}};
  }

  NamedTensors everything() const {
    NamedTensors out;
    for (const auto& [n, t] : G->state_dict()) out.emplace_back("G." + n, t);
    for (const auto& [n, t] : D->state_dict()) out.emplace_back("D." + n, t);
    for (const auto& [n, t] : opt_g->state()) out.emplace_back("opt_g." + n, t);
    for (const auto& [n, t] : opt_d->state()) out.emplace_back("opt_d." + n, t);
    out.emplace_back("noise.offset", scalar_tensor(static_cast<double>(noise.offset()), DType::Float64));
    return out;
  }
};

// Real batches, the same for both runs; `sizes` gives each iteration's batch size.
std::vector<Tensor> batches(const std::vector<int64_t>& sizes) {
  Generator g(99, 0);
  std::vector<Tensor> out;
  for (const int64_t n : sizes) out.push_back(rand({n, 3, 32, 32}, DType::Float32, &g, -1.0, 1.0, kGpu));
  return out;
}

TEST_F(CudaGraphStep, DcganReplaysAreEagerStepsBitForBitInOneLaunch) {
  const std::vector<Tensor> data = batches(std::vector<int64_t>(7, 8));
  Dcgan eager, graphed;
  std::vector<std::vector<std::pair<std::string, double>>> eager_values, graph_values;
  for (const Tensor& real : data)
    eager_values.push_back(values_of(eager.step([&] { return std::pair{real, Tensor()}; })));

  std::vector<std::string> log;
  {
    models::GraphedStep gs(kGpu, options(models::CudaGraphMode::On, 2, &log));
    const models::StepFn step = [&](const models::NextBatch& nb) { return graphed.step(nb); };
    for (size_t i = 0; i < data.size(); ++i) {
      const models::NextBatch nb = [&] { return std::pair{data[i], Tensor()}; };
      Metrics m;
      const Counts c = count([&] { m = gs.run(step, nb); });
      graph_values.push_back(values_of(m));
      if (i >= 3) {  // replays after the capture iteration
        EXPECT_TRUE(gs.replaying());
        EXPECT_EQ(c.launches, 1u) << "iteration " << i;
        EXPECT_EQ(c.syncs, 0u) << "iteration " << i;
        EXPECT_EQ(c.malloc_bytes, 0u) << "iteration " << i;
      }
    }
    EXPECT_EQ(gs.replays(), 5);
    EXPECT_GT(gs.graph_nodes(), 100u);
  }
  EXPECT_EQ(graph_values, eager_values);
  expect_identical(graphed.everything(), eager.everything(), "after 7 iterations");
  ASSERT_FALSE(log.empty());
  EXPECT_NE(log.back().find("captured"), std::string::npos) << log.back();
}

TEST_F(CudaGraphStep, ABatchOfAnotherSizeRunsEagerlyBetweenReplaysAndStaysIdentical) {
  const std::vector<Tensor> data = batches({8, 8, 8, 8, 5, 8, 8});
  Dcgan eager, graphed;
  for (const Tensor& real : data) (void)values_of(eager.step([&] { return std::pair{real, Tensor()}; }));
  std::vector<std::string> log;
  {
    models::GraphedStep gs(kGpu, options(models::CudaGraphMode::Auto, 2, &log));
    const models::StepFn step = [&](const models::NextBatch& nb) { return graphed.step(nb); };
    for (const Tensor& real : data) (void)values_of(gs.run(step, [&] { return std::pair{real, Tensor()}; }));
    EXPECT_TRUE(gs.replaying());
    EXPECT_EQ(gs.replays(), 4);  // iterations 2, 3, 5, 6; 4 ran eagerly
  }
  expect_identical(graphed.everything(), eager.everything(), "with an eager step between replays");
  int said = 0;
  for (const std::string& l : log) said += l.find("another shape") != std::string::npos;
  EXPECT_EQ(said, 1);
}

TEST_F(CudaGraphStep, AStepThatReadsALossOnTheHostIsDetectedAndRunsEagerly) {
  // Two warm-up iterations, the last repeated twice more (kExtraWarmups) while it waits, then given up.
  const std::vector<Tensor> data = batches(std::vector<int64_t>(5, 4));
  Dcgan model;
  const models::StepFn step = [&](const models::NextBatch& nb) {
    Metrics m = model.step(nb);
    if (m[2].second.value() > 1e30) throw std::runtime_error("unreachable");  // reads a loss: a host sync
    return m;
  };
  std::vector<std::string> log;
  models::GraphedStep gs(kGpu, options(models::CudaGraphMode::Auto, 2, &log));
  for (const Tensor& real : data) (void)gs.run(step, [&] { return std::pair{real, Tensor()}; });
  EXPECT_FALSE(gs.replaying());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("wait for the device"), std::string::npos) << log[0];

  Dcgan strict_model;
  models::GraphedStep strict(kGpu, options(models::CudaGraphMode::On, 1, nullptr));
  const models::StepFn strict_step = [&](const models::NextBatch& nb) {
    Metrics m = strict_model.step(nb);
    (void)m[2].second.value();
    return m;
  };
  for (int extra = 0; extra < 2; ++extra)
    EXPECT_NO_THROW((void)strict.run(strict_step, [&] { return std::pair{data[0], Tensor()}; }));
  EXPECT_THROW((void)strict.run(strict_step, [&] { return std::pair{data[0], Tensor()}; }), std::runtime_error);
}

// One warm-up iteration that waits once (as a scratch buffer growing at its first use does): the warm-up runs once
// more instead of giving the graph up, and the step is captured.
TEST_F(CudaGraphStep, AWaitInTheLastWarmupOnlyLengthensTheWarmup) {
  const std::vector<Tensor> data = batches(std::vector<int64_t>(4, 4));
  Dcgan model;
  int calls = 0;
  const models::StepFn step = [&](const models::NextBatch& nb) {
    Metrics m = model.step(nb);
    if (calls++ == 0) (void)m[2].second.value();  // the first call reads a loss: a host sync
    return m;
  };
  std::vector<std::string> log;
  models::GraphedStep gs(kGpu, options(models::CudaGraphMode::On, 1, &log));
  for (const Tensor& real : data) (void)gs.run(step, [&] { return std::pair{real, Tensor()}; });
  EXPECT_TRUE(gs.replaying());
  EXPECT_EQ(gs.disabled_reason(), "");
  for (const std::string& line : log) EXPECT_EQ(line.find("wait for the device"), std::string::npos) << line;
}

TEST_F(CudaGraphStep, TheCpuDeviceKeepsItsEagerPath) {
  std::vector<std::string> log;
  models::GraphedStep gs(Device::cpu(), options(models::CudaGraphMode::Auto, 2, &log));
  int calls = 0;
  const models::StepFn step = [&](const models::NextBatch&) {
    ++calls;
    return Metrics{{"x", 1.0}};
  };
  for (int i = 0; i < 4; ++i) (void)gs.run(step, [] { return std::pair{Tensor(), Tensor()}; });
  EXPECT_EQ(calls, 4);
  EXPECT_FALSE(gs.replaying());
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("cpu"), std::string::npos) << log[0];
  EXPECT_THROW(models::GraphedStep(Device::cpu(), options(models::CudaGraphMode::On, 2, nullptr)),
               std::runtime_error);
}

// ---- WGAN-GP through the zoo: n_critic batches per iteration, the penalty's double backward in the graph ----

// Zoo model `name` on the GPU for 3 x 32 x 32 images, its flags overridden by `flags`.
std::unique_ptr<models::GanModel> zoo_model(const std::string& name, const nlohmann::json& flags) {
  manual_seed(4);
  const data::DataSpec images{.kind = data::ExampleKind::Image, .channels = 3, .image_size = 32, .class_names = {}};
  return models::create_zoo_model(name, images, kGpu, 4, flags);
}

std::unique_ptr<models::GanModel> small_wgan_gp() {
  return zoo_model("wgan-gp", {{"nz", 16}, {"ngf", 8}, {"ndf", 8}, {"n_critic", 3}});
}

TEST_F(CudaGraphStep, WganGpReplaysAreEagerStepsBitForBitInOneLaunch) {
  const std::vector<Tensor> data = batches(std::vector<int64_t>(5, 4));
  constexpr int kIterations = 5;
  auto eager = small_wgan_gp(), graphed = small_wgan_gp();
  std::vector<std::vector<std::pair<std::string, double>>> eager_values, graph_values;
  size_t next = 0;
  const models::NextBatch eager_batches = [&] { return std::pair{data[next++ % data.size()], Tensor()}; };
  for (int i = 0; i < kIterations; ++i) eager_values.push_back(values_of(eager->train_step(eager_batches)));

  next = 0;
  {
    models::GraphedStep gs(kGpu, options(models::CudaGraphMode::On, 2, nullptr, graphed->cuda_graph_blocker()));
    const models::StepFn step = [&](const models::NextBatch& nb) { return graphed->train_step(nb); };
    for (int i = 0; i < kIterations; ++i) {
      Metrics m;
      const Counts c = count([&] { m = gs.run(step, eager_batches); });
      graph_values.push_back(values_of(m));
      if (i >= 3) {
        EXPECT_EQ(c.launches, 1u) << "iteration " << i;
        EXPECT_EQ(c.syncs, 0u) << "iteration " << i;
        EXPECT_EQ(c.malloc_bytes, 0u) << "iteration " << i;
      }
    }
    EXPECT_EQ(gs.replays(), 3);
  }
  EXPECT_EQ(graph_values, eager_values);
  expect_identical(graphed->state(), eager->state(), "WGAN-GP after 5 iterations");
}

TEST_F(CudaGraphStep, ModelsWithHostSideSchedulesSaySo) {
  const nlohmann::json small = {{"nz", 8}, {"ngf", 8}, {"ndf", 8}};
  nlohmann::json lazy_r1 = small;
  lazy_r1["r1"] = 1.0;
  lazy_r1["r1_every"] = 4;
  EXPECT_NE(zoo_model("dcgan", lazy_r1)->cuda_graph_blocker().find("r1"), std::string::npos);
  EXPECT_EQ(zoo_model("dcgan", small)->cuda_graph_blocker(), "");
  // Unrolled GAN's k differentiable Adam steps take host bias corrections: captured, its replays diverged.
  EXPECT_NE(zoo_model("unrolled", small)->cuda_graph_blocker().find("bias corrections"), std::string::npos);
}

}  // namespace
}  // namespace gan::testing
