// What the newer `gan` tests share: running the CLI in process with a catalog and reading files back.
// (test_cli.cpp and test_zoo_runs.cpp keep their own older copies.)
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "apps/cli.h"

namespace gan::apps::testing {

struct CliResult {
  int code;
  std::string out, err;
};

// `gan ARGS...` in process with `catalog`, stdout and stderr captured (not a terminal).
inline CliResult run_gan(const Catalog& catalog, std::vector<std::string> args) {
  args.insert(args.begin(), "gan");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  const int code = run_cli(static_cast<int>(argv.size()), argv.data(), catalog, CliStreams{&out, &err, false});
  return {code, out.str(), err.str()};
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fixture with a fresh folder per test (removed after it): /tmp/gan-test-PID-TESTNAME.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("gan-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::filesystem::path dir_;
};

}  // namespace gan::apps::testing
