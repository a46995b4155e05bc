// `gan eval`: sample quality of a Fashion-MNIST run (or of a folder of PNGs) measured with the engine's own
// Fashion-MNIST classifier (models/classifier.h; trained once and cached) and the metrics of models/metrics.h:
// the Frechet distance between classifier features of generated and test images, precision and recall (k = 3),
// and for cgan the classifier's accuracy on class-conditioned samples, for infogan the NMI between the
// categorical code and the predicted class. Prints one table; with --run also writes RUN/eval.json (a separate
// file rather than a metrics.jsonl line, because metrics.jsonl lines are per training step and resume truncates
// them by step).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>

#include "apps/commands.h"
#include "apps/flag_checks.h"
#include "apps/run_config.h"
#include "apps/run_dir.h"
#include "apps/trained_run.h"
#include "apps/trainer.h"
#include "engine/image/image.h"
#include "engine/rng.h"
#include "models/classifier.h"
#include "models/metrics.h"

namespace gan::apps {

namespace {

constexpr int64_t kSide = models::FashionClassifier::kImageSize;  // 28
constexpr int64_t kChunk = 500;                                    // samples per sample() call
constexpr int kNeighbours = 3;

struct Generated {
  std::vector<float> pixels;          // [n, 1, 28, 28] in [-1, 1]
  std::vector<int64_t> conditions;    // cgan: the class asked for; infogan: the categorical code; else empty
  int64_t count = 0;
  std::string source;                 // for the table
  int64_t step = -1;                  // checkpoint step (runs)
};

// One image [1, S, S] in [-1, 1] -> 28 x 28: as is at 28; the centre 28 x 28 at 32 (Fashion-MNIST at 32 is the
// 28-pixel image with a 2-pixel black border, so this undoes the padding exactly); resampled otherwise.
void to_28(const float* src, int64_t side, float* dst) {
  if (side == kSide) {
    std::copy(src, src + kSide * kSide, dst);
  } else if (side == 32) {
    for (int64_t y = 0; y < kSide; ++y) std::copy(src + (y + 2) * 32 + 2, src + (y + 2) * 32 + 2 + kSide, dst + y * kSide);
  } else {
    image::resize_chw(src, 1, side, side, dst, kSide, kSide);
  }
}

Generated generate_from_run(const EvalArgs& a, const Catalog& catalog, Device device) {
  const TrainedRun run = load_trained_run(a.run, a.checkpoint, catalog, device);
  const RunConfig& c = run.config;
  models::GanModel* model = run.model.get();
  const CheckpointInfo& info = run.info;

  Generated g;
  g.step = info.step;
  g.source = a.run + " (" + c.model + ", step " + std::to_string(info.step) + ")";
  const bool cgan = c.model == "cgan", infogan = c.model == "infogan";
  const int64_t side = c.spec.image_size, per = side * side;
  g.pixels.resize(static_cast<size_t>(a.n * kSide * kSide));
  Generator gen(a.seed, 0);
  while (g.count < a.n) {
    const models::SampleGrid grid = model->sample(kChunk, gen);
    const Tensor images = grid.images.to(Device::cpu()).contiguous();
    if (images.dim() != 4 || images.size(1) != 1 || images.size(2) != side)
      throw std::runtime_error("gan eval: model " + c.model + " sampled " + shape_str(images.shape()) +
                               ", expected [N, 1, " + std::to_string(side) + ", " + std::to_string(side) + "]");
    const float* px = images.data<float>();
    const int64_t before = g.count;
    for (int64_t i = 0; i < images.size(0) && g.count < a.n; ++i) {
      const int64_t row = grid.cols > 0 ? i / grid.cols : 0;
      int64_t condition = -1;
      if (cgan) {
        condition = row % 10;  // one row per class (models/cgan.cpp)
      } else if (infogan) {
        // Rows "cat r" hold code r with fresh noise per column; the continuous-code sweeps share one noise draw
        // and are left out.
        const std::string label = row < static_cast<int64_t>(grid.row_labels.size()) ? grid.row_labels[row] : "";
        if (label.rfind("cat ", 0) != 0) continue;
        condition = std::stoll(label.substr(4));
      }
      float* dst = g.pixels.data() + g.count * kSide * kSide;
      to_28(px + i * per, side, dst);
      // Quantized to the 256 levels a saved PNG holds, so a run and a folder of its PNGs (or of another
      // program's) are measured alike.
      for (int64_t p = 0; p < kSide * kSide; ++p)
        dst[p] = std::round(std::clamp((dst[p] + 1.0f) * 127.5f, 0.0f, 255.0f)) / 127.5f - 1.0f;
      if (cgan || infogan) g.conditions.push_back(condition);
      ++g.count;
    }
    if (g.count == before)  // a grid with no usable rows would otherwise loop forever
      throw std::runtime_error("gan eval: model " + c.model + " sampled a grid with no rows to measure (labels: " +
                               std::to_string(grid.row_labels.size()) + ")");
  }
  return g;
}

Generated read_folder(const EvalArgs& a) {
  const fs::path dir(a.samples);
  if (!fs::is_directory(dir)) throw UsageError("--samples: no folder at " + a.samples);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char ch) { return std::tolower(ch); });
    if (e.is_regular_file() && ext == ".png") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  if (files.size() > static_cast<size_t>(a.n)) files.resize(static_cast<size_t>(a.n));
  if (files.size() <= static_cast<size_t>(kNeighbours))
    throw UsageError("--samples: need more than " + std::to_string(kNeighbours) + " PNG files in " + a.samples +
                     ", found " + std::to_string(files.size()));
  Generated g;
  g.source = a.samples + " (" + std::to_string(files.size()) + " PNGs)";
  g.pixels.resize(files.size() * kSide * kSide);
  for (const auto& f : files) {
    image::Image8 img;
    try {
      img = image::to_gray(image::load_image(f.string()));
    } catch (const std::runtime_error& e) {
      throw UsageError(std::string("--samples: ") + e.what());
    }
    if (img.width != img.height) img = image::center_crop_square(img);
    std::vector<float> plane(static_cast<size_t>(img.width * img.height));
    for (size_t i = 0; i < plane.size(); ++i) plane[i] = img.pixels[i] / 127.5f - 1.0f;
    to_28(plane.data(), img.width, g.pixels.data() + g.count * kSide * kSide);
    ++g.count;
  }
  return g;
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

}  // namespace

CLI::App* add_eval_subcommand(CLI::App& app, EvalArgs& a) {
  CLI::App* eval = app.add_subcommand(
      "eval", "Measure a Fashion-MNIST run's samples: Frechet distance, precision/recall, cgan/infogan scores");
  auto* run = eval->add_option("--run", a.run, "Run directory (writes RUN/eval.json)");
  auto* samples = eval->add_option("--samples", a.samples, "A folder of PNG samples instead of a run");
  run->excludes(samples);
  eval->add_option("--n", a.n, "Number of samples")->capture_default_str()->check(int_flag(1, 50'000));
  eval->add_option("--seed", a.seed, "Noise seed")->capture_default_str()->check(uint_flag());
  eval->add_option("--checkpoint", a.checkpoint, "Checkpoint file [RUN/checkpoints/latest.safetensors]");
  eval->add_option("--device", a.device, "cpu, cuda or cuda:N");
  eval->add_option("--json", a.json, "Also write the figures to this JSON file (for scripts)");
  eval->add_option("--classifier", a.classifier,
                   "Classifier weights [$GAN_DATA_DIR or ~/.cache/gan-engine/classifier-fmnist.safetensors; "
                   "trained there when missing]");
  return eval;
}

int eval_command(const EvalArgs& a, const Catalog& catalog, const CliStreams& io) {
  if (a.run.empty() == a.samples.empty()) throw UsageError("pass exactly one of --run RUN and --samples FOLDER");
  if (a.n <= kNeighbours) throw UsageError("--n must be more than " + std::to_string(kNeighbours));
  if (!a.json.empty()) {
    // Checked now rather than after minutes of sampling and feature extraction.
    const fs::path parent = fs::absolute(a.json).parent_path();
    if (!fs::is_directory(parent)) throw UsageError("--json: no folder " + parent.string() + " to write " + a.json + " in");
    if (fs::exists(a.json) && !fs::is_regular_file(a.json))
      throw UsageError("--json " + a.json + " exists and is not a file; pick another name");
  }
  // An existing --classifier file is replaced when the classifier is retrained: it must be one.
  if (!a.classifier.empty() && fs::exists(a.classifier)) {
    std::string problem;
    try {
      if (!load_safetensors(a.classifier).metadata.count("settings_hash"))
        problem = "it has no settings_hash in its metadata";
    } catch (const std::exception& e) {
      problem = e.what();
    }
    if (!problem.empty())
      throw UsageError("--classifier " + a.classifier + " is not a classifier gan eval wrote (" + problem +
                       "), and would be overwritten; pass another path");
  }
  const Device device = pick_device(a.device);
  RunConfig run;
  if (!a.run.empty()) {
    run = read_run(a.run);
    if (run.data != "fashion-mnist" || run.spec.kind != data::ExampleKind::Image || run.spec.channels != 1)
      throw UsageError("gan eval measures Fashion-MNIST runs only (its classifier knows those classes); run " +
                       a.run + " trains on '" + run.data + "'");
  }
  const auto t0 = std::chrono::steady_clock::now();
  const Generated g = a.run.empty() ? read_folder(a) : generate_from_run(a, catalog, device);

  const std::string path = a.classifier.empty() ? models::default_classifier_path() : a.classifier;
  models::LoadedClassifier cls;
  try {
    cls = models::load_or_train_classifier(path, models::ClassifierSettings{}, device, io.out);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("cannot load or train the Fashion-MNIST classifier: ") + e.what());
  }

  // Real side: the 10000 test images.
  std::unique_ptr<data::Dataset> test;
  try {
    test = catalog.open_dataset("fashion-mnist", data::DatasetOptions{kSide, false, 0, 0});
  } catch (const std::exception& e) {
    throw UsageError(std::string("gan eval needs the Fashion-MNIST test split: ") + e.what());
  }
  const int64_t n_test = test->size();
  Tensor real = empty({n_test, 1, kSide, kSide});
  for (int64_t i = 0; i < n_test; ++i) test->get(i, real.data<float>() + i * kSide * kSide);
  const auto real_out = cls.net->evaluate(real);
  const auto fake_out = cls.net->evaluate(from_vector(g.pixels, {g.count, 1, kSide, kSide}));

  const int64_t dim = models::FashionClassifier::kFeatures;
  const float* rf = real_out.features.data<float>();
  const float* ff = fake_out.features.data<float>();
  const double fd = models::metrics::frechet_distance(models::metrics::feature_stats(rf, n_test, dim),
                                                      models::metrics::feature_stats(ff, g.count, dim));
  const auto pr = models::metrics::precision_recall(rf, n_test, ff, g.count, dim, kNeighbours);

  nlohmann::ordered_json result;
  result["n"] = g.count;
  result["n_real"] = n_test;
  if (g.step >= 0) result["step"] = g.step;
  result["fd"] = fd;
  result["precision"] = pr.precision;
  result["recall"] = pr.recall;
  result["k"] = kNeighbours;
  std::vector<std::pair<std::string, std::string>> rows = {
      {"samples", g.source},
      {"Frechet distance (classifier features)", fixed(fd, 3)},
      {"precision (k=3)", fixed(pr.precision, 4)},
      {"recall (k=3)", fixed(pr.recall, 4)}};
  if (!g.conditions.empty()) {
    if (run.model == "cgan") {
      int64_t correct = 0;
      for (int64_t i = 0; i < g.count; ++i) correct += fake_out.predictions[i] == g.conditions[i];
      const double acc = static_cast<double>(correct) / static_cast<double>(g.count);
      result["class_accuracy"] = acc;
      rows.push_back({"class accuracy (cgan)", fixed(acc, 4)});
    } else {
      const double nmi = models::metrics::normalized_mutual_information(g.conditions, fake_out.predictions);
      result["code_class_nmi"] = nmi;
      rows.push_back({"NMI code vs class (infogan)", fixed(nmi, 4)});
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result["classifier"] = path;
  result["classifier_test_accuracy"] = cls.test_accuracy;
  result["seconds"] = secs;
  rows.push_back({"classifier", path + " (test accuracy " + fixed(cls.test_accuracy, 4) + ")"});
  rows.push_back({"real", "Fashion-MNIST test split (" + std::to_string(n_test) + " images)"});

  size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.first.size());
  for (const auto& [name, value] : rows) *io.out << name << std::string(width + 2 - name.size(), ' ') << value << '\n';
  nlohmann::ordered_json doc;
  doc["eval"] = result;
  if (!a.json.empty()) {
    write_file_atomic(a.json, doc.dump(2) + "\n");
    *io.out << "wrote " << a.json << std::endl;
  }
  if (!a.run.empty()) {
    const RunPaths paths{fs::path(a.run)};
    write_file_atomic(paths.eval(), doc.dump(2) + "\n");
    *io.out << "wrote " << paths.eval().string() << std::endl;
    report_command(a.run, io);  // the report shows the new figures
  }
  *io.out << std::flush;
  return kExitOk;
}

}  // namespace gan::apps
