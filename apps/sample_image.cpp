#include "apps/sample_image.h"

#include <algorithm>

#include "engine/image/image.h"
#include "engine/image/plots.h"

namespace gan::apps {

void write_sample_png(const std::filesystem::path& path, const models::SampleGrid& grid, const data::DataSpec& spec,
                      const Tensor& reference) {
  if (spec.kind == data::ExampleKind::Points) {
    image::save_scatter_png(path.string(), grid.images, reference);
    return;
  }
  const int64_t n = grid.images.size(0);
  const int64_t cols = grid.cols > 0 ? grid.cols : 8;
  const int64_t rows = grid.rows > 0 ? grid.rows : (n + cols - 1) / cols;
  image::save_png(path.string(), image::make_grid(grid.images, rows, cols));
}

Tensor plot_reference(const data::Dataset& dataset) {
  if (dataset.spec().kind != data::ExampleKind::Points || dataset.spec().point_dim != 2) return Tensor();
  Tensor ref = dataset.reference_points();
  if (ref.defined()) return ref;
  const int64_t n = std::min<int64_t>(dataset.size(), 1000);
  ref = empty({n, 2});
  for (int64_t i = 0; i < n; ++i) dataset.get(i, ref.data<float>() + 2 * i);
  return ref;
}

}  // namespace gan::apps
