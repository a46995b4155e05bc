// `gan sample` (a grid, class rows or code sweeps as the model lays them out, or latent interpolations; or with
// --format png-dir one PNG per sample, the per-image folder `gan eval --samples` and other tools read) and
// `gan report` (rewrite a run's report.html).
#include <algorithm>
#include <cstdint>
#include <memory>

#include "apps/commands.h"
#include "apps/quality.h"
#include "apps/report.h"
#include "apps/run_config.h"
#include "apps/run_dir.h"
#include "apps/sample_image.h"
#include "apps/trained_run.h"
#include "apps/trainer.h"
#include "engine/image/image.h"
#include "engine/image/plots.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace gan::apps {

namespace {

// --format png-dir: the folder must be new or empty, so it never mixes these samples with older ones.
void check_png_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw UsageError("--out " + dir.string() + " exists and is not a folder; --format png-dir writes a folder");
  if (fs::is_directory(dir, ec) && !fs::is_empty(dir, ec))
    throw UsageError("--out " + dir.string() + " already holds files; pick a new or empty folder");
  make_writable_dir(dir);
}

// DIR/sample_<index>.png of one image [1, C, S, S] (gray images stay one channel).
void save_sample_png(const fs::path& dir, const Tensor& image, int64_t index) {
  image::Image8 img = image::make_grid(image, 1, 1, /*padding=*/0);
  if (image.size(1) == 1) img = image::to_gray(img);
  image::save_png((dir / ("sample_" + RunPaths::step_tag(index) + ".png")).string(), img);
}

// One PNG per image of grid.images [N, C, S, S]: DIR/sample_000000.png, ... Returns how many it wrote.
int64_t write_png_dir(const fs::path& dir, const models::SampleGrid& grid) {
  const Tensor images = grid.images.to(Device::cpu()).contiguous();
  for (int64_t i = 0; i < images.size(0); ++i) save_sample_png(dir, slice(images, 0, i, i + 1), i);
  return images.size(0);
}

// --format png-dir without --interpolate or --reconstruct: exactly n samples (a grid rounds n up to whole rows)
// drawn as `gan eval` draws them (for_each_sample), so the folder measures as the run does.
int64_t write_png_dir_samples(const fs::path& dir, models::GanModel& model, const std::string& model_name,
                              int64_t n, Generator& gen) {
  int64_t written = 0;
  for_each_sample(model, model_name, n, gen, [&](const Tensor& images, int64_t i, int64_t) {
    save_sample_png(dir, slice(images, 0, i, i + 1), written++);
  });
  return written;
}

}  // namespace

int sample_command(const SampleArgs& a, const Catalog& catalog, const CliStreams& io) {
  const Device device = pick_device(a.device);
  TrainedRun run = load_trained_run(a.run, a.checkpoint, catalog, device);
  const RunConfig& c = run.config;
  models::GanModel* model = run.model.get();
  const CheckpointInfo& info = run.info;

  const fs::path out(a.out);
  const bool png_dir = a.format == "png-dir";
  if (png_dir) {
    if (c.spec.kind != data::ExampleKind::Image)
      throw UsageError("--format png-dir writes images, but run " + a.run + " trains on 2-D points; use the "
                       "default --format grid for a scatter plot");
    check_png_dir(out);
  } else {
    if (out.extension() != ".png")
      throw UsageError("--out must name a .png file, got '" + a.out + "' (--format png-dir writes a folder)");
    if (a.n > kMaxSamples)
      throw UsageError("--n " + std::to_string(a.n) + " is more than a grid holds (" + std::to_string(kMaxSamples) +
                       "); use --format png-dir for more samples");
    if (std::error_code ec; fs::exists(out, ec) && !fs::is_regular_file(out, ec))
      throw UsageError("--out " + a.out + " exists and is a directory or other non-file; pick another name");
    make_writable_dir(out.has_parent_path() ? out.parent_path() : fs::path("."));
  }

  // Point data: the data's reference points behind the samples, when the data can still be opened (optional).
  Tensor reference;
  if (c.spec.kind == data::ExampleKind::Points) {
    try {
      reference = plot_reference(*catalog.open_dataset(c.data, data::DatasetOptions{c.image_size, true, c.seed,
                                                                                      c.data_size}));
    } catch (const std::exception&) {
      reference = Tensor();
    }
  }

  Generator gen(a.seed, 0);
  models::SampleGrid grid;
  if (a.reconstruct) {
    if (!model->can_reconstruct())
      throw UsageError("model " + c.model + " does not reconstruct examples; --reconstruct is for vae and ae");
    std::unique_ptr<data::Dataset> dataset;
    try {
      dataset = catalog.open_dataset(c.data, data::DatasetOptions{c.image_size, true, c.seed, c.data_size});
    } catch (const std::exception& e) {
      throw UsageError("--reconstruct needs the run's data: cannot open dataset '" + c.data + "': " + e.what());
    }
    // The first n examples of the training set: the same ones every time, so reconstructions compare.
    const int64_t n = std::min(a.n, dataset->size());
    Shape shape = {n};
    if (c.spec.kind == data::ExampleKind::Image)
      shape.insert(shape.end(), {c.spec.channels, c.spec.image_size, c.spec.image_size});
    else
      shape.push_back(c.spec.point_dim);
    Tensor x = empty(shape);
    for (int64_t i = 0; i < n; ++i) dataset->get(i, x.data<float>() + i * c.spec.example_numel());
    grid = model->reconstruct(x.to(device));
  } else if (png_dir && !a.interpolate) {
    const int64_t n = write_png_dir_samples(out, *model, c.model, a.n, gen);
    *io.out << "wrote " << n << " samples from step " << info.step << " of " << a.run << " to " << out.string()
            << "/sample_NNNNNN.png" << std::endl;
    return kExitOk;
  } else {
    grid = a.interpolate ? model->interpolate(a.rows, a.cols, gen) : model->sample(a.n, gen);
  }
  const char* what = a.interpolate ? " interpolation" : a.reconstruct ? " reconstruction" : " samples";
  if (png_dir) {
    const int64_t n = write_png_dir(out, grid);
    *io.out << "wrote " << n << what << " from step " << info.step << " of " << a.run << " to " << out.string()
            << "/sample_NNNNNN.png" << std::endl;
  } else {
    write_sample_png(out, grid, c.spec, reference);
    *io.out << "wrote " << out.string() << ": " << grid.rows << " x " << grid.cols << what << " from step "
            << info.step << " of " << a.run << std::endl;
  }
  if (!grid.row_labels.empty()) {
    *io.out << "rows:";
    for (size_t i = 0; i < grid.row_labels.size(); ++i) *io.out << (i ? ", " : " ") << grid.row_labels[i];
    *io.out << std::endl;
  }
  return kExitOk;
}

int report_command(const std::string& run, const CliStreams& io) {
  const RunConfig c = read_run(run);
  const RunPaths paths{fs::path(run)};
  const auto metrics = read_metrics(paths.metrics());
  const int64_t last = metrics.empty() ? 0 : metrics.back().value("step", int64_t{0});
  const std::string status = last >= c.steps ? "finished: " + std::to_string(c.steps) + " steps"
                                             : "stopped at step " + std::to_string(last) + " of " +
                                                   std::to_string(c.steps);
  write_report(paths, ReportStatus{status, false});
  *io.out << "wrote " << paths.report().string() << std::endl;
  return kExitOk;
}

}  // namespace gan::apps
