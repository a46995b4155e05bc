// A program built on the installed gan-engine: trains the zoo's vanilla GAN (Goodfellow 2014: MLPs, SGD with
// momentum) on the 2-D ring of 8 Gaussians and prints its losses. Build: see CMakeLists.txt next to this file.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "engine/data/dataset.h"
#include "engine/data/loader.h"
#include "models/model.h"

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 300;
  using namespace gan;
  const auto ring = data::open_dataset("ring8", {.seed = 1});
  const Device device = default_device();  // a GPU when there is one: the batches go where the model is
  data::Loader loader(*ring, /*batch_size=*/64, /*seed=*/1, device);
  const models::ModelEntry* entry = models::find_model("gan");
  const nlohmann::json flags = {{"hidden", 128}, {"lr_g", 0.02}, {"lr_d", 0.02}};  // others: the paper's
  const auto model = entry->create({.data = ring->spec(), .device = device, .seed = 1,
                                    .config = models::resolve_config(*entry, flags)});
  auto next_batch = [&] {
    data::Batch b = loader.next();
    return std::pair{b.examples, b.labels};
  };
  for (int step = 1; step <= steps; ++step) {
    const models::Metrics losses = model->train_step(next_batch);
    if (step % 50 != 0 && step != 1) continue;
    std::printf("step %4d", step);
    for (const auto& [name, metric] : losses) {
      const double value = metric.value();  // a device tensor's value comes to the host here
      std::printf("  %s %.4f", name.c_str(), value);
      if (!std::isfinite(value)) {
        std::fprintf(stderr, "\nstep %d: %s is not finite\n", step, name.c_str());
        return 1;
      }
    }
    std::printf("\n");
  }
  return 0;
}
