// Every zoo model through the real `gan` pipeline (default catalog) on the "synthetic" dataset with tiny widths:
// a run stopped half way and resumed ends with the same weights and metrics as one that never stopped, and
// `gan sample` writes a PNG from its checkpoint. Tiny widths keep each model well under a second on a CPU.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "apps/run_dir.h"
#include "engine/safetensors.h"

namespace gan::apps {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code;
  std::string out, err;
};

Result gan(std::vector<std::string> args) {
  args.insert(args.begin(), "gan");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  const int code = run_cli(static_cast<int>(argv.size()), argv.data(), default_catalog(), CliStreams{&out, &err});
  return {code, out.str(), err.str()};
}

// The model's width flags set small, where it has them.
std::vector<std::string> tiny_flags(const models::ModelEntry& entry) {
  const std::vector<std::pair<std::string, std::string>> small = {
      {"nz", "8"}, {"ngf", "4"}, {"ndf", "4"}, {"nf", "4"}, {"hidden", "16"}, {"q_hidden", "8"},
      {"unroll_steps", "2"}, {"n_critic", "2"}, {"latent", "4"}};
  std::vector<std::string> out;
  for (const auto& [name, value] : small)
    for (const auto& f : entry.flags)
      if (f.name == name) out.insert(out.end(), {"--" + name, value});
  return out;
}

std::vector<std::string> metrics_without_timing(const fs::path& metrics) {
  std::vector<std::string> out;
  for (auto j : read_metrics(metrics)) {
    j.erase("time");
    j.erase("images_per_s");
    out.push_back(j.dump());
  }
  return out;
}

// Trains `model` (tiny widths, plus `extra` options) 6 steps in one go and 3 + 3 with a resume in between on the
// synthetic set, and expects bit-identical checkpoints and metrics; then samples from the run.
void check_resume_and_sample(const std::string& model, const std::vector<std::string>& extra,
                             const std::string& tag) {
  const models::ModelEntry* entry = default_catalog().find_model(model);
  ASSERT_NE(entry, nullptr);
  const fs::path dir = fs::temp_directory_path() / ("gan-zoo-" + std::to_string(::getpid()) + "-" + tag);
  fs::remove_all(dir);
  const auto run = [&](const std::string& name, int steps) {
    std::vector<std::string> a = {"train", "--model", model, "--data", "synthetic", "--out",
                                  (dir / name).string(), "--steps", std::to_string(steps), "--batch", "8",
                                  "--log-every", "1", "--sample-every", "3", "--checkpoint-every", "100",
                                  "--samples", "16", "--seed", "5"};
    const auto flags = tiny_flags(*entry);
    a.insert(a.end(), flags.begin(), flags.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return gan(a);
  };
  Result r = run("whole", 6);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("split", 3);
  ASSERT_EQ(r.code, 0) << r.err;
  r = gan({"train", "--resume", (dir / "split").string(), "--steps", "6"});
  ASSERT_EQ(r.code, 0) << r.err;

  const RunPaths whole{dir / "whole"}, split{dir / "split"};
  const NamedTensors x = load_safetensors(whole.latest_checkpoint().string());
  const NamedTensors y = load_safetensors(split.latest_checkpoint().string());
  ASSERT_EQ(x.size(), y.size());
  for (const auto& [name, t] : x.tensors) {
    const Tensor& u = y.at(name);
    ASSERT_EQ(t.shape(), u.shape()) << name;
    EXPECT_EQ(std::memcmp(t.raw_data(), u.raw_data(), static_cast<size_t>(t.numel()) * dtype_size(t.dtype())), 0)
        << model << ": " << name << " differs after resume";
  }
  const auto mw = metrics_without_timing(whole.metrics());
  EXPECT_EQ(mw.size(), 6u);
  EXPECT_EQ(mw, metrics_without_timing(split.metrics()));

  r = gan({"sample", "--run", whole.root.string(), "--n", "16", "--out", (dir / "s.png").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  std::ifstream png(dir / "s.png", std::ios::binary);
  char sig[8] = {};
  png.read(sig, 8);
  EXPECT_EQ(std::string(sig, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  if (model == "cgan") {
    EXPECT_NE(r.out.find("rows:"), std::string::npos) << "cgan names its class rows";
  }

  r = gan({"sample", "--run", whole.root.string(), "--n", "8", "--reconstruct", "--out", (dir / "r.png").string()});
  if (model == "vae" || model == "ae") {
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(fs::exists(dir / "r.png"));
  } else {
    EXPECT_EQ(r.code, 2) << model << " cannot reconstruct";
  }
  fs::remove_all(dir);
}

class ZooRun : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooRun, ResumesBitIdenticallyAndSamples) { check_resume_and_sample(GetParam(), {}, GetParam()); }

INSTANTIATE_TEST_SUITE_P(Zoo, ZooRun,
                         ::testing::Values("gan", "dcgan", "cgan", "wgan", "wgan-gp", "lsgan", "infogan", "unrolled",
                                           "sngan", "vae", "ae"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

// The issue-15 options through the CLI: DiffAugment's random parameters (its own generator, "augment.rng" in the
// checkpoint), lazy R1 (scheduled by D's step count) and spectral norm's u and v (D's buffers) all survive a resume
// bit-identically.
TEST(ZooRunOptions, DcganWithR1AndDiffAugmentResumesBitIdentically) {
  check_resume_and_sample("dcgan", {"--r1", "10", "--r1-every", "2", "--diffaugment", "color,translation,cutout"},
                          "dcgan-r1-da");
}

TEST(ZooRunOptions, SnganWithDiffAugmentResumesBitIdentically) {
  check_resume_and_sample("sngan", {"--diffaugment", "translation,cutout", "--n-dis", "2"}, "sngan-da");
}

TEST(ZooRunOptions, DataLimitTrainsOnTheFirstExamplesAndCannotChangeOnResume) {
  const fs::path dir = fs::temp_directory_path() / ("gan-limit-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  Result r = gan({"train", "--model", "dcgan", "--data", "synthetic", "--out", (dir / "run").string(), "--steps", "2",
                  "--batch", "8", "--data-limit", "40", "--nz", "8", "--ngf", "4", "--ndf", "4"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("(40 x "), std::string::npos) << r.out;  // the summary counts the subset
  const nlohmann::json cfg = read_json_file(RunPaths{dir / "run"}.config());
  EXPECT_EQ(cfg.at("settings").at("data_limit").get<int64_t>(), 40);
  EXPECT_NE(cfg.at("settings").at("data_description").get<std::string>().find("the first 40 examples of"),
            std::string::npos);
  // 40 examples at batch 8: an epoch is 5 batches, so 2 epochs are 10 steps.
  r = gan({"train", "--resume", (dir / "run").string(), "--epochs", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("of 10"), std::string::npos) << r.out;
  r = gan({"train", "--resume", (dir / "run").string(), "--steps", "12", "--data-limit", "30"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--data-limit cannot change"), std::string::npos) << r.err;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gan::apps
