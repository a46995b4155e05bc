// Crash safety of a real `gan` process (the binary, with the zoo's vanilla GAN on ring8 points, on the CPU):
// killed with SIGKILL at many moments (mid checkpoint, mid metrics line, between the kept checkpoint and the
// switch of latest, mid sample and report, mid config rewrite, and at an arbitrary time) and resumed after each,
// it ends with the weights, kept checkpoints, metrics and samples of a run that was never interrupted, bit for
// bit. A full disk (writes failing with ENOSPC) stops it with a clear error and leaves the previous checkpoint
// intact and loadable. Faults come from tests/apps/fault_inject (LD_PRELOAD), so the code under test is the
// shipped one.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "cli_harness.h"

extern char** environ;

namespace gan::apps {
namespace {

struct Proc {
  int status = 0;
  std::string out, err;
  bool killed() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL; }
  int code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
};

const std::vector<std::string> kRun = {"--model", "gan", "--data", "ring8", "--data-size", "2048", "--hidden", "16",
                                       "--layers", "1", "--batch", "32", "--checkpoint-every", "10", "--log-every",
                                       "5", "--sample-every", "20", "--samples", "64"};
constexpr int kSteps = 60;

class CrashSafety : public GanCli {
 protected:
  // The program and the fault library are this build tree's: a test binary copied elsewhere (the GPU bundle)
  // has neither beside it, and says so rather than failing.
  void SetUp() override {
    GanCli::SetUp();
    std::error_code ec;
    for (const char* file : {GAN_PROGRAM, GAN_FAULT_LIB})
      if (!std::filesystem::exists(file, ec))
        GTEST_SKIP() << "needs the build tree's " << file << ", which is not there (a relocated test binary)";
  }

  // Runs `gan ARGS` with the given GAN_FAULT_* settings (none: no fault library); kill_after_ms > 0 sends SIGKILL
  // after that long if it is still running.
  Proc run(std::vector<std::string> args, const std::map<std::string, std::string>& fault, int kill_after_ms = 0) {
    args.insert(args.end(), {"--progress-every", "0", "--device", "cpu"});
    args.insert(args.begin(), GAN_PROGRAM);
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      const std::string var = *e;
      if (var.rfind("LD_PRELOAD=", 0) != 0 && var.rfind("GAN_FAULT_", 0) != 0 && var.rfind("ASAN_OPTIONS=", 0) != 0)
        env.push_back(var);
    }
    std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
    // The preloaded library comes before the sanitizer runtime, which ASan would otherwise refuse.
    env.push_back("ASAN_OPTIONS=" + asan + (asan.empty() ? "" : ":") + "verify_asan_link_order=0");
    if (!fault.empty()) env.push_back(std::string("LD_PRELOAD=") + GAN_FAULT_LIB);
    for (const auto& [k, v] : fault) env.push_back("GAN_FAULT_" + k + "=" + v);
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    const std::string out = path("stdout.txt"), err = path("stderr.txt");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    Proc p;
    if (rc != 0) {
      ADD_FAILURE() << "cannot start " << argv[0] << ": " << std::strerror(rc);
      return p;
    }
    if (kill_after_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
      ::kill(pid, SIGKILL);
    }
    ::waitpid(pid, &p.status, 0);
    p.out = read(out);
    p.err = read(err);
    return p;
  }

  Proc start(const std::string& dir, const std::map<std::string, std::string>& fault) {
    std::vector<std::string> args = {"train", "--out", dir, "--steps", std::to_string(kSteps)};
    args.insert(args.end(), kRun.begin(), kRun.end());
    return run(args, fault);
  }
  Proc resume(const std::string& dir, const std::map<std::string, std::string>& fault = {}, int kill_after_ms = 0) {
    return run({"train", "--resume", dir}, fault, kill_after_ms);
  }

  // What an uninterrupted run left: every checkpoint, metric and sample, compared bit for bit.
  void expect_same_run(const fs::path& ref, const fs::path& run) {
    const RunPaths a{ref}, b{run};
    expect_same_tensors(a.latest_checkpoint(), b.latest_checkpoint());
    for (int s = 10; s <= kSteps; s += 10) expect_same_tensors(a.checkpoint(s), b.checkpoint(s));
    EXPECT_EQ(metrics_without_timing(a.root), metrics_without_timing(b.root));
    for (int s = 0; s <= kSteps; s += 20) EXPECT_EQ(read(a.sample(s)), read(b.sample(s))) << "sample " << s;
    for (const auto& e : fs::recursive_directory_iterator(b.root))
      EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << "left behind: " << e.path();
  }
};

TEST_F(CrashSafety, KilledAtManyMomentsAndResumedEqualsAnUninterruptedRun) {
  ASSERT_EQ(start(path("ref"), {}).code(), 0);
  const std::string run = path("run");
  // Mid checkpoint: the 30th write() into a checkpoint's temporary file (the second checkpoint) tears it.
  Proc p = start(run, {{"CALL", "write"}, {"MATCH", ".safetensors.tmp."}, {"AFTER", "30"}, {"ACTION", "kill"}});
  ASSERT_TRUE(p.killed()) << "the fault did not fire: " << p.code() << " " << p.err;
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> kills = {
      {"mid metrics line", {{"CALL", "write"}, {"MATCH", "metrics.jsonl"}, {"AFTER", "2"}}},
      {"between kept checkpoint and latest",
       {{"CALL", "rename"}, {"MATCH", "latest.safetensors.link"}, {"AFTER", "1"}}},
      {"mid sample", {{"CALL", "write"}, {"MATCH", ".png.tmp."}, {"AFTER", "0"}}},
      {"mid report", {{"CALL", "write"}, {"MATCH", "report.html.tmp."}, {"AFTER", "1"}}},
      {"mid config rewrite", {{"CALL", "write"}, {"MATCH", "config.json.tmp."}, {"AFTER", "0"}}},
      {"mid checkpoint again", {{"CALL", "write"}, {"MATCH", ".safetensors.tmp."}, {"AFTER", "5"}}},
  };
  for (auto [what, fault] : kills) {
    fault["ACTION"] = "kill";
    p = resume(run, fault);
    ASSERT_TRUE(p.killed()) << what << ": the fault did not fire: exit " << p.code() << " " << p.err << p.out;
  }
  // And at an arbitrary moment, from outside (if it finishes first, that is fine too; so is a kill that lands
  // after the run recorded its end, while the process exits: a sanitizer's leak check takes that long).
  p = resume(run, {}, 150);
  const nlohmann::json config = read_json_file(RunPaths{run}.config());
  const bool recorded_end = config.contains("finished") && config["finished"]["step"] == kSteps;
  if (!p.killed()) {
    ASSERT_EQ(p.code(), 0) << p.err;
  } else if (!recorded_end) {
    p = resume(run);
    ASSERT_EQ(p.code(), 0) << p.err;
  }
  EXPECT_NE(p.out.find("finished 60 steps"), std::string::npos) << p.out;
  expect_same_run(path("ref"), run);
}

TEST_F(CrashSafety, AFullDiskStopsWithAClearErrorAndKeepsTheLastCheckpoint) {
  ASSERT_EQ(start(path("ref"), {}).code(), 0);
  // Writes that fail: into the second checkpoint file, the fourth metrics line, the second sample grid. A
  // checkpoint file takes two writes (length, header) and one per tensor, so the middle of the second file is
  // counted from the reference run's checkpoint (the count of tensors changes as models gain state).
  const size_t tensors = load_safetensors(RunPaths{path("ref")}.latest_checkpoint().string()).tensors.size();
  const std::string into_second_checkpoint = std::to_string((tensors + 2) + tensors / 2);
  const std::vector<std::pair<std::string, std::string>> targets = {
      {".safetensors.tmp.", into_second_checkpoint}, {"metrics.jsonl", "3"}, {".png.tmp.", "1"}};
  for (const auto& [target, after] : targets) {
    const std::string run = path("run-" + std::to_string(target.size()));
    const Proc p = start(run, {{"CALL", "write"}, {"MATCH", target}, {"AFTER", after}, {"ACTION", "enospc"}});
    ASSERT_EQ(p.code(), 1) << target << ": " << p.err;
    EXPECT_EQ(count_lines(p.err), 1) << p.err;
    EXPECT_TRUE(p.err.find("No space left on device") != std::string::npos ||
                p.err.find("disk full") != std::string::npos)
        << p.err;
    EXPECT_NE(p.err.find("gan train --resume " + run), std::string::npos) << p.err;
    // The checkpoint the message names is there and loads.
    const size_t at = p.err.find("the last good checkpoint, ");
    ASSERT_NE(at, std::string::npos) << p.err;
    const size_t step_at = p.err.find("(step ", at);
    const std::string step = p.err.substr(step_at + 6, p.err.find(')', step_at) - step_at - 6);
    const NamedTensors latest = load_safetensors(RunPaths{run}.latest_checkpoint().string());
    EXPECT_EQ(latest.metadata.at("step"), step);
    for (const auto& e : fs::recursive_directory_iterator(run))
      EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << "left behind: " << e.path();
    // Space again: the run continues to the same end as one that never stopped.
    const Proc r = resume(run);
    ASSERT_EQ(r.code(), 0) << r.err;
    expect_same_run(path("ref"), run);
  }
}

}  // namespace
}  // namespace gan::apps
