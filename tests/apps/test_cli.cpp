// The `gan` command line, run in process on a tiny point GAN (tests/apps/test_double.h): error handling (exit
// code 2, one line, nothing left behind), the run directory, bit-identical resume, signal and NaN stops, sampling.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_harness.h"
#include "kernels/math_mode.h"

namespace gan::apps {
namespace {

// ---- listings and help ----

TEST_F(GanCli, ListsModelsAndDatasetsOneLineEach) {
  Result r = gan({"models"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 2) << r.out;
  EXPECT_NE(r.out.find("tiny2"), std::string::npos);
  r = gan({"datasets"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 1) << r.out;
  EXPECT_NE(r.out.find("ring"), std::string::npos);
}

TEST_F(GanCli, HelpEverywhere) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"train", "--help"}, {"sample", "--help"}, {"models", "--help"},
        {"datasets", "--help"}, {"report", "--help"}}) {
    const Result r = gan(args);
    EXPECT_EQ(r.code, 0) << args[0] << ": " << r.err;
    EXPECT_NE(r.out.find("--help"), std::string::npos) << args[0];
  }
  // The chosen model's flags appear in train's help.
  const Result r = gan({"train", "--model", "tiny", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--hidden"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--steps"), std::string::npos);
}

// ---- errors: exit code 2, one line naming the problem, nothing written ----

struct ErrorCase {
  std::vector<std::string> args;
  std::string message;
};

TEST_F(GanCli, UsageErrorsExitTwoWithOneLineAndWriteNothing) {
  const std::string out = path("run");
  const auto base = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"train", "--model", "tiny", "--data", "ring", "--out", out, "--steps", "4"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const std::vector<ErrorCase> cases = {
      {{"train", "--model", "nope", "--data", "ring", "--out", out}, "unknown model 'nope'"},
      {{"train", "--model", "tiny", "--data", "nope", "--out", out}, "cannot open dataset 'nope'"},
      {base({"--bogus", "3"}), "unknown option --bogus for model tiny; its flags are --nz, --hidden"},
      {base({"--steps", "abc"}), "--steps"},
      {base({"--steps", "-3"}), "--steps"},
      {base({"--hidden", "wide"}), "--hidden"},
      {base({"--hidden", "0"}), "cannot build model tiny"},
      {base({"--batch", "1000"}), "fewer than --batch 1000"},
      {base({"--device", "gpu7"}), "--device"},
      {base({"--precision", "fp16"}), "--precision"},
      {{"train", "--data", "ring", "--out", out}, "--model is required"},
      {{"train", "--resume", path("missing")}, "no run to resume"},
      {{"frobnicate"}, "frobnicate"},
      {{"sample", "--run", path("missing"), "--out", path("x.png")}, "no run at"},
  };
  for (const auto& c : cases) {
    const Result r = gan(c.args);
    EXPECT_EQ(r.code, 2) << c.message << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "expected '" << c.message << "' in: " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_FALSE(fs::exists(out)) << c.message << ": left " << out << " behind";
  }
}

TEST_F(GanCli, UnwritableOutIsAUsageError) {
  std::ofstream(path("file")) << "not a directory";
  const Result r = gan({"train", "--model", "tiny", "--data", "ring", "--out", path("file") + "/run", "--steps", "2"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("cannot create directory"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST_F(GanCli, ExistingRunIsNotOverwritten) {
  ASSERT_EQ(gan(tiny_run(path("a"), 2)).code, 0);
  const Result r = gan(tiny_run(path("a"), 2));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
}

TEST_F(GanCli, CheckpointFromAnotherModelIsRefused) {
  ASSERT_EQ(gan(tiny_run(path("a"), 4)).code, 0);
  auto other = tiny_run(path("b"), 4);
  other[2] = "tiny2";
  ASSERT_EQ(gan(other).code, 0);
  fs::copy_file(RunPaths{path("b")}.latest_checkpoint(), RunPaths{path("a")}.latest_checkpoint(),
                fs::copy_options::overwrite_existing);
  const std::string before = read(RunPaths{path("a")}.metrics());

  Result r = gan({"train", "--resume", path("a"), "--steps", "8"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is from model 'tiny2'"), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_EQ(read(RunPaths{path("a")}.metrics()), before) << "a refused resume must not touch the run";

  r = gan({"sample", "--run", path("a"), "--out", path("s.png")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is from model 'tiny2'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("s.png")));
}

TEST_F(GanCli, CorruptCheckpointIsAUsageError) {
  ASSERT_EQ(gan(tiny_run(path("a"), 4)).code, 0);
  const fs::path latest = RunPaths{path("a")}.latest_checkpoint();
  fs::remove(latest);  // a hard link to the kept file: replace, do not write through it
  std::ofstream(latest, std::ios::binary) << "\x10\x00\x00\x00\x00\x00\x00\x00{garbage";
  const Result r = gan({"train", "--resume", path("a"), "--steps", "8"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(latest.string()), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST_F(GanCli, ResumeOfAFinishedRunNeedsMoreSteps) {
  ASSERT_EQ(gan(tiny_run(path("a"), 4)).code, 0);
  const Result r = gan({"train", "--resume", path("a")});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("already at step 4"), std::string::npos) << r.err;
  const Result b = gan({"train", "--resume", path("a"), "--steps", "6", "--batch", "8"});
  EXPECT_EQ(b.code, 2);
  EXPECT_NE(b.err.find("--batch cannot change"), std::string::npos) << b.err;
}

// Killed after its last checkpoint but before its end (no "finished" in config.json, as if the kill came while the
// final report was written): a resume finishes the run instead of refusing it, and only then is it finished.
TEST_F(GanCli, ResumeFinishesARunStoppedAfterItsLastCheckpoint) {
  ASSERT_EQ(gan(tiny_run(path("a"), 4)).code, 0);
  const RunPaths paths{path("a")};
  nlohmann::json config = read_json_file(paths.config());
  ASSERT_EQ(config["finished"]["step"], 4) << config.dump();
  config.erase("finished");
  std::ofstream(paths.config()) << config.dump(2);
  const Result r = gan({"train", "--resume", path("a")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("before it finished; finishing it"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("finished 4 steps"), std::string::npos) << r.out;
  EXPECT_EQ(read_json_file(paths.config())["finished"]["step"], 4);
  EXPECT_EQ(gan({"train", "--resume", path("a")}).code, 2);  // now it is finished
}

// The float32 math mode (--precision) is part of the run: config.json records it and a resume trains in it again,
// whatever the resuming process's default, unless --precision says otherwise.
TEST_F(GanCli, PrecisionIsRecordedAndKeptByResume) {
  using gan::kernels::FloatMath;
  const gan::kernels::ScopedFloatMath restore(FloatMath::Tf32);  // process-wide: left as found for later tests
  const auto settings = [&] { return read_json_file(RunPaths{path("a")}.config())["settings"]; };
  auto args = tiny_run(path("a"), 4);
  args.insert(args.end(), {"--precision", "bf16"});
  ASSERT_EQ(gan(args).code, 0);
  EXPECT_EQ(settings()["precision"], "bf16");
  EXPECT_EQ(gan::kernels::float_math(), FloatMath::Bf16);

  gan::kernels::set_float_math(FloatMath::Tf32);  // a new process's default
  Result r = gan({"train", "--resume", path("a"), "--steps", "6"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(gan::kernels::float_math(), FloatMath::Bf16) << "the resume must train in the run's recorded mode";
  EXPECT_EQ(settings()["precision"], "bf16");

  r = gan({"train", "--resume", path("a"), "--steps", "8", "--precision", "fp32"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(gan::kernels::float_math(), FloatMath::Fp32);
  EXPECT_EQ(settings()["precision"], "fp32");

  r = gan({"train", "--resume", path("a"), "--steps", "10", "--precision", "fp16"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--precision"), std::string::npos) << r.err;
}

// ---- a run and its directory ----

TEST_F(GanCli, RunWritesEveryRunDirectoryFile) {
  const Result r = gan(tiny_run(path("a"), 20));
  ASSERT_EQ(r.code, 0) << r.err;
  const RunPaths p{path("a")};

  const nlohmann::json config = read_json_file(p.config());
  EXPECT_EQ(config["settings"]["model"], "tiny");
  EXPECT_EQ(config["settings"]["steps"], 20);
  EXPECT_EQ(config["settings"]["model_config"]["hidden"], 8);
  EXPECT_NE(config["command_line"].get<std::string>().find("--model tiny"), std::string::npos);
  EXPECT_TRUE(config.contains("gan_version"));

  const auto metrics = read_metrics(p.metrics());
  std::vector<int64_t> steps;
  for (const auto& m : metrics) {
    steps.push_back(m["step"].get<int64_t>());
    for (const char* key : {"loss_d", "loss_g", "time", "images_per_s"}) EXPECT_TRUE(m.contains(key)) << key;
  }
  EXPECT_EQ(steps, (std::vector<int64_t>{3, 6, 9, 12, 15, 18, 20}));

  for (int s : {0, 5, 10, 15, 20}) EXPECT_TRUE(is_png(p.sample(s))) << p.sample(s);
  for (int s : {7, 14}) EXPECT_TRUE(fs::exists(p.checkpoint(s))) << s;
  EXPECT_EQ(load_safetensors(p.latest_checkpoint().string()).metadata.at("step"), "20");

  const std::string report = read(p.report());
  EXPECT_NE(report.find("id=\"report-data\""), std::string::npos);  // charts are drawn from it in the browser
  EXPECT_NE(report.find("\"loss_d\""), std::string::npos);
  EXPECT_NE(report.find("samples/step_000020.png"), std::string::npos);
  EXPECT_NE(report.find("finished"), std::string::npos);
  EXPECT_EQ(report.find("http-equiv=\"refresh\""), std::string::npos) << "a finished run's report stops reloading";

  for (const auto& e : fs::recursive_directory_iterator(p.root))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << "left behind: " << e.path();
}

TEST_F(GanCli, TypedModelFlagsReachTheConfig) {
  auto args = tiny_run(path("a"), 2);
  args.insert(args.end(), {"--hidden", "5", "--lr", "0.01", "--note_flag"});
  ASSERT_EQ(gan(args).code, 0);
  const nlohmann::json mc = read_json_file(RunPaths{path("a")}.config())["settings"]["model_config"];
  EXPECT_EQ(mc["hidden"], 5);
  EXPECT_EQ(mc["lr"], 0.01);
  EXPECT_EQ(mc["note_flag"], true);
  auto dashed = tiny_run(path("b"), 2);
  dashed.insert(dashed.end(), {"--note-flag=false"});
  ASSERT_EQ(gan(dashed).code, 0);
  EXPECT_EQ(read_json_file(RunPaths{path("b")}.config())["settings"]["model_config"]["note_flag"], false);
}

// ---- resume is exact ----

TEST_F(GanCli, InterruptedAndResumedRunEqualsUninterruptedOne) {
  ASSERT_EQ(gan(tiny_run(path("whole"), 20)).code, 0);
  ASSERT_EQ(gan(tiny_run(path("split"), 10)).code, 0);
  const Result r = gan({"train", "--resume", path("split"), "--steps", "20", "--progress-every", "0"});
  ASSERT_EQ(r.code, 0) << r.err;

  const RunPaths whole{path("whole")}, split{path("split")};
  expect_same_tensors(whole.latest_checkpoint(), split.latest_checkpoint());
  expect_same_tensors(whole.checkpoint(14), split.checkpoint(14));
  EXPECT_EQ(metrics_without_timing(whole.root), metrics_without_timing(split.root));
  EXPECT_EQ(read(whole.sample(20)), read(split.sample(20)));
  EXPECT_EQ(read_json_file(split.config())["resumes"].size(), 1u);
}

TEST_F(GanCli, SignalCheckpointsAtTheStepBoundaryAndResumesExactly) {
  ASSERT_EQ(gan(tiny_run(path("whole"), 20)).code, 0);
  auto args = tiny_run(path("split"), 20);
  args.insert(args.end(), {"--signal_at", "9"});
  const Result r = gan(args);
  ASSERT_EQ(r.code, 130) << r.err;
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  const RunPaths split{path("split")};
  EXPECT_EQ(load_safetensors(split.latest_checkpoint().string()).metadata.at("step"), "9");
  EXPECT_NE(read(split.report()).find("interrupted at step 9"), std::string::npos);

  const Result resumed = gan({"train", "--resume", path("split")});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  expect_same_tensors(RunPaths{path("whole")}.latest_checkpoint(), split.latest_checkpoint());
  EXPECT_EQ(metrics_without_timing(path("whole")), metrics_without_timing(split.root));
}

// ---- non-finite losses ----

TEST_F(GanCli, NonFiniteLossStopsAndKeepsTheLastGoodCheckpoint) {
  auto args = tiny_run(path("a"), 20);
  args.insert(args.end(), {"--nan_at", "13"});
  const Result r = gan(args);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("loss_d is nan at step 13"), std::string::npos) << r.err;
  const RunPaths p{path("a")};
  EXPECT_EQ(load_safetensors(p.latest_checkpoint().string()).metadata.at("step"), "7");
  EXPECT_FALSE(fs::exists(p.checkpoint(14)));
  for (const auto& m : read_metrics(p.metrics())) EXPECT_LT(m["step"].get<int64_t>(), 13);
  EXPECT_NE(read(p.report()).find("non-finite at step 13"), std::string::npos);
}

// ---- sample ----

TEST_F(GanCli, SampleWritesPng) {
  ASSERT_EQ(gan(tiny_run(path("a"), 6)).code, 0);
  Result r = gan({"sample", "--run", path("a"), "--n", "32", "--seed", "3", "--out", path("out/s.png")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(is_png(path("out/s.png")));
  EXPECT_NE(r.out.find("from step 6"), std::string::npos) << r.out;

  r = gan({"sample", "--run", path("a"), "--interpolate", "--rows", "2", "--steps", "5", "--out", path("i.png")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(is_png(path("i.png")));

  r = gan({"sample", "--run", path("a"), "--out", path("s.jpg")});
  EXPECT_EQ(r.code, 2);
  std::ofstream(path("file")) << "x";
  r = gan({"sample", "--run", path("a"), "--out", path("file") + "/s.png"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST_F(GanCli, ReportCanBeRewritten) {
  ASSERT_EQ(gan(tiny_run(path("a"), 4)).code, 0);
  fs::remove(RunPaths{path("a")}.report());
  const Result r = gan({"report", "--run", path("a")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(read(RunPaths{path("a")}.report()).find("\"loss_d\""), std::string::npos);
}

// ---- eval ----
// Only the refusals run here: a real evaluation needs the Fashion-MNIST classifier, trained once (minutes), which
// benchmarks/results/quality.md records. Every refusal comes before the classifier is loaded or trained.

TEST_F(GanCli, EvalRefusesWhatItCannotMeasure) {
  ASSERT_EQ(gan(tiny_run(path("a"), 4)).code, 0);
  fs::create_directories(path("two-pngs"));
  for (const char* name : {"x.png", "y.png"}) fs::copy_file(RunPaths{path("a")}.sample(4), path("two-pngs/") + name);
  const std::vector<ErrorCase> cases = {
      {{"eval"}, "pass exactly one of --run RUN and --samples FOLDER"},
      {{"eval", "--run", path("a"), "--samples", path("two-pngs")}, "excludes"},
      {{"eval", "--run", path("a")}, "gan eval measures Fashion-MNIST runs only"},
      {{"eval", "--run", path("missing")}, "no run at"},
      {{"eval", "--samples", path("missing")}, "--samples: no folder at"},
      {{"eval", "--samples", path("two-pngs")}, "need more than 3 PNG files"},
      {{"eval", "--samples", path("two-pngs"), "--n", "0"}, "--n"},
      {{"eval", "--samples", path("two-pngs"), "--json", path("no/such/dir/e.json")}, "--json: no folder"},
  };
  for (const auto& c : cases) {
    const Result r = gan(c.args);
    EXPECT_EQ(r.code, 2) << c.message << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "expected '" << c.message << "' in: " << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
  }
  EXPECT_FALSE(fs::exists(RunPaths{path("a")}.eval()));
}

TEST_F(GanCli, ReportShowsTheLatestEval) {
  ASSERT_EQ(gan(tiny_run(path("a"), 4)).code, 0);
  const RunPaths p{path("a")};
  EXPECT_EQ(read(p.report()).find("Sample quality"), std::string::npos);
  std::ofstream(p.eval()) << R"({"eval": {"n": 10000, "step": 4, "fd": 12.5, "precision": 0.61, "recall": 0.42}})";
  ASSERT_EQ(gan({"report", "--run", path("a")}).code, 0);
  const std::string html = read(p.report());
  EXPECT_NE(html.find("Sample quality (gan eval)"), std::string::npos);
  EXPECT_NE(html.find("<td>12.5</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("<td>10000</td>"), std::string::npos) << html;

  std::ofstream(p.eval()) << "{not json";
  ASSERT_EQ(gan({"report", "--run", path("a")}).code, 0) << "an unreadable eval.json must not stop the report";
  EXPECT_NE(read(p.report()).find("Cannot read"), std::string::npos);
}

}  // namespace
}  // namespace gan::apps
