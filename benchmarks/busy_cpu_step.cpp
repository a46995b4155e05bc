// Times the CPU demo's training step (scripts/train-demo.sh: the zoo's dcgan with widths 32, batch 64, on
// Fashion-MNIST at 28 px, through the data loader and its prefetch thread) as a plain program linking gan-engine:
// it sets no thread or environment setting of its own, so it runs under whatever policy the library applies
// (kernels/thread_policy.h). benchmarks/run_busy_cpu.sh runs it next to a competing CPU-bound process, with the
// library's default and with OMP_WAIT_POLICY=PASSIVE set by hand, alternating, and writes
// benchmarks/results/busy-cpu.md.
//
// usage: busy_cpu_step [--steps N] [--warmup N] [--data NAME]      (defaults: 30, 3, fashion-mnist)
// Prints one line: "busy_cpu_step ms_per_step=M median_ms=X min_ms=Y max_ms=Z steps=N warmup=W threads=T
// data=NAME policy=..." (ms_per_step: the mean over the timed steps; policy: kernels::thread_policy_summary()).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <omp.h>

#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "kernels/thread_policy.h"
#include "models/model.h"

namespace {

int positive(const char* flag, const char* text) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 0) {
    std::fprintf(stderr, "busy_cpu_step: %s wants a non-negative integer, got '%s'\n", flag, text);
    std::exit(2);
  }
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  int steps = 30, warmup = 3;
  std::string data_name = "fashion-mnist";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "usage: busy_cpu_step [--steps N] [--warmup N] [--data NAME]\n");
      return 2;
    }
    if (a == "--steps") steps = std::max(1, positive("--steps", argv[++i]));
    else if (a == "--warmup") warmup = positive("--warmup", argv[++i]);
    else if (a == "--data") data_name = argv[++i];
    else {
      std::fprintf(stderr, "busy_cpu_step: unknown option '%s'\nusage: busy_cpu_step [--steps N] [--warmup N] "
                   "[--data NAME]\n", a.c_str());
      return 2;
    }
  }
  try {
    using namespace gan;
    const auto data = data::open_dataset(data_name, {.image_size = 28});
    data::Loader loader(*data, 64, /*seed=*/1);
    const models::ModelEntry* entry = models::find_model("dcgan");
    models::ModelContext ctx{.data = data->spec(), .device = Device::cpu(), .seed = 1,
                             .config = models::resolve_config(*entry, {{"ngf", 32}, {"ndf", 32}})};
    const auto model = entry->create(ctx);
    auto next_batch = [&] {
      data::Batch b = loader.next();
      return std::pair{b.examples, b.labels};
    };
    for (int i = 0; i < warmup; ++i) model->train_step(next_batch);
    std::vector<double> ms;
    for (int i = 0; i < steps; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      model->train_step(next_batch);  // on the CPU the step is complete when it returns
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    double total = 0;
    for (double m : ms) total += m;
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    std::printf("busy_cpu_step ms_per_step=%.2f median_ms=%.2f min_ms=%.2f max_ms=%.2f steps=%d warmup=%d "
                "threads=%d data=%s policy=%s\n",
                total / steps, sorted[sorted.size() / 2], sorted.front(), sorted.back(), steps, warmup,
                omp_get_max_threads(), data_name.c_str(), kernels::thread_policy_summary().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "busy_cpu_step: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
