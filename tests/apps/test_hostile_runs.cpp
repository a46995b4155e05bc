// `gan` against edited, corrupted and hostile run directories and flags: every case ends in one clear line and
// exit 2 (or correct behaviour), never a crash, a hang, an absurd run or a silently damaged run directory.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>

#include "cli_harness.h"

namespace gan::apps {
namespace {

// Loads a checkpoint, lets `edit` change it and writes it back (replacing the file: latest is a hard link).
void rewrite_checkpoint(const fs::path& path, const std::function<void(NamedTensors&)>& edit) {
  NamedTensors file = load_safetensors(path.string());
  edit(file);
  fs::remove(path);
  save_safetensors(path.string(), file.tensors, file.metadata);
}

void edit_settings(const fs::path& run, const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json config = read_json_file(RunPaths{run}.config());
  edit(config["settings"]);
  std::ofstream(RunPaths{run}.config()) << config.dump(2);
}

// Opens a FIFO's write end after a while, which releases a reader blocked on opening it: a test that would hang
// finishes, and unblocked() says the reader had blocked.
class FifoWatchdog {
 public:
  explicit FifoWatchdog(std::string fifo)
      : thread_([this, fifo] {
          std::unique_lock lk(mu_);
          if (cv_.wait_for(lk, std::chrono::seconds(10), [this] { return done_; })) return;
          const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
          if (fd >= 0) {
            unblocked_ = true;
            ::close(fd);
          }
        }) {}
  ~FifoWatchdog() { unblocked(); }
  bool unblocked() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return unblocked_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool unblocked_ = false;
  std::thread thread_;
};

void expect_usage_error(const Result& r, const std::string& message, const std::string& context) {
  EXPECT_EQ(r.code, 2) << context << "\n" << r.err;
  EXPECT_NE(r.err.find(message), std::string::npos) << context << ": expected '" << message << "' in: " << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << context << "\n" << r.err;
  EXPECT_LT(r.err.size(), 600u) << context << ": " << r.err;
}

// ---- config.json ----

TEST_F(GanCli, ConfigValuesOutOfRangeAreRefusedOnResumeWithoutTouchingTheRun) {
  ASSERT_EQ(gan(tiny_run(path("a"), 10)).code, 0);
  const RunPaths p{path("a")};
  const std::string config = read(p.config()), metrics = read(p.metrics());
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"batch", 0},           {"log_every", 0},      {"sample_every", 0},        {"checkpoint_every", 0},
      {"sample_n", 0},        {"sample_n", 1 << 20}, {"data_size", 1000000000},  {"image_size", -1},
      {"steps", -5},          {"batch", 1.5},        {"batch", 1e300},           {"batch", "16"},
      {"log_every", nullptr}, {"seed", -1},          {"batch", 18446744073709551615ull}};
  for (const auto& [key, value] : cases) {
    std::ofstream(p.config()) << config;
    edit_settings(p.root, [&](nlohmann::json& s) { s[key] = value; });
    const std::string context = key + " = " + value.dump();
    const Result r = gan({"train", "--resume", path("a"), "--steps", "20"});
    expect_usage_error(r, key, context);
    EXPECT_EQ(read(p.metrics()), metrics) << context << ": the metrics changed";
    const Result s = gan({"sample", "--run", path("a"), "--out", path("s.png")});
    expect_usage_error(s, key, context + " (sample)");
  }
  // The data spec and the model's flags are checked too.
  std::ofstream(p.config()) << config;
  edit_settings(p.root, [](nlohmann::json& s) { s["data_spec"]["point_dim"] = 0; });
  expect_usage_error(gan({"train", "--resume", path("a"), "--steps", "20"}), "data_spec.point_dim", "point_dim 0");
  std::ofstream(p.config()) << config;
  edit_settings(p.root, [](nlohmann::json& s) { s["model_config"]["hidden"] = 1e300; });
  expect_usage_error(gan({"train", "--resume", path("a"), "--steps", "20"}), "flag 'hidden': '1e+300' is not an integer from",
                     "hidden 1e300");
  std::string deep = std::string(10000, '[') + std::string(10000, ']');
  std::ofstream(p.config()) << "{\"settings\": " << deep << "}";
  expect_usage_error(gan({"train", "--resume", path("a"), "--steps", "20"}), "nests JSON deeper", "deep JSON");
}

TEST_F(GanCli, AConfigDescribingAModelFarLargerThanItsCheckpointIsRefusedBeforeAllocatingIt) {
  // hidden 4096 with 3 layers: about 800 MB of weights and optimizer state, which the run's checkpoints (hidden 16,
  // a few kB) cannot hold. It used to be allocated in full before the checkpoint was found not to fit.
  ASSERT_EQ(gan({"train", "--model", "gan", "--data", "ring8", "--out", path("a"), "--steps", "4", "--hidden",
                     "16", "--layers", "3", "--checkpoint-every", "2", "--progress-every", "0"}, default_catalog())
                .code,
            0);
  const RunPaths p{path("a")};
  const std::string metrics = read(p.metrics());
  edit_settings(p.root, [](nlohmann::json& s) { s["model_config"]["hidden"] = 4096; });
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"train", "--resume", path("a"), "--steps", "8"},
        std::vector<std::string>{"sample", "--run", path("a"), "--out", path("s.png")}}) {
    const Result r = gan(args, default_catalog());
    expect_usage_error(r, "is larger than its checkpoint", args[0] + " with hidden 4096");
    EXPECT_NE(r.err.find("restore config.json or start a new run"), std::string::npos) << r.err;
  }
  EXPECT_EQ(read(p.metrics()), metrics) << "the metrics changed";
}

// ---- checkpoint metadata and weights ----

TEST_F(GanCli, CheckpointMetadataOutOfRangeIsRefused) {
  ASSERT_EQ(gan(tiny_run(path("a"), 10)).code, 0);
  const RunPaths p{path("a")};
  const NamedTensors good = load_safetensors(p.latest_checkpoint().string());
  const std::string metrics = read(p.metrics());
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"loader_position", "9223372036854775000", "does not fit this run's data"},
      {"loader_position", "99999999999999999999", "out of range"},
      {"loader_epoch", "-3", "loader_epoch"},
      {"step", "12abc", "step"},
      {"elapsed_s", "nan", "elapsed_s"},
      {"elapsed_s", "inf", "elapsed_s"},
      {"elapsed_s", "1e999", "elapsed_s"}};
  for (const auto& [key, value, message] : cases) {
    rewrite_checkpoint(p.latest_checkpoint(), [&](NamedTensors& f) {
      f = good;
      f.metadata[key] = value;
    });
    const Result r = gan({"train", "--resume", path("a"), "--steps", "20"});
    expect_usage_error(r, message, key + " = " + value);
    EXPECT_EQ(read(p.metrics()), metrics) << key << ": the metrics changed";
  }
}

TEST_F(GanCli, NonFiniteWeightsAreRefusedByResumeAndSample) {
  ASSERT_EQ(gan(tiny_run(path("a"), 10)).code, 0);
  const RunPaths p{path("a")};
  for (const double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    rewrite_checkpoint(p.latest_checkpoint(), [&](NamedTensors& f) {
      Tensor& w = f.tensors.front().second;
      w = w.contiguous().clone();
      w.data<float>()[w.numel() - 1] = static_cast<float>(bad);
    });
    const std::string what = std::isnan(bad) ? "holds NaN" : "holds an infinity";
    expect_usage_error(gan({"train", "--resume", path("a"), "--steps", "20"}), what, "resume");
    expect_usage_error(gan({"sample", "--run", path("a"), "--out", path("s.png")}), what, "sample");
    EXPECT_FALSE(fs::exists(path("s.png")));
  }
}

// ---- resume without latest.safetensors ----

TEST_F(GanCli, MissingLatestResumesFromTheNewestUsableKeptCheckpoint) {
  ASSERT_EQ(gan(tiny_run(path("whole"), 30)).code, 0);
  ASSERT_EQ(gan(tiny_run(path("split"), 20)).code, 0);  // keeps step 7 and 14
  const RunPaths split{path("split")};
  fs::remove(split.latest_checkpoint());
  const Result r = gan({"train", "--resume", path("split"), "--steps", "30", "--progress-every", "0"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("resuming from the newest usable kept checkpoint, " + split.checkpoint(14).string()),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("at step 14 of 30"), std::string::npos) << r.out;
  expect_same_tensors(RunPaths{path("whole")}.latest_checkpoint(), split.latest_checkpoint());
  EXPECT_EQ(metrics_without_timing(path("whole")), metrics_without_timing(split.root));

  // A corrupt newest kept checkpoint is skipped, and said so.
  ASSERT_EQ(gan(tiny_run(path("b"), 20)).code, 0);
  const RunPaths b{path("b")};
  fs::remove(b.latest_checkpoint());
  fs::remove(b.checkpoint(14));
  std::ofstream(b.checkpoint(14)) << "not a checkpoint";
  const Result r2 = gan({"train", "--resume", path("b"), "--steps", "30", "--progress-every", "0"});
  ASSERT_EQ(r2.code, 0) << r2.err;
  EXPECT_NE(r2.out.find("skipping " + b.checkpoint(14).string()), std::string::npos) << r2.out;
  EXPECT_NE(r2.out.find("at step 7 of 30"), std::string::npos) << r2.out;
}

// ---- leftovers of killed processes ----

TEST_F(GanCli, StaleTemporariesOfDeadProcessesAreRemovedOnResume) {
  ASSERT_EQ(gan(tiny_run(path("a"), 10)).code, 0);
  const RunPaths p{path("a")};
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  const std::string d = std::to_string(dead);
  const std::vector<fs::path> stale = {p.latest_checkpoint().string() + ".tmp." + d, p.report().string() + ".tmp." + d,
                                       p.sample(5).string() + ".tmp." + d, p.root / (".write-test." + d)};
  const fs::path alive = p.config().string() + ".tmp.1";  // init's: a live process, kept
  for (const fs::path& f : stale) std::ofstream(f) << std::string(1000, 'x');
  std::ofstream(alive) << "x";
  const Result r = gan({"train", "--resume", path("a"), "--steps", "12", "--progress-every", "0"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const fs::path& f : stale) {
    EXPECT_FALSE(fs::exists(f)) << f;
    EXPECT_NE(r.out.find("removed " + f.string()), std::string::npos) << r.out;
  }
  EXPECT_TRUE(fs::exists(alive));
}

// ---- non-regular files ----

TEST_F(GanCli, FifosAreRefusedWithoutBlocking) {
  ASSERT_EQ(gan(tiny_run(path("a"), 10)).code, 0);
  const RunPaths p{path("a")};
  ASSERT_EQ(::mkfifo(path("ckpt.safetensors").c_str(), 0600), 0);
  {
    FifoWatchdog watchdog(path("ckpt.safetensors"));
    expect_usage_error(gan({"sample", "--run", path("a"), "--checkpoint", path("ckpt.safetensors"), "--out",
                            path("s.png")}),
                       "is a FIFO (named pipe), not a regular file", "--checkpoint FIFO");
    EXPECT_FALSE(watchdog.unblocked()) << "gan blocked opening the FIFO";
  }
  const std::string metrics = read(p.metrics());
  fs::rename(p.metrics(), path("metrics.jsonl"));
  ASSERT_EQ(::mkfifo(p.metrics().c_str(), 0600), 0);
  {
    FifoWatchdog watchdog(p.metrics());
    expect_usage_error(gan({"train", "--resume", path("a"), "--steps", "20"}), "is a FIFO", "metrics FIFO");
    EXPECT_FALSE(watchdog.unblocked()) << "gan blocked opening the FIFO";
  }
  fs::remove(p.metrics());
  fs::rename(path("metrics.jsonl"), p.metrics());
  fs::rename(p.config(), path("config.json"));
  ASSERT_EQ(::mkfifo(p.config().c_str(), 0600), 0);
  for (const std::vector<std::string>& args : {std::vector<std::string>{"train", "--resume", path("a")},
                                               {"sample", "--run", path("a"), "--out", path("s.png")},
                                               {"report", "--run", path("a")}}) {
    FifoWatchdog watchdog(p.config());
    expect_usage_error(gan(args), "is a FIFO", args[0] + " with config.json a FIFO");
    EXPECT_FALSE(watchdog.unblocked()) << args[0] << ": gan blocked opening the FIFO";
  }
}

// ---- flags ----

TEST_F(GanCli, NumericFlagsAreParsedStrictlyWithReadableRanges) {
  const auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"train", "--model", "tiny", "--data", "ring", "--out", path("run")};
    a.insert(a.end(), extra.begin(), extra.end());
    return gan(a);
  };
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--steps", "99999999999999999999"}, "--steps: '99999999999999999999' is out of range"},
      {{"--steps", "0"}, "want an integer from 1 to 1000000000000"},
      {{"--steps", "1e3"}, "is not an integer"},
      {{"--steps", "0x10"}, "is not an integer"},
      {{"--epochs", "9223372036854775807"}, "--epochs"},
      {{"--epochs", "1000000000000"}, "batches per epoch, more than the 1000000000000 steps"},
      {{"--batch", "1.5"}, "--batch"},
      {{"--seed", "-1"}, "--seed"},
      {{"--progress-every", "-1"}, "want a number from 0 to 1e+06"},
      {{"--progress-every", "nan"}, "--progress-every"},
      {{"--hidden", "99999999999"}, "--hidden"},
      {{"--lr", "inf"}, "--lr"},
      {{"--samples", "100000"}, "--samples"},
      {{"--data-size", "2000000"}, "--data-size"}};
  for (const auto& [extra, message] : cases) {
    const Result r = train(extra);
    expect_usage_error(r, message, extra[0] + " " + extra[1]);
    EXPECT_EQ(r.err.find("0000000000000000000000000000"), std::string::npos) << r.err;  // no 309-digit numbers
    EXPECT_FALSE(fs::exists(path("run"))) << extra[0] << " " << extra[1] << ": left the run directory behind";
  }
  // A model flag outside what its model takes is refused before the run starts (dropout 2 used to stop training
  // at step 0 with exit 1 and advice to resume; dropout -1 was used as 0).
  for (const char* p : {"2", "-1"}) {
    const Result r = gan({"train", "--model", "gan", "--data", "ring8", "--out", path("run"), "--dropout", p}, default_catalog());
    expect_usage_error(r, "dropout must be in [0, 1), got", std::string("--dropout ") + p);
    EXPECT_FALSE(fs::exists(path("run"))) << "--dropout " << p << ": left the run directory behind";
  }
  ASSERT_EQ(gan(tiny_run(path("a"), 4)).code, 0);
  expect_usage_error(gan({"sample", "--run", path("a"), "--out", path("s.png"), "--n", "0"}), "--n", "sample --n 0");
  expect_usage_error(gan({"sample", "--run", path("a"), "--out", path("s.png"), "--seed", "x"}), "--seed",
                     "sample --seed x");
  fs::create_directories(path("dir.png"));
  expect_usage_error(gan({"sample", "--run", path("a"), "--out", path("dir.png")}), "is a directory",
                     "sample --out DIR");
  // gan eval retrains a missing or outdated classifier and writes it to --classifier: never over another file.
  std::ofstream(path("notes.txt")) << "precious";
  expect_usage_error(gan({"eval", "--run", path("a"), "--classifier", path("notes.txt")}),
                     "is not a classifier gan eval wrote", "eval --classifier FILE");
  EXPECT_EQ(read(path("notes.txt")), "precious");
  expect_usage_error(gan({"eval", "--run", path("a"), "--json", path("dir.png")}), "exists and is not a file",
                     "eval --json DIR");
}

TEST_F(GanCli, EvalSamplesWithAnUnreadableImageIsAUsageError) {
  ASSERT_EQ(gan(tiny_run(path("a"), 4)).code, 0);
  fs::create_directories(path("pngs"));
  for (const char* name : {"a.png", "b.png", "c.png", "d.png"})
    fs::copy_file(RunPaths{path("a")}.sample(4), path("pngs/") + name);
  std::ofstream(path("pngs/e.png")) << "GIF89a not really";
  expect_usage_error(gan({"eval", "--samples", path("pngs")}), "--samples: cannot decode image", "eval --samples");
}

TEST_F(GanCli, OutOfMemoryNamesWhatWasAllocated) {
  const Result r = gan({"train", "--model", "tiny", "--data", "ring", "--out", path("run"), "--steps", "2", "--nz",
                        "16777216", "--hidden", "16777216"});
  expect_usage_error(r, "cannot allocate 1.1 PB for a float32 tensor of shape [16777216, 16777216]", "huge model");
  EXPECT_EQ(r.err.find("std::bad_alloc"), std::string::npos) << r.err;
}

// ---- metrics edited by hand ----

TEST_F(GanCli, MetricsLinesWithoutNumbersDoNotStopReportOrResume) {
  ASSERT_EQ(gan(tiny_run(path("a"), 10)).code, 0);
  const RunPaths p{path("a")};
  // What a non-finite elapsed_s used to leave: the last line's time as null (report and resume then stopped with
  // a raw JSON type error).
  std::vector<std::string> lines;
  {
    std::ifstream in(p.metrics());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  ASSERT_FALSE(lines.empty());
  nlohmann::json last = nlohmann::json::parse(lines.back());
  last["time"] = nullptr;
  lines.back() = last.dump();
  {
    std::ofstream out(p.metrics(), std::ios::trunc);
    for (const std::string& line : lines) out << line << "\n";
  }
  const Result r = gan({"report", "--run", path("a")});
  EXPECT_EQ(r.code, 0) << r.err;
  const Result t = gan({"train", "--resume", path("a"), "--steps", "12", "--progress-every", "0"});
  EXPECT_EQ(t.code, 0) << t.err;
  // Lines of other shapes, after it.
  std::ofstream(p.metrics(), std::ios::app) << "{\"loss_d\": 1}\n[1, 2]\n{\"step\": -4}\n"
                                            << "{\"step\": 12, \"loss_d\": 0.5, \"time\": null}\n";
  const Result r2 = gan({"report", "--run", path("a")});
  EXPECT_EQ(r2.code, 0) << r2.err;
  const Result t2 = gan({"train", "--resume", path("a"), "--steps", "14", "--progress-every", "0"});
  EXPECT_EQ(t2.code, 0) << t2.err;
}

}  // namespace
}  // namespace gan::apps
