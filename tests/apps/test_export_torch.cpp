// `gan export` (apps/cmd_export.cpp) for the zoo's generators: the file holds the generator alone under
// torch.nn.Sequential names, and the README's Python snippet, run with Debian's python3-torch, rebuilds each one
// with load_state_dict(strict=True) and reproduces the engine's output on the same input. Without an importable
// torch the Python half skips, saying so.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "cli_test_util.h"
#include "apps/run_dir.h"
#include "apps/trained_run.h"
#include "engine/autograd.h"
#include "engine/nn/module.h"
#include "engine/rng.h"
#include "engine/safetensors.h"

namespace gan::apps {
namespace {

namespace fs = std::filesystem;

using testing::read_file;

int gan(std::vector<std::string> args, std::string* err = nullptr) {
  const testing::CliResult r = testing::run_gan(default_catalog(), std::move(args));
  if (err) *err = r.err;
  return r.code;
}

// The README's snippet: the ```python block after the <!-- gan-export-snippet --> marker.
std::string readme_snippet() {
  const std::string readme = read_file(fs::path(GAN_TEST_DATA_DIR) / ".." / "README.md");
  const auto marker = readme.find("<!-- gan-export-snippet -->");
  if (marker == std::string::npos) return "";
  const auto start = readme.find("```python\n", marker);
  const auto end = readme.find("```\n", start + 10);
  if (start == std::string::npos || end == std::string::npos) return "";
  return readme.substr(start + 10, end - start - 10);
}

// Debian's python3 with torch, or "".
std::string python_with_torch() {
  for (const char* py : {"/usr/bin/python3", "python3"}) {
    const std::string cmd = std::string(py) + " -c 'import torch' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return py;
  }
  return "";
}

struct Case {
  std::string model;
  std::vector<std::string> flags;  // tiny widths
};

const std::vector<Case> kCases = {
    {"dcgan", {"--nz", "8", "--ngf", "4", "--ndf", "4"}},
    {"wgan-gp", {"--nz", "8", "--ngf", "4", "--ndf", "4", "--n_critic", "1"}},
    {"cgan", {"--nz", "8", "--ngf", "4", "--ndf", "4"}},
    {"infogan", {"--nz", "8", "--ngf", "4", "--ndf", "4", "--q_hidden", "8"}},
    {"gan", {"--nz", "8", "--hidden", "16"}},
    {"vae", {"--nz", "4", "--nf", "4"}},
    {"dcgan-ema", {"--nz", "8", "--ngf", "4", "--ndf", "4", "--ema", "0.9"}},
};

TEST(GanExport, GeneratorLoadsIntoTorchAndMatchesTheEngine) {
  const fs::path dir = fs::temp_directory_path() / ("gan-export-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<std::string> names;
  for (const auto& c : kCases) {
    const std::string model = c.model == "dcgan-ema" ? "dcgan" : c.model;
    const fs::path run = dir / c.model;
    std::vector<std::string> args = {"train", "--model", model, "--data", "synthetic", "--out", run.string(),
                                     "--steps", "3", "--batch", "8", "--progress-every", "0"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    std::string err;
    ASSERT_EQ(gan(args, &err), 0) << c.model << ": " << err;
    const fs::path file = dir / (c.model + ".safetensors");
    ASSERT_EQ(gan({"export", "--run", run.string(), "--out", file.string()}, &err), 0) << c.model << ": " << err;

    // The file: the generator's tensors only, torch.nn.Sequential names, layers and input in the metadata.
    const NamedTensors exported = load_safetensors(file.string());
    EXPECT_EQ(exported.metadata.at("format"), "gan-engine-generator");
    EXPECT_EQ(exported.metadata.at("model"), model);
    EXPECT_EQ(exported.metadata.at("step"), "3");
    const nlohmann::json layers = nlohmann::json::parse(exported.metadata.at("torch_layers"));
    ASSERT_TRUE(layers.is_array() && !layers.empty());
    for (const auto& [name, t] : exported.tensors) {
      EXPECT_TRUE(std::isdigit(static_cast<unsigned char>(name[0]))) << c.model << ": " << name;
      EXPECT_EQ(name.find("D."), std::string::npos);
      EXPECT_EQ(name.find("opt"), std::string::npos);
    }
    const NamedTensors checkpoint = load_safetensors(RunPaths{run}.latest_checkpoint().string());
    const std::string prefix = c.model == "dcgan-ema" ? "G_ema.net." : "G.net.";
    for (const auto& [name, t] : exported.tensors) {
      const Tensor& saved = checkpoint.at(prefix + name);
      ASSERT_EQ(saved.shape(), t.shape()) << name;
      EXPECT_EQ(std::memcmp(saved.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()) * dtype_size(t.dtype())), 0)
          << c.model << ": " << name << " is not the checkpoint's " << prefix << name;
    }

    // The engine's output for a fixed input, for the Python side to reproduce.
    const TrainedRun trained = load_trained_run(run.string(), "", default_catalog(), Device::cpu());
    auto* net = const_cast<nn::Module*>(trained.model->generator_net().net);
    ASSERT_NE(net, nullptr);
    net->eval();
    Shape shape = {5};
    for (const auto& d : nlohmann::json::parse(exported.metadata.at("input_shape"))) shape.push_back(d.get<int64_t>());
    Generator gen(7, 0);
    const Tensor z = randn(shape, DType::Float32, &gen);
    Tensor out;
    {
      NoGradGuard no_grad;
      out = (*net)(z).contiguous();
    }
    save_safetensors((dir / (c.model + ".check.safetensors")).string(), {{"z", z}, {"out", out}}, {});
    names.push_back(c.model);
  }
  fs::copy_file(dir / "dcgan.safetensors", dir / "generator.safetensors");  // the name the snippet uses

  const std::string snippet = readme_snippet();
  ASSERT_FALSE(snippet.empty()) << "README.md has no <!-- gan-export-snippet --> python block";
  const std::string python = python_with_torch();
  if (python.empty()) {
    fs::remove_all(dir);
    GTEST_SKIP() << "no python3 with torch (Debian: apt-get install python3-torch): the README snippet is not run";
  }
  std::ofstream(dir / "check.py") << snippet << R"(
import sys
worst = 0.0
for name in sys.argv[1:]:
    G, meta = load_gan_generator(name + ".safetensors")
    check, _ = read_safetensors(name + ".check.safetensors")
    with torch.no_grad():
        out = G(check["z"])
    diff = (out - check["out"]).abs().max().item()
    print(name, "max abs diff", diff, "|", meta["input"], "|", meta["output"])
    worst = max(worst, diff)
assert tuple(images.shape[:1]) == (16,), images.shape
print("worst", worst)
sys.exit(0 if worst < 1e-4 else 1)
)";
  std::string cmd = "cd '" + dir.string() + "' && " + python + " check.py";
  for (const auto& n : names) cmd += " " + n;
  cmd += " > out.txt 2>&1";
  const int status = std::system(cmd.c_str());
  const std::string out = read_file(dir / "out.txt");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_NE(out.find("worst"), std::string::npos) << out;
  std::cout << out;
  fs::remove_all(dir);
}

TEST(GanExport, RefusesWhatItCannotWrite) {
  std::string err;
  EXPECT_EQ(gan({"export", "--run", "/nonexistent-run", "--out", "/tmp/x.safetensors"}, &err), 2);
  EXPECT_NE(err.find("no run at"), std::string::npos) << err;
  EXPECT_EQ(gan({"export", "--run", "/nonexistent-run", "--out", "/tmp/x.bin"}, &err), 2);
  EXPECT_NE(err.find(".safetensors"), std::string::npos) << err;
}

}  // namespace
}  // namespace gan::apps
