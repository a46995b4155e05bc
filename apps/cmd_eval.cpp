// `gan eval`: sample quality of a Fashion-MNIST run (or of a folder of PNGs) measured with the engine's own
// Fashion-MNIST classifier (models/classifier.h; trained once and cached) and the metrics of models/metrics.h:
// the Frechet distance between classifier features of generated and test images, precision and recall (k = 3),
// and for cgan the classifier's accuracy on class-conditioned samples, for infogan the NMI between the
// categorical code and the predicted class. Prints one table; with --run also writes RUN/eval.json (a separate
// file rather than a metrics.jsonl line, because metrics.jsonl lines are per training step and resume truncates
// them by step). The classifier, sample conversion and real-side features live in apps/quality.h, shared with
// `gan train --eval-every N`.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <memory>
#include <sstream>

#include <CLI/CLI.hpp>

#include "apps/commands.h"
#include "apps/flag_checks.h"
#include "apps/quality.h"
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
constexpr int kNeighbours = 3;

struct Measured {
  Generated images;
  std::string source;  // for the table
  int64_t step = -1;   // checkpoint step (runs)
};

Measured generate_from_run(const EvalArgs& a, const Catalog& catalog, Device device) {
  const TrainedRun run = load_trained_run(a.run, a.checkpoint, catalog, device);
  Measured m;
  m.step = run.info.step;
  m.source = a.run + " (" + run.config.model + ", step " + std::to_string(run.info.step) + ")";
  try {
    m.images = generate_for_classifier(*run.model, run.config, a.n, a.seed);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string("gan eval: ") + e.what());
  }
  return m;
}

Measured read_folder(const EvalArgs& a, std::ostream& out) {
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
  Measured m;
  m.source = a.samples + " (" + std::to_string(files.size()) + " PNGs)";
  Generated& g = m.images;
  g.pixels.resize(files.size() * kSide * kSide);
  int64_t large = 0;
  for (const auto& f : files) {
    image::Image8 img;
    try {
      img = image::load_image(f.string());
    } catch (const std::runtime_error& e) {
      throw UsageError(std::string("--samples: ") + e.what());
    }
    const std::string grid = sample_grid_layout(img);
    if (!grid.empty())
      throw UsageError("--samples: " + f.string() + " is a sample grid (" + grid + "), not one sample; gan eval "
                       "wants one sample per PNG: write them with gan sample --format png-dir --out FOLDER");
    img = image::to_gray(img);
    if (img.width != img.height) img = image::center_crop_square(img);
    large += img.width > 64;
    std::vector<float> plane(static_cast<size_t>(img.width * img.height));
    for (size_t i = 0; i < plane.size(); ++i) plane[i] = img.pixels[i] / 127.5f - 1.0f;
    to_classifier_input(plane.data(), img.width, g.pixels.data() + g.count * kSide * kSide);
    ++g.count;
  }
  if (large > 0)
    out << "warning: " << large << " of " << files.size() << " PNGs are larger than 64 px; each is measured as one "
        << "sample scaled to 28 px (if they hold several samples, split them first)" << std::endl;
  return m;
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
  eval->add_option("--checkpoint", a.checkpoint, "Checkpoint file")->default_str("RUN/checkpoints/latest.safetensors");
  eval->add_option("--device", a.device, kDeviceHelp);
  eval->add_option("--json", a.json, "Also write the figures to this JSON file (for scripts)");
  eval->add_option("--classifier", a.classifier,
                   "Classifier weights file, which must exist [$GAN_DATA_DIR or ~/.cache/gan-engine/"
                   "classifier-fmnist.safetensors, trained there on first use]");
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
    if (!unmeasurable_reason(run).empty())
      throw UsageError("gan eval measures Fashion-MNIST runs only (its classifier knows those classes); run " +
                       a.run + " trains on '" + run.data + "'");
  }
  const std::string path = resolve_classifier(a.classifier);  // before minutes of work aimed at a bad path
  const auto t0 = std::chrono::steady_clock::now();
  const Measured m = a.run.empty() ? read_folder(a, *io.out) : generate_from_run(a, catalog, device);
  const Generated& g = m.images;

  const std::shared_ptr<ClassifierReference> ref = load_reference(path, catalog, device, io.out);
  const models::LoadedClassifier& cls = ref->classifier;
  const int64_t n_test = ref->n_test;
  const auto fake_out = cls.net->evaluate(from_vector(g.pixels, {g.count, 1, kSide, kSide}));

  const int64_t dim = models::FashionClassifier::kFeatures;
  const float* rf = ref->real_features.data<float>();
  const float* ff = fake_out.features.data<float>();
  const double fd =
      models::metrics::frechet_distance(ref->real_stats, models::metrics::feature_stats(ff, g.count, dim));
  const auto pr = models::metrics::precision_recall(rf, n_test, ff, g.count, dim, kNeighbours);

  nlohmann::ordered_json result;
  result["n"] = g.count;
  result["n_real"] = n_test;
  if (m.step >= 0) result["step"] = m.step;
  result["fd"] = fd;
  result["precision"] = pr.precision;
  result["recall"] = pr.recall;
  result["k"] = kNeighbours;
  std::vector<std::pair<std::string, std::string>> rows = {
      {"samples", m.source},
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
