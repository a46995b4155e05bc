// What the in-process tests of the `gan` command line share: running it on the test catalog (test_double.h)
// and capturing its exit code and output, a fresh temporary folder per test, and comparisons of runs.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "apps/run_dir.h"
#include "engine/safetensors.h"
#include "test_double.h"

namespace gan::apps {

namespace fs = std::filesystem;

struct Result {
  int code;
  std::string out, err;
};

// `gan ARGS` in process, on the test doubles' catalog unless told otherwise (default_catalog(): the model zoo).
inline Result gan(std::vector<std::string> args, const Catalog& catalog = testing::test_catalog()) {
  args.insert(args.begin(), "gan");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  const int code = run_cli(static_cast<int>(argv.size()), argv.data(), catalog,
                           CliStreams{&out, &err, false});
  return {code, out.str(), err.str()};
}

class GanCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("gan-apps-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

inline int64_t count_lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

inline std::vector<std::string> tiny_run(const std::string& out, int steps) {
  return {"train", "--model", "tiny", "--data", "ring", "--out", out, "--steps", std::to_string(steps), "--batch",
          "16", "--log-every", "3", "--sample-every", "5", "--checkpoint-every", "7", "--progress-every", "0"};
}

inline std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline bool is_png(const fs::path& p) { return read(p).rfind("\x89PNG\r\n\x1a\n", 0) == 0; }

// Metrics lines without the fields that measure time.
inline std::vector<std::string> metrics_without_timing(const fs::path& run) {
  std::vector<std::string> out;
  for (auto j : read_metrics(RunPaths{run}.metrics())) {
    j.erase("time");
    j.erase("images_per_s");
    out.push_back(j.dump());
  }
  return out;
}

inline void expect_same_tensors(const fs::path& a, const fs::path& b) {
  const NamedTensors x = load_safetensors(a.string()), y = load_safetensors(b.string());
  ASSERT_EQ(x.size(), y.size());
  ASSERT_GT(x.size(), 0u);
  for (size_t i = 0; i < x.size(); ++i) {
    const auto& [name, t] = x.tensors[i];
    const Tensor& u = y.at(name);
    ASSERT_EQ(t.shape(), u.shape()) << name;
    ASSERT_EQ(t.dtype(), u.dtype()) << name;
    EXPECT_EQ(std::memcmp(t.raw_data(), u.raw_data(), static_cast<size_t>(t.numel()) * dtype_size(t.dtype())), 0)
        << name << " differs";
  }
  EXPECT_EQ(x.metadata.at("step"), y.metadata.at("step"));
  EXPECT_EQ(x.metadata.at("loader_epoch"), y.metadata.at("loader_epoch"));
  EXPECT_EQ(x.metadata.at("loader_position"), y.metadata.at("loader_position"));
}

}  // namespace gan::apps
