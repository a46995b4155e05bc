// Pictures of model output: a grid of sample images, and a scatter plot of 2-D samples over the real mixture's
// centres (ring8, grid25), where mode collapse shows as centres without samples.
#pragma once

#include <cstdint>
#include <string>

#include "engine/image/image.h"
#include "engine/tensor.h"

namespace gan::image {

// images: float [N, C, H, W] with C = 1 or 3, values in [-1, 1] (clamped), on any device. Tiles them row by row
// into a rows x cols grid with `padding` pixels of gray (128) between and around the tiles; cells past N stay gray.
// Gray images are replicated to RGB. Throws std::invalid_argument naming the shapes when N > rows * cols or the
// tensor is not [N, 1|3, H, W].
Image8 make_grid(const Tensor& images, int64_t rows, int64_t cols, int64_t padding = 2);

// A size x size RGB scatter plot of points [N, 2] (float, any device): samples as translucent blue dots, so
// density shows. `reference` [M, 2] (may be undefined): with M <= 64 they are the mixture centres, drawn on top as
// red rings; with more they are real examples, drawn as gray dots behind the samples.
// The view: with a reference, its bounding box plus a quarter of its extent on each side (fixed across training
// steps, so successive plots compare); samples outside it are pinned to the border in orange. Without one, the
// samples' bounding box plus 10%. Both axes share one scale; faint lines mark x = 0 and y = 0.
Image8 render_scatter(const Tensor& points, const Tensor& reference = Tensor(), int64_t size = 512);
void save_scatter_png(const std::string& path, const Tensor& points, const Tensor& reference = Tensor(),
                      int64_t size = 512);

}  // namespace gan::image
