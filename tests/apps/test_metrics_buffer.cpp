// apps/metrics_buffer.h on the CPU (values read at once, order kept), and the trainer's non-finite check at flush
// points: a NaN between two log points is found at the next flush and named with its own step.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "apps/metrics_buffer.h"
#include "apps/run_dir.h"
#include "cli_harness.h"
#include "engine/tensor.h"

namespace gan::apps {
namespace {

TEST(MetricsBuffer, KeepsStepsAndValuesInOrderAndEmptiesOnDrain) {
  MetricsBuffer b(3);
  EXPECT_TRUE(b.empty());
  b.add(1, {{"loss_d", scalar_tensor(0.5)}, {"loss_g", 2.25}});
  b.add(2, {{"loss_d", scalar_tensor(0.25, DType::Float64)}, {"loss_g", 1.0}, {"r1", scalar_tensor(3.0)}});
  EXPECT_FALSE(b.full());
  b.add(3, {{"loss_d", scalar_tensor(0.1f)}, {"loss_g", 0.0}});
  EXPECT_TRUE(b.full());
  EXPECT_THROW(b.add(4, {{"loss_d", 1.0}}), std::logic_error);
  const std::vector<MetricsBuffer::Row> rows = b.drain();
  EXPECT_TRUE(b.empty());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].step, 1);
  ASSERT_EQ(rows[0].values.size(), 2u);
  EXPECT_EQ(rows[0].values[0], (std::pair<std::string, double>{"loss_d", 0.5}));
  EXPECT_EQ(rows[0].values[1], (std::pair<std::string, double>{"loss_g", 2.25}));
  ASSERT_EQ(rows[1].values.size(), 3u);
  EXPECT_EQ(rows[1].values[2].first, "r1");
  // A float32 value is the double Tensor::item() gives, bit for bit.
  EXPECT_EQ(rows[2].values[0].second, scalar_tensor(0.1f).item());
  EXPECT_EQ(rows[2].values[0].second, static_cast<double>(0.1f));
  b.add(4, {{"loss_d", std::nan("")}});
  EXPECT_TRUE(std::isnan(b.drain().at(0).values.at(0).second));
}

class TrainerFlush : public GanCli {};

TEST_F(TrainerFlush, NanBetweenLogPointsIsFoundAtTheNextFlushWithItsOwnStep) {
  // Logs every 10 steps, no sample or checkpoint before the end: the NaN from step 13 on is found at step 20, the
  // last step, before its checkpoint is written.
  const std::vector<std::string> args = {"train", "--model", "tiny", "--data", "ring", "--out", path("a"),
                                         "--steps", "20", "--batch", "16", "--log-every", "10", "--sample-every",
                                         "100", "--checkpoint-every", "100", "--progress-every", "0",
                                         "--nan_at", "13"};
  const Result r = gan(args);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("loss_d is nan at step 13"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("steps 11-20 are checked together at step 20"), std::string::npos) << r.err;
  const RunPaths p{path("a")};
  EXPECT_FALSE(fs::exists(p.checkpoint(20)));
  const auto lines = read_metrics(p.metrics());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["step"].get<int64_t>(), 10);
  EXPECT_NE(read(p.report()).find("non-finite at step 13"), std::string::npos);
}

TEST_F(TrainerFlush, ProfilePrintsPerStepCountersAndARoofline) {
  auto args = tiny_run(path("a"), 6);
  // The CPU device whatever the build's default (an emulator or CUDA build would otherwise train on its device).
  args.insert(args.end(), {"--profile", "--device", "cpu"});
  const Result r = gan(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("profile (gan train --profile)"), std::string::npos) << r.out;
  // On the CPU backend nothing is launched and nothing waits: the counters say 0, over the 4 steps after warm-up.
  EXPECT_NE(r.out.find("per step: 0.0 kernel launches, 0.0 host syncs, 0 bytes newly allocated"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("over 4 iteration(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| layer | input -> output |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("TF32 (dense) 494.7 TFLOP/s"), std::string::npos) << r.out;
  // Without the flag: nothing of it.
  EXPECT_EQ(gan(tiny_run(path("b"), 3)).out.find("profile ("), std::string::npos);
}

}  // namespace
}  // namespace gan::apps
