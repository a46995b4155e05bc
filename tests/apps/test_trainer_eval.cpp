// The trainer's periodic measurement (Trainer::set_evaluator, what `gan train --eval-every N` plugs the Frechet
// distance into): lines in RUN/fd.jsonl at step 0, every N steps and at the end; a run stopped and resumed from an
// earlier checkpoint drops the lines after it and ends with the same lines as one that never stopped; the report
// charts them. The evaluator here is a cheap deterministic function of the weights, so no classifier is needed.
#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/report.h"
#include "apps/trainer.h"
#include "cli_test_util.h"
#include "engine/rng.h"
#include "test_double.h"

namespace gan::apps {
namespace {

namespace fs = std::filesystem;

class TrainerEval : public testing::ScratchDirTest {
 protected:
  // A tiny point-GAN trainer for `steps` steps writing to `run`, measuring every 4 steps.
  std::unique_ptr<Trainer> make(const fs::path& run, int64_t steps) {
    const Catalog& catalog = testing::test_catalog();
    const models::ModelEntry& entry = *catalog.find_model("tiny");
    RunConfig c;
    c.model = "tiny";
    c.data = "ring";
    c.model_config = resolve_model_config(entry, nlohmann::json::object());
    c.batch = 16;
    c.steps = steps;
    c.log_every = 3;
    c.sample_every = 5;
    c.checkpoint_every = 7;
    c.eval_every = 4;
    auto dataset = catalog.open_dataset("ring", data::DatasetOptions{});
    c.spec = dataset->spec();
    const RunPaths paths{run};
    fs::create_directories(paths.samples_dir());
    fs::create_directories(paths.checkpoints_dir());
    auto model = entry.create(models::ModelContext{c.spec, Device::cpu(), c.seed, c.model_config});
    auto trainer = std::make_unique<Trainer>(std::move(dataset), std::move(model), c, paths, Device::cpu(),
                                             TrainOutput{&log_, &log_, false, 1e9});
    // Deterministic in the weights: the mean of 64 samples drawn with a fixed seed.
    trainer->set_evaluator([](models::GanModel& m) {
      Generator gen(9, 0);
      const Tensor x = m.sample(64, gen).images.contiguous();
      double sum = 0;
      for (float v : x.to_vector<float>()) sum += v;
      nlohmann::ordered_json line;
      line["fd"] = sum / static_cast<double>(x.numel());
      line["n"] = 64;
      return line;
    });
    return trainer;
  }

  // (step, fd) of every line of RUN/fd.jsonl.
  static std::vector<std::pair<int64_t, double>> fd_lines(const fs::path& run) {
    std::vector<std::pair<int64_t, double>> out;
    for (const auto& j : read_metrics(RunPaths{run}.fd_log()))
      out.emplace_back(j.at("step").get<int64_t>(), j.at("fd").get<double>());
    return out;
  }

  std::ostringstream log_;
};

TEST_F(TrainerEval, MeasuresOnScheduleAndResumesWithoutDuplicates) {
  ASSERT_EQ(make(dir_ / "whole", 20)->run(), kExitOk) << log_.str();
  const auto whole = fd_lines(dir_ / "whole");
  std::vector<int64_t> steps;
  for (const auto& [s, v] : whole) steps.push_back(s);
  EXPECT_EQ(steps, (std::vector<int64_t>{0, 4, 8, 12, 16, 20}));
  for (const auto& j : read_metrics(RunPaths{dir_ / "whole"}.fd_log())) {
    EXPECT_TRUE(j.contains("time"));
    EXPECT_EQ(j.at("n"), 64);
  }

  // Stopped at 10 (measured at 8 and 10), resumed from the checkpoint kept at step 7: 8 and 10 are dropped and
  // measured again (8) or not at all (10 is no longer the end).
  ASSERT_EQ(make(dir_ / "split", 10)->run(), kExitOk) << log_.str();
  EXPECT_EQ(fd_lines(dir_ / "split").back().first, 10);
  auto resumed = make(dir_ / "split", 20);
  const fs::path kept = RunPaths{dir_ / "split"}.checkpoint(7);
  resumed->restore(load_checkpoint_file(kept), kept);
  EXPECT_EQ(fd_lines(dir_ / "split").back().first, 4);
  ASSERT_EQ(resumed->run(), kExitOk) << log_.str();
  EXPECT_EQ(fd_lines(dir_ / "split"), whole) << "same steps and values as the run that never stopped";

  // The report charts them; point data has no real-image grid.
  const std::string html = render_report(RunPaths{dir_ / "whole"}, ReportStatus{"finished", false});
  EXPECT_NE(html.find("\"id\":\"fd\""), std::string::npos);
  EXPECT_FALSE(fs::exists(RunPaths{dir_ / "whole"}.real_grid()));
}

}  // namespace
}  // namespace gan::apps
