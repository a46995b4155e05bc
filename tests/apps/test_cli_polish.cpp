// The command line's manners: suggestions for mistyped commands, options and models, defaults in --help, old
// option spellings kept as aliases, `gan info`, refusals that come before long work (a missing --classifier, a
// folder of sample grids given to gan eval), `gan sample --format png-dir` and the long-run warning.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "apps/cli.h"
#include "apps/progress.h"
#include "apps/quality.h"
#include "apps/run_dir.h"
#include "apps/suggest.h"
#include "apps/trained_run.h"
#include "engine/image/image.h"
#include "engine/image/plots.h"
#include "engine/rng.h"
#include "cli_test_util.h"
#include "test_double.h"

namespace gan::apps {
namespace {

namespace fs = std::filesystem;

using Result = testing::CliResult;
Result gan(std::vector<std::string> args) { return testing::run_gan(testing::test_catalog(), std::move(args)); }
Result zoo(std::vector<std::string> args) { return testing::run_gan(default_catalog(), std::move(args)); }

int64_t count_lines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

using CliPolish = testing::ScratchDirTest;

// One usage error: exit 2, one line on stderr holding `message`.
void expect_usage(const Result& r, const std::string& message) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(message), std::string::npos) << "expected '" << message << "' in: " << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
}

TEST(Suggest, FindsTyposExtensionsAndOtherToolsSpellings) {
  EXPECT_EQ(edit_distance("trian", "train"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  const std::vector<std::string> commands = {"train", "sample", "eval", "export", "report", "models", "datasets"};
  EXPECT_EQ(closest_names("trian", commands), (std::vector<std::string>{"train"}));
  EXPECT_EQ(closest_names("sampel", commands), (std::vector<std::string>{"sample"}));
  EXPECT_EQ(closest_names("model", commands), (std::vector<std::string>{"models"}));
  EXPECT_TRUE(closest_names("frobnicate", commands).empty());
  const std::vector<std::string> options = {"--batch", "--data-size", "--steps", "--lr-g", "--lr_g", "--lr-d",
                                            "--lr_d", "--out", "--sample-n"};
  EXPECT_EQ(closest_names("--batch-size", options), (std::vector<std::string>{"--batch"}));
  EXPECT_EQ(closest_names("--batch_size", options), (std::vector<std::string>{"--batch"}));
  EXPECT_EQ(closest_names("--lr", options), (std::vector<std::string>{"--lr-g", "--lr-d"}));
  EXPECT_EQ(closest_names("--iterations", options), (std::vector<std::string>{"--steps"}));
  EXPECT_EQ(closest_names("--output", options), (std::vector<std::string>{"--out"}));
  EXPECT_EQ(did_you_mean("--lr", options), " (did you mean --lr-g or --lr-d?)");
  EXPECT_EQ(did_you_mean("trian", commands), " (did you mean 'train'?)");
  EXPECT_EQ(did_you_mean("--stepz", {"--steps", "--rows"}, {{"--steps", "--cols"}}), " (did you mean --cols?)");
  EXPECT_EQ(did_you_mean("--zzz", options), "");
}

TEST_F(CliPolish, MistypedCommandsOptionsAndModelsGetSuggestions) {
  expect_usage(gan({"trian"}), "unknown command 'trian' (did you mean 'train'?)");
  expect_usage(gan({"train", "--model", "tiny", "--data", "ring", "--batch-size", "8"}),
               "unknown option --batch-size for model tiny (did you mean --batch?)");
  expect_usage(gan({"train", "--batch-size", "8"}), "unknown option --batch-size (did you mean --batch?)");
  expect_usage(gan({"sample", "--run", "x", "--out", "y.png", "--stepz", "3"}), "(did you mean --cols?)");
  expect_usage(gan({"eval", "--sample", "x"}), "unknown option --sample (did you mean --samples?)");
  expect_usage(gan({"report", "--run", "x", "extra"}), "unexpected argument 'extra'");
  // An unknown model is an error even with --help (which would otherwise print generic help).
  expect_usage(gan({"train", "--model", "tinyy", "--help"}), "unknown model 'tinyy' (did you mean 'tiny'");
  // The zoo's learning rates are --lr-g and --lr-d.
  expect_usage(zoo({"train", "--model", "dcgan", "--data", "synthetic", "--lr", "0.1"}),
               "unknown option --lr for model dcgan (did you mean --lr-g or --lr-d?)");
}

TEST_F(CliPolish, HelpShowsDefaults) {
  const Result r = gan({"train", "--help"});
  ASSERT_EQ(r.code, 0);
  for (const char* text : {"--steps INT=5000", "--batch INT=64", "--log-every INT=10", "--sample-every INT=500",
                           "--checkpoint-every INT=1000", "--eval-n",
                           "=1000", "default: 64; 512 points"})
    EXPECT_NE(r.out.find(text), std::string::npos) << text << " in:\n" << r.out;
  EXPECT_EQ(r.out.find("--samples "), std::string::npos) << "old spellings stay out of the help";
  const Result s = gan({"sample", "--help"});
  EXPECT_NE(s.out.find("--cols INT=10"), std::string::npos) << s.out;
  EXPECT_NE(s.out.find("--format TEXT:{grid,png-dir}=grid"), std::string::npos) << s.out;
  EXPECT_EQ(s.out.find("--steps"), std::string::npos) << s.out;
  // Model flags are dashed like the rest; the model's underscored key is the alias.
  const Result m = zoo({"train", "--model", "dcgan", "--help"});
  EXPECT_NE(m.out.find("--lr-g,--lr_g FLOAT=0.0002"), std::string::npos) << m.out;
}

TEST_F(CliPolish, OldSpellingsStillWork) {
  ASSERT_EQ(zoo({"train", "--model", "dcgan", "--data", "synthetic", "--out", path("a"), "--steps", "2", "--batch",
                 "8", "--nz", "8", "--ngf", "4", "--ndf", "4", "--samples", "20", "--lr_g", "0.0003",
                 "--progress-every", "0"})
                .code,
            0);
  EXPECT_EQ(read_json_file(RunPaths{path("a")}.config())["settings"]["sample_n"], 20);
  EXPECT_EQ(read_json_file(RunPaths{path("a")}.config())["settings"]["model_config"]["lr_g"], 0.0003);
  const Result r = zoo({"sample", "--run", path("a"), "--interpolate", "--rows", "2", "--steps", "5", "--out",
                        path("i.png")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2 x 5 interpolation"), std::string::npos) << r.out;
}

TEST_F(CliPolish, InfoNamesBackendsAndDevices) {
  const Result r = gan({"info"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("backends: cpu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cuda"), std::string::npos) << "says whether CUDA is compiled in: " << r.out;
  EXPECT_NE(r.out.find("devices: cpu"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("default device: "), std::string::npos) << r.out;
}

TEST_F(CliPolish, MissingClassifierIsRefusedBeforeAnyWork) {
  fs::create_directories(path("pngs"));
  Generator gen(3, 0);
  for (int i = 0; i < 5; ++i)
    image::save_png(path("pngs/s" + std::to_string(i) + ".png"),
                    image::make_grid(clamp(randn({1, 1, 28, 28}, DType::Float32, &gen), -1.0, 1.0), 1, 1, 0));
  expect_usage(gan({"eval", "--samples", path("pngs"), "--classifier", "/nonexistent/c.safetensors"}),
               "--classifier: no file at /nonexistent/c.safetensors");
  expect_usage(zoo({"train", "--model", "dcgan", "--data", "fashion-mnist", "--out", path("run"), "--eval-every",
                    "10", "--classifier", "/nonexistent/c.safetensors"}),
               "--classifier: no file at /nonexistent/c.safetensors");
  EXPECT_FALSE(fs::exists(path("run")));
  expect_usage(gan({"train", "--model", "tiny", "--data", "ring", "--out", path("run"), "--eval-every", "10"}),
               "--eval-every measures Fashion-MNIST runs only");
  expect_usage(gan({"train", "--model", "tiny", "--data", "ring", "--out", path("run"), "--eval-n", "100"}),
               "--eval-n and --classifier go with --eval-every");
  EXPECT_FALSE(fs::exists(path("run")));
}

TEST_F(CliPolish, EvalRefusesAFolderOfGrids) {
  Generator gen(4, 0);
  const auto tiles = [&](int64_t n, int64_t side) {
    return clamp(randn({n, 1, side, side}, DType::Float32, &gen), -1.0, 1.0);
  };
  // Ours (gray lines), torchvision's layout (black lines), other tile sizes: grids.
  EXPECT_EQ(sample_grid_layout(image::make_grid(tiles(64, 28), 8, 8)), "8 x 8 tiles of 28 px");
  image::Image8 black = image::make_grid(tiles(16, 32), 2, 8);
  for (int64_t y = 0; y < black.height; ++y)
    for (int64_t x = 0; x < black.width; ++x)
      if (y % 34 < 2 || x % 34 < 2)
        for (int64_t c = 0; c < black.channels; ++c) black.pixels[(y * black.width + x) * black.channels + c] = 0;
  EXPECT_EQ(sample_grid_layout(black), "2 x 8 tiles of 32 px");
  EXPECT_EQ(sample_grid_layout(image::make_grid(tiles(4, 64), 2, 2, 1)), "2 x 2 tiles of 64 px");
  // Single samples: not grids.
  for (int64_t side : {28, 32, 64})
    EXPECT_EQ(sample_grid_layout(image::make_grid(tiles(1, side), 1, 1, 0)), "") << side;

  fs::create_directories(path("grids"));
  for (int i = 0; i < 5; ++i)
    image::save_png(path("grids/g" + std::to_string(i) + ".png"), image::make_grid(tiles(64, 28), 8, 8));
  expect_usage(gan({"eval", "--samples", path("grids")}), "is a sample grid (8 x 8 tiles of 28 px), not one sample");
}

TEST_F(CliPolish, SampleWritesOnePngPerSample) {
  ASSERT_EQ(zoo({"train", "--model", "dcgan", "--data", "synthetic", "--out", path("run"), "--steps", "2", "--batch",
                 "8", "--nz", "8", "--ngf", "4", "--ndf", "4", "--progress-every", "0"})
                .code,
            0);
  EXPECT_TRUE(fs::exists(RunPaths{path("run")}.real_grid())) << "image runs keep a grid of real examples";
  const Result r = zoo({"sample", "--run", path("run"), "--format", "png-dir", "--n", "12", "--out", path("pngs")});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(path("pngs"))) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 12u);
  EXPECT_EQ(files.front(), "sample_000000.png");
  const image::Image8 one = image::load_image(path("pngs/sample_000011.png"));
  EXPECT_EQ(one.channels, 1);
  EXPECT_EQ(one.width, one.height);
  EXPECT_EQ(sample_grid_layout(one), "");
  // Exactly --n files, also where a grid would round up to whole rows (5 -> 2 x 3).
  ASSERT_EQ(zoo({"sample", "--run", path("run"), "--format", "png-dir", "--n", "5", "--out", path("five")}).code, 0);
  EXPECT_EQ(std::distance(fs::directory_iterator(path("five")), fs::directory_iterator()), 5);
  // A folder that already holds files is refused (no mixing with older samples); point data has no images.
  expect_usage(zoo({"sample", "--run", path("run"), "--format", "png-dir", "--out", path("pngs")}),
               "already holds files");
  ASSERT_EQ(gan({"train", "--model", "tiny", "--data", "ring", "--out", path("pts"), "--steps", "2", "--batch", "16",
                 "--progress-every", "0"})
                .code,
            0);
  expect_usage(gan({"sample", "--run", path("pts"), "--format", "png-dir", "--out", path("p2")}),
               "trains on 2-D points");
}

// png-dir draws what gan eval measures (for_each_sample): for infogan the categorical-code rows, never the
// continuous-code sweeps (one shared noise draw, codes beyond the training range) that its grid also shows.
TEST_F(CliPolish, PngDirHoldsTheSamplesEvalMeasures) {
  // On the CPU, where the reference below draws them too (a GPU's TF32 samples differ in the odd pixel).
  ASSERT_EQ(zoo({"train", "--model", "infogan", "--data", "synthetic", "--out", path("run"), "--steps", "2",
                 "--batch", "8", "--nz", "8", "--ngf", "4", "--ndf", "4", "--q-hidden", "8", "--progress-every", "0",
                 "--device", "cpu"})
                .code,
            0);
  const int64_t n = 25;  // more than one grid's worth of categorical rows at this size
  ASSERT_EQ(zoo({"sample", "--run", path("run"), "--format", "png-dir", "--n", std::to_string(n), "--seed", "5",
                 "--out", path("pngs"), "--device", "cpu"})
                .code,
            0);
  TrainedRun run = load_trained_run(path("run"), "", default_catalog(), Device::cpu());
  Generator gen(5, 0);
  int64_t count = 0;
  for_each_sample(*run.model, "infogan", n, gen, [&](const Tensor& images, int64_t i, int64_t condition) {
    EXPECT_GE(condition, 0);
    EXPECT_LT(condition, 10);
    const image::Image8 want = image::to_gray(image::make_grid(slice(images, 0, i, i + 1), 1, 1, 0));
    const image::Image8 got = image::load_image(path("pngs/" + ("sample_" + RunPaths::step_tag(count) + ".png")));
    EXPECT_EQ(got.pixels, want.pixels) << "sample " << count;
    ++count;
  });
  EXPECT_EQ(count, n);
  EXPECT_EQ(std::distance(fs::directory_iterator(path("pngs")), fs::directory_iterator()), n);
  // The grid gan sample writes for this draw does hold sweep rows, so the check above could fail.
  Generator grid_gen(5, 0);
  const models::SampleGrid grid = run.model->sample(n, grid_gen);
  EXPECT_EQ(grid.row_labels.back().rfind("c2 ", 0), 0u) << grid.row_labels.back();
}

TEST(ProgressWarning, LongRunsAreWarnedOnceShortOnesNot) {
  std::ostringstream out;
  Progress slow(out, false, 100000, 1e9);
  slow.warn_when_longer_than(3 * 3600, "Try fewer --steps.");
  for (int64_t step = 1; step <= 40; ++step) slow.update(step, {{"loss", 1.0}}, 10.0, 0.5);
  const std::string text = out.str();
  EXPECT_NE(text.find("warning: at 0.50 s/step the remaining 99979 steps take about 13h53m. Try fewer --steps."),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("warning", text.find("warning") + 1), std::string::npos) << "warned once";

  std::ostringstream quiet;
  Progress fast(quiet, false, 1000, 1e9);
  fast.warn_when_longer_than(3 * 3600, "x");
  for (int64_t step = 1; step <= 40; ++step) fast.update(step, {{"loss", 1.0}}, 10.0, 0.5);
  EXPECT_EQ(quiet.str().find("warning"), std::string::npos) << quiet.str();
}

}  // namespace
}  // namespace gan::apps
