// Times whole GAN training iterations on the default device (GAN_DEVICE; CUDA when this build has it and a GPU is
// present, else the CPU). The PyTorch peer is benchmarks/pytorch_train_step.py (the same networks, losses,
// optimizers and iteration); benchmarks/make_train_step_table.py turns both outputs into
// benchmarks/results/train-step.md, and the GPU bundle (scripts/gpu_check.py) runs both on a GPU machine.
//
// What one iteration is:
//   dcgan64    DCGAN (Radford 2015) at 64 px: models::dcgan_generator / dcgan_discriminator with nz 100,
//              ngf = ndf = 64, 3 channels (G: ConvT 100->512 (4x4), BN+ReLU, ConvT 512->256->128->64 (stride 2),
//              each BN+ReLU, ConvT 64->3, tanh; D: Conv 3->64 (stride 2), LeakyReLU(0.2), Conv 64->128->256->512
//              (stride 2), each BN+LeakyReLU(0.2), Conv 512->1 (4x4), Flatten; no conv biases; batch norm fused
//              with its activation, the zoo's default). models::dcgan_train_step: D on real + fake (fake detached),
//              BCE-with-logits, Adam step; then G through the updated D, Adam step. Adam (2e-4, 0.5, 0.999).
//              Batches 64, 128, 256.
//   dcgan32    The same at 32 px (G: ConvT 100->256 (4x4), then 256->128->64 (stride 2), ConvT 64->3; D the mirror
//              image, 3->64->128->256, Conv 256->1); dcgan32_unfused with batch norm and activation as separate
//              ops. Only with --train_dcgan32_batches (the CPU comparison, benchmarks/cpu_vs_pytorch.py).
//   wgan_gp64  The zoo's "wgan-gp" model (models/wgan_gp.cpp, created through the registry with its paper
//              defaults) on 3 x 64 x 64 images: n_critic = 5 critic steps, each on a real batch and a fake batch
//              from G under no-grad, with the gradient penalty lambda = 10 at per-sample interpolates (double
//              backward), then 1 generator step; Adam 1e-4, betas (0, 0.9) for both. Generator: the DCGAN-64
//              generator above (nz 100, ngf 64, batch norm). Critic: the DCGAN-64 discriminator layout (ndf 64)
//              with layer norm over [C, H, W] (elementwise affine) instead of batch norm after convs 2-4
//              (critic_norm "layer", the zoo default), and [N, 1] scores. The model draws its latent noise and
//              penalty mixing weights on the device from its own Philox generator, as it does in training.
//              Batch 64.
//
// Real data is one random tensor in [-1, 1] created on the device before timing (no data loading is timed).
// Warm-up iterations (3 on CUDA, 1 on the CPU) run before the timed loop and are excluded. Every iteration ends
// with a device synchronization by the loop (the step functions leave their losses on the device, models/model.h
// Metric). Counters, per timed iteration, counted around the step call only (not the loop's own synchronize):
// launches_per_iter (kernel launches, kernels/cuda/launch_count.h), host_syncs_per_iter (times the host waited
// for the device, kernels/cuda/sync_count.h), new_device_bytes_per_iter and cuda_mallocs_per_iter (device
// memory newly obtained from cudaMalloc, kernels/cuda/allocator.h: 0 once the caching allocator is warm). These
// are 0 on the CPU backend and the same in the emulator build (GAN_CUDA=EMU) as on a GPU. With --train_profile the
// program also prints, on stderr, the most launched kernels, the sync reasons and a roofline table of the conv
// layers the timed iterations ran (models/conv_roofline.h, at the H200's spec-sheet peaks). Also: images_per_s
// (batch images per iteration, so a WGAN-GP iteration counts its generator batch once, not its five critic
// batches); peak_allocated_MiB: on CUDA from the caching allocator (kernels/cuda/allocator.h), with also
// peak_reserved_MiB (its cache is emptied before each run's models are built and its peaks are reset after the
// warm-up, so they cover the timed loop with the models, optimizer state and data resident; allocated sizes are
// the allocator's rounded blocks), on the CPU the host tensors' bytes (engine/storage.h: HostMemoryStats, the peak
// reset after the warm-up likewise). In the bf16 mode the activations saved for backward are bf16
// (engine/saved_activation.h; GAN_SAVE_BF16=0 turns that off, recorded in the context as gan_saved_bf16).
//
// Time: UseRealTime, milliseconds. Minimum time per benchmark: 3 s on CUDA, 1 s on the CPU (where one iteration
// at these sizes takes seconds to minutes, so one iteration is timed). Order: DCGAN batch 64, WGAN-GP batch 64,
// then DCGAN 128 and 256, so a run cut short still has both models; stdout is line-buffered for the same reason.
// For make_train_step_table.py, pass --benchmark_context=commit=SHA (the GPU runner does).
//
// Options (besides Google Benchmark's own; the installed 1.7 takes --benchmark_min_time only in seconds, so this
// program reads that flag itself and also accepts the newer forms "2s" and "5x" = exactly 5 iterations):
//   --benchmark_min_time=S | Ss | Nx   minimum time per benchmark in seconds, or a fixed iteration count
//   --train_warmup=N                   warm-up iterations (env GAN_BENCH_WARMUP)
//   --train_batches=64,128,256         DCGAN-64 batch sizes
//   --train_wgan_batches=64            WGAN-GP batch sizes
//   --train_dcgan32_batches=           DCGAN-32 batch sizes, fused and unfused (default: none)
//   --train_profile                    print top kernels, sync reasons and the conv roofline (stderr)
//   --train_cuda_graph=auto|on|off     on: the iteration (noise drawn inside it) runs through models::GraphedStep
//                                      (models/graph_step.h): the warm-up iterations eagerly, then one iteration
//                                      captured as a CUDA graph and replayed, all before the timed loop, whose
//                                      iterations are replays (launches_per_iter 1). A failed capture is an error.
//                                      auto (the default, what `gan train` does): on for a CUDA device, but a
//                                      capture that fails falls back to eager iterations with the reason on stderr;
//                                      off on the CPU. off: eager. Recorded in the context as gan_cuda_graph, and
//                                      per benchmark as the counter cuda_graph_replayed (1: the timed iterations
//                                      were replays, 0: eager).
// An empty list ("--train_batches=") leaves that model out.
// Environment: GAN_BENCH_MIN_TIME (seconds, or "Nx"), GAN_BENCH_WARMUP; the float32 math mode (kernels/math_mode.h:
// GAN_PRECISION=fp32|tf32|bf16, TF32 by default with CUDA) is recorded in the context as gan_precision.
//
// A quick CPU smoke test (on a 2-core machine one DCGAN-64 iteration at batch 64 takes about 9 s and a WGAN-GP one
// much longer; small batches only check that it runs):
//   GAN_DEVICE=cpu build/benchmarks/train_step_bench --train_batches=8 --train_wgan_batches=4
//       --train_warmup=1 --benchmark_min_time=1x        (one command line)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/device.h"
#include "engine/optim/optimizers.h"
#include "engine/rng.h"
#include "engine/saved_activation.h"
#include "engine/storage.h"
#include "engine/tensor.h"
#include "kernels/blas_core.h"
#include "engine/step_profile.h"
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda_query.h"
#include "kernels/math_mode.h"
#include "models/common.h"
#include "models/conv_roofline.h"
#include "models/dcgan.h"
#include "models/graph_step.h"
#include "models/model.h"

namespace {

using namespace gan;

struct Settings {
  Device device;
  double min_time = 0;  // seconds (used when iterations == 0)
  int64_t iterations = 0;
  int64_t warmup = 0;
  std::vector<int64_t> dcgan_batches{64, 128, 256};
  std::vector<int64_t> wgan_batches{64};
  std::vector<int64_t> dcgan32_batches{};
  models::CudaGraphMode cuda_graph = models::CudaGraphMode::Auto;  // --train_cuda_graph
};

Settings g_settings;
bool g_profile = false;  // --train_profile: print the top kernels, the sync reasons and the conv roofline

constexpr double kMiB = 1024.0 * 1024.0;

// --train_cuda_graph on, or auto on a CUDA device: the warm-up iterations and the capture run through it before
// the timed loop.
std::unique_ptr<models::GraphedStep> graphed_step(Device d) {
  const models::CudaGraphMode mode = g_settings.cuda_graph;
  if (mode == models::CudaGraphMode::Off || (mode == models::CudaGraphMode::Auto && !d.is_cuda())) return nullptr;
  models::GraphedStep::Options o;
  o.mode = mode;
  o.warmup = std::max<int64_t>(g_settings.warmup, 1);
  o.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  return std::make_unique<models::GraphedStep>(d, o);
}

void sync(Device d) {
  if (d.is_cuda()) kernels::cuda::synchronize(d.index);
}

// Before a run builds its models: no leftovers of the previous run in the device cache, so peak_reserved is this
// run's own.
void begin_run(Device d) {
  if (!d.is_cuda()) return;
  sync(d);
  kernels::cuda::empty_cache();
}

// After the warm-up, right before the timed loop.
void reset_peaks(Device d) {
  if (!d.is_cuda()) {
    reset_host_peak();
    return;
  }
  sync(d);
  kernels::cuda::reset_peak_stats();
}

// The counters of the timed iterations (engine/step_profile.h) on the benchmark line; with --train_profile also
// the top kernels, the sync reasons and the conv roofline of the recorded layers, on stderr.
void report_counters(benchmark::State& state, const StepProfile& p, const std::string& what,
                     const std::optional<models::ConvRecorder>& convs) {
  state.counters["launches_per_iter"] = p.launches_per_iteration();
  state.counters["host_syncs_per_iter"] = p.syncs_per_iteration();
  state.counters["new_device_bytes_per_iter"] = p.new_device_bytes_per_iteration();
  state.counters["cuda_mallocs_per_iter"] = p.cuda_mallocs_per_iteration();
  if (!g_profile) return;
  std::fprintf(stderr, "\n%s, after warm-up: %s", what.c_str(), p.summary(15).c_str());
  if (convs)
    std::fprintf(stderr, "\nConv roofline of %s:\n\n%s\n", what.c_str(),
                 models::roofline_table(convs->layers(), static_cast<int64_t>(p.iterations()),
                                        models::h200_spec_sheet_peaks())
                     .c_str());
}

void report(benchmark::State& state, int64_t batch, Device d) {
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  if (d.is_cuda()) {
    const kernels::cuda::AllocatorStats s = kernels::cuda::allocator_stats(d.index);
    state.counters["peak_allocated_MiB"] = benchmark::Counter(static_cast<double>(s.peak_allocated_bytes) / kMiB);
    state.counters["peak_reserved_MiB"] = benchmark::Counter(static_cast<double>(s.peak_reserved_bytes) / kMiB);
  } else {
    state.counters["peak_allocated_MiB"] =
        benchmark::Counter(static_cast<double>(host_memory_stats().peak_allocated_bytes) / kMiB);
  }
  state.SetLabel(d.str());
}

void BM_Dcgan(benchmark::State& state, int64_t image_size, bool fused) {
  const Device dev = g_settings.device;
  const int64_t batch = state.range(0);
  try {
    begin_run(dev);
    {
      manual_seed(0);
      models::DcganConfig cfg;  // nz 100, ngf = ndf = 64, nc 3
      cfg.image_size = image_size;
      cfg.fuse_bn_activation = fused;
      auto G = models::dcgan_generator(cfg);
      auto D = models::dcgan_discriminator(cfg);
      models::module_to(*G, dev);
      models::module_to(*D, dev);
      const optim::AdamOptions adam{.lr = 2e-4, .beta1 = 0.5, .beta2 = 0.999};
      optim::Adam opt_g(G->named_parameters(), adam), opt_d(D->named_parameters(), adam);
      const Tensor real = rand({batch, cfg.nc, image_size, image_size}, DType::Float32, nullptr, -1.0, 1.0, dev);
      auto noise = [&] { return randn({batch, cfg.nz, 1, 1}, DType::Float32, nullptr, 0.0, 1.0, dev); };
      // Graph mode: the same iteration, its noise drawn inside (graph-safe Philox offsets, engine/rng.h).
      std::unique_ptr<models::GraphedStep> graphed = graphed_step(dev);
      const models::StepFn step = [&](const models::NextBatch& nb) {
        const models::DcganStepLosses l = models::dcgan_train_step(*G, *D, opt_g, opt_d, nb().first, noise());
        return models::Metrics{{"d_real", l.d_real}, {"d_fake", l.d_fake}, {"g", l.g}};
      };
      const models::NextBatch next_batch = [&] { return std::pair{real, Tensor()}; };
      if (graphed) {
        for (int64_t i = 0; i <= g_settings.warmup; ++i) (void)graphed->run(step, next_batch);  // + the capture
      } else {
        for (int64_t i = 0; i < g_settings.warmup; ++i) models::dcgan_train_step(*G, *D, opt_g, opt_d, real, noise());
      }
      reset_peaks(dev);
      StepProfile counters;
      std::optional<models::ConvRecorder> convs;  // the conv layers the timed iterations run (--train_profile)
      if (g_profile && !graphed) convs.emplace();  // a replay runs no host code: nothing to record
      for (auto _ : state) {
        models::Metrics l;
        counters.measure([&] { l = graphed ? graphed->run(step, next_batch) : step(next_batch); });
        sync(dev);  // the step leaves its losses on the device: wait for it here, outside the counted step
        benchmark::DoNotOptimize(l.data());
      }
      report(state, batch, dev);
      state.counters["cuda_graph_replayed"] = graphed && graphed->replaying() ? 1 : 0;
      report_counters(state, counters, "dcgan" + std::to_string(image_size) + " batch " + std::to_string(batch),
                      convs);
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// The zoo's WGAN-GP through the registry, with its defaults checked against what the header above states.
std::unique_ptr<models::GanModel> make_wgan_gp(Device dev) {
  const models::ModelEntry* entry = models::find_model("wgan-gp");
  if (entry == nullptr) throw std::runtime_error("the zoo has no model named wgan-gp");
  const nlohmann::json c = models::resolve_config(*entry, nlohmann::json::object());
  const bool as_stated = c.at("n_critic") == 5 && c.at("gp_lambda") == 10.0 && c.at("lr_g") == 1e-4 &&
                         c.at("lr_d") == 1e-4 && c.at("beta1") == 0.0 && c.at("beta2") == 0.9 &&
                         c.at("critic_norm") == "layer" && c.at("nz") == 100 && c.at("ngf") == 64 &&
                         c.at("ndf") == 64 && c.at("ema") == 0.0 && c.at("instance_noise") == 0.0;
  if (!as_stated)
    throw std::runtime_error("wgan-gp defaults changed (" + c.dump() +
                             "); update benchmarks/train_step_bench.cpp and benchmarks/pytorch_train_step.py");
  data::DataSpec images;  // 3 x 64 x 64, unlabeled
  images.channels = 3;
  images.image_size = 64;
  return models::create_zoo_model("wgan-gp", images, dev, 0);
}

void BM_WganGp64(benchmark::State& state) {
  const Device dev = g_settings.device;
  const int64_t batch = state.range(0);
  try {
    begin_run(dev);
    {
      std::unique_ptr<models::GanModel> model = make_wgan_gp(dev);
      const Tensor real = rand({batch, 3, 64, 64}, DType::Float32, nullptr, -1.0, 1.0, dev);
      const std::function<std::pair<Tensor, Tensor>()> next_batch = [&] { return std::pair{real, Tensor()}; };
      std::unique_ptr<models::GraphedStep> graphed = graphed_step(dev);
      const models::StepFn step = [&](const models::NextBatch& nb) { return model->train_step(nb); };
      for (int64_t i = 0; i < g_settings.warmup + (graphed ? 1 : 0); ++i)  // graph mode: + the capture
        (void)(graphed ? graphed->run(step, next_batch) : step(next_batch));
      reset_peaks(dev);
      StepProfile counters;
      std::optional<models::ConvRecorder> convs;  // the conv layers the timed iterations run (--train_profile)
      if (g_profile && !graphed) convs.emplace();  // a replay runs no host code: nothing to record
      for (auto _ : state) {
        models::Metrics m;
        counters.measure([&] { m = graphed ? graphed->run(step, next_batch) : step(next_batch); });
        sync(dev);  // the step leaves its losses on the device: wait for it here, outside the counted step
        benchmark::DoNotOptimize(m.data());
      }
      report(state, batch, dev);
      state.counters["cuda_graph_replayed"] = graphed && graphed->replaying() ? 1 : 0;
      report_counters(state, counters, "wgan_gp64 batch " + std::to_string(batch), convs);
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---- options ----

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "train_step_bench: %s\n", msg.c_str());
  std::exit(2);
}

std::vector<int64_t> parse_list(const std::string& flag, const std::string& text) {
  std::vector<int64_t> out;
  if (text.empty()) return out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    try {
      size_t used = 0;
      const long long v = std::stoll(item, &used);
      if (used != item.size() || v <= 0) throw std::invalid_argument(item);
      out.push_back(v);
    } catch (const std::exception&) {
      usage_error(flag + ": expected positive integers separated by commas, got '" + text + "'");
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

// "3", "3s", "2.5" -> seconds; "5x" -> 5 iterations.
void parse_min_time(const std::string& flag, const std::string& text, Settings& s) {
  try {
    size_t used = 0;
    if (!text.empty() && text.back() == 'x') {
      const std::string n = text.substr(0, text.size() - 1);
      const long long v = std::stoll(n, &used);
      if (used != n.size() || v <= 0) throw std::invalid_argument(text);
      s.iterations = v;
      s.min_time = 0;
      return;
    }
    const std::string n = !text.empty() && text.back() == 's' ? text.substr(0, text.size() - 1) : text;
    const double v = std::stod(n, &used);
    if (used != n.size() || !(v > 0)) throw std::invalid_argument(text);
    s.min_time = v;
    s.iterations = 0;
  } catch (const std::exception&) {
    usage_error(flag + ": expected seconds (e.g. 3 or 3s) or an iteration count (e.g. 5x), got '" + text + "'");
  }
}

int64_t parse_count(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used != text.size() || v < 0) throw std::invalid_argument(text);
    return v;
  } catch (const std::exception&) {
    usage_error(flag + ": expected a non-negative integer, got '" + text + "'");
  }
}

// Takes this program's options (and --benchmark_min_time) out of argv; Google Benchmark parses the rest.
void parse_options(int& argc, char** argv, Settings& s) {
  const bool cuda = s.device.is_cuda();
  s.min_time = cuda ? 3.0 : 1.0;
  s.warmup = cuda ? 3 : 1;
  if (const char* e = std::getenv("GAN_BENCH_MIN_TIME"); e != nullptr && *e != '\0')
    parse_min_time("GAN_BENCH_MIN_TIME", e, s);
  if (const char* e = std::getenv("GAN_BENCH_WARMUP"); e != nullptr && *e != '\0')
    s.warmup = parse_count("GAN_BENCH_WARMUP", e);
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value_of = [&](const std::string& name) -> const char* {
      const std::string prefix = "--" + name + "=";
      return arg.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = value_of("benchmark_min_time")) parse_min_time("--benchmark_min_time", v, s);
    else if (const char* v = value_of("train_warmup")) s.warmup = parse_count("--train_warmup", v);
    else if (const char* v = value_of("train_batches")) s.dcgan_batches = parse_list("--train_batches", v);
    else if (const char* v = value_of("train_wgan_batches")) s.wgan_batches = parse_list("--train_wgan_batches", v);
    else if (arg == "--train_profile") g_profile = true;
    else if (const char* v = value_of("train_cuda_graph")) {
      try {
        s.cuda_graph = models::parse_cuda_graph_mode(v);
      } catch (const std::invalid_argument&) {
        usage_error(std::string("--train_cuda_graph: expected auto, on or off, got '") + v + "'");
      }
    }
    else if (const char* v = value_of("train_dcgan32_batches"))
      s.dcgan32_batches = parse_list("--train_dcgan32_batches", v);
    else argv[kept++] = argv[i];
  }
  argc = kept;
  argv[argc] = nullptr;
}

void configure(benchmark::internal::Benchmark* b, int64_t batch, const Settings& s) {
  b->ArgName("batch")->Arg(batch);
  b->Unit(benchmark::kMillisecond)->UseRealTime();
  if (s.iterations > 0) b->Iterations(s.iterations);
  else b->MinTime(s.min_time);
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered stdout: each result line reaches a pipe as it is printed, so a crash in a later benchmark (the
  // CUDA backend is new) keeps the earlier results.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    g_settings.device = default_device();
    if (g_settings.device.is_cuda()) kernels::cuda::set_device(g_settings.device.index);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_step_bench: no device: %s\n", e.what());
    return 2;
  }
  parse_options(argc, argv, g_settings);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  const Device dev = g_settings.device;
  std::string device_name = "cpu";
  if (dev.is_cuda()) {
    try {
      device_name = kernels::cuda_device_name(dev.index);
    } catch (const std::exception& e) {
      device_name = std::string("unknown (") + e.what() + ")";
    }
  }
  const char* alloc = std::getenv("GAN_CUDA_ALLOC");
  benchmark::AddCustomContext("gan_device", dev.str());
  benchmark::AddCustomContext("blas_core", kernels::blas_core_name());
  benchmark::AddCustomContext("gan_device_name", device_name);
  benchmark::AddCustomContext("gan_tf32", kernels::cuda::tf32_enabled() ? "on" : "off");  // float conv and GEMM math
  benchmark::AddCustomContext("gan_precision", kernels::float_math_name(kernels::float_math()));
  benchmark::AddCustomContext("gan_saved_bf16", packs_saved_activations() ? "on" : "off");
  benchmark::AddCustomContext("gan_cuda_alloc", alloc != nullptr && *alloc != '\0' ? alloc : "caching");
  benchmark::AddCustomContext("gan_warmup_iterations", std::to_string(g_settings.warmup));
  benchmark::AddCustomContext("gan_cuda_graph", models::cuda_graph_mode_name(g_settings.cuda_graph));

  // The first batch size of each model first (DCGAN 64, WGAN-GP 64, then DCGAN 128, 256), so a run cut short
  // still has both models.
  const auto& dcgan = g_settings.dcgan_batches;
  const auto& wgan = g_settings.wgan_batches;
  const auto& dcgan32 = g_settings.dcgan32_batches;
  for (size_t i = 0; i < std::max({dcgan.size(), wgan.size(), dcgan32.size()}); ++i) {
    if (i < dcgan.size())
      configure(benchmark::RegisterBenchmark("BM_TrainStep/dcgan64", BM_Dcgan, 64, true), dcgan[i], g_settings);
    if (i < wgan.size())
      configure(benchmark::RegisterBenchmark("BM_TrainStep/wgan_gp64", BM_WganGp64), wgan[i], g_settings);
    if (i < dcgan32.size()) {
      configure(benchmark::RegisterBenchmark("BM_TrainStep/dcgan32", BM_Dcgan, 32, true), dcgan32[i], g_settings);
      configure(benchmark::RegisterBenchmark("BM_TrainStep/dcgan32_unfused", BM_Dcgan, 32, false), dcgan32[i],
                g_settings);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
