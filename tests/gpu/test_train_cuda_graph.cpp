// `gan train --cuda-graph` end to end on the zoo's DCGAN, CGAN and InfoGAN: a run that replays its captured step
// (auto) logs the same losses, bit for bit, and ends with the same checkpoint (weights, optimizer state, RNG state)
// as the same run with --cuda-graph off. CGAN and InfoGAN one-hot their labels and codes on the device (their
// steps used to read labels back, which ruled out a capture). Small widths, 32-pixel synthetic images: seconds in
// the emulator.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/catalog.h"
#include "apps/cli.h"
#include "engine/safetensors.h"
#include "gpu_test_util.h"

namespace gan::testing {
namespace {

namespace fs = std::filesystem;

class TrainCudaGraph : public CudaTest {};

struct TrainRun {
  int code = 0;
  std::string out, err;
};

TrainRun train(const fs::path& dir, const std::string& mode, const std::vector<std::string>& extra = {},
               const std::string& model = "dcgan") {
  std::vector<std::string> args = {
      "gan",         "train", "--model",        model,   "--data",  "synthetic", "--data-size", "40",
      "--batch",     "16",    "--steps",        "7",     "--nz",    "8",         "--ngf",       "8",
      "--ndf",       "8",     "--log-every",    "1",     "--sample-every", "100", "--checkpoint-every", "100",
      "--sample-n",  "4",     "--progress-every", "0",   "--device", "cuda",     "--cuda-graph", mode,
      "--out",       dir.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  TrainRun r;
  r.code = apps::run_cli(static_cast<int>(argv.size()), argv.data(), apps::default_catalog(),
                         apps::CliStreams{&out, &err, false});
  r.out = out.str();
  r.err = err.str();
  return r;
}

// The logged values of every metrics line, without the timing fields.
std::vector<nlohmann::json> losses(const fs::path& dir) {
  std::ifstream in(dir / "metrics.jsonl");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line);
    j.erase("time");
    j.erase("images_per_s");
    rows.push_back(j);
  }
  return rows;
}

void expect_replay_matches_eager(const std::string& model, const std::vector<std::string>& extra = {}) {
  SCOPED_TRACE(model);
  const fs::path root = fs::temp_directory_path() / ("gan-cuda-graph-" + model + "-" + std::to_string(::getpid()));
  fs::remove_all(root);
  const TrainRun eager = train(root / "eager", "off", extra, model),
                 graphed = train(root / "graph", "auto", extra, model);
  ASSERT_EQ(eager.code, 0) << eager.out << eager.err;
  ASSERT_EQ(graphed.code, 0) << graphed.out << graphed.err;
  EXPECT_EQ(eager.out.find("CUDA graph"), std::string::npos) << eager.out;
  EXPECT_NE(graphed.out.find("CUDA graph: training step captured"), std::string::npos) << graphed.out;
  const std::vector<nlohmann::json> a = losses(root / "eager"), b = losses(root / "graph");
  ASSERT_EQ(a.size(), 7u);
  EXPECT_EQ(a, b);
  const auto ca = load_safetensors((root / "eager" / "checkpoints" / "latest.safetensors").string()).tensors;
  const auto cb = load_safetensors((root / "graph" / "checkpoints" / "latest.safetensors").string()).tensors;
  ASSERT_EQ(ca.size(), cb.size());
  for (size_t i = 0; i < ca.size(); ++i) {
    ASSERT_EQ(ca[i].first, cb[i].first);
    if (ca[i].first.find("time") != std::string::npos) continue;
    const Tensor x = ca[i].second.contiguous(), y = cb[i].second.contiguous();
    ASSERT_EQ(x.shape(), y.shape()) << ca[i].first;
    EXPECT_EQ(std::string(static_cast<const char*>(x.raw_data()), x.numel() * dtype_size(x.dtype())),
              std::string(static_cast<const char*>(y.raw_data()), y.numel() * dtype_size(y.dtype())))
        << ca[i].first << " differs";
  }
  fs::remove_all(root);
}

TEST_F(TrainCudaGraph, ReplayedRunLogsAndCheckpointsWhatTheEagerRunDoes) { expect_replay_matches_eager("dcgan"); }
TEST_F(TrainCudaGraph, CganIsCapturedAndMatchesTheEagerRun) { expect_replay_matches_eager("cgan"); }
// bf16: the captured step packs its saved activations to bf16 and reads them back (engine/saved_activation.h).
TEST_F(TrainCudaGraph, Bf16DcganIsCapturedAndMatchesTheEagerRun) {
  const kernels::ScopedFloatMath restore(kernels::float_math());  // --precision sets the process's mode
  expect_replay_matches_eager("dcgan", {"--precision", "bf16"});
}
TEST_F(TrainCudaGraph, InfoganIsCapturedAndMatchesTheEagerRun) { expect_replay_matches_eager("infogan"); }

TEST_F(TrainCudaGraph, AStepThatCannotBeCapturedRunsEagerlyAsWithoutGraphs) {
  // --diffaugment draws its offsets on the host: the capture fails at the draw, before anything moved.
  const fs::path root = fs::temp_directory_path() / ("gan-cuda-graph-fallback-" + std::to_string(::getpid()));
  fs::remove_all(root);
  const std::vector<std::string> augment = {"--diffaugment", "translation"};
  const TrainRun eager = train(root / "eager", "off", augment), graphed = train(root / "graph", "auto", augment);
  ASSERT_EQ(eager.code, 0) << eager.out << eager.err;
  ASSERT_EQ(graphed.code, 0) << graphed.out << graphed.err;
  EXPECT_NE(graphed.out.find("CUDA graph: off, training steps run eagerly (capture failed"), std::string::npos)
      << graphed.out;
  EXPECT_NE(graphed.out.find("random draw on the host"), std::string::npos) << graphed.out;
  EXPECT_EQ(losses(root / "eager"), losses(root / "graph"));
  const TrainRun strict = train(root / "strict", "on", augment);
  EXPECT_NE(strict.code, 0);
  EXPECT_NE((strict.out + strict.err).find("--cuda-graph on"), std::string::npos) << strict.out << strict.err;
  fs::remove_all(root);
}

}  // namespace
}  // namespace gan::testing
