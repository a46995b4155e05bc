// Sample grids and scatter plots; see engine/image/plots.h.
#include "engine/image/plots.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace gan::image {

namespace {

constexpr uint8_t kGridPad = 128;

std::vector<float> host_floats(const Tensor& t) {
  return t.detach().to(Device::cpu()).to(DType::Float32).contiguous().to_vector<float>();
}

struct Rgb {
  uint8_t r, g, b;
};
constexpr Rgb kSample{31, 119, 180};   // blue
constexpr Rgb kOutside{255, 127, 14};  // orange: samples outside the view, pinned to its border
constexpr Rgb kCentre{214, 39, 40};    // red
constexpr Rgb kReal{150, 150, 150};    // gray
constexpr Rgb kAxis{225, 225, 225};

void blend(Image8& img, int64_t x, int64_t y, Rgb c, float alpha) {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  uint8_t* p = img.at(x, y);
  const uint8_t v[3] = {c.r, c.g, c.b};
  for (int k = 0; k < 3; ++k) p[k] = static_cast<uint8_t>(std::lround(p[k] * (1.f - alpha) + v[k] * alpha));
}

void disc(Image8& img, double cx, double cy, double radius, Rgb c, float alpha) {
  const int64_t x0 = static_cast<int64_t>(std::floor(cx - radius)), x1 = static_cast<int64_t>(std::ceil(cx + radius));
  const int64_t y0 = static_cast<int64_t>(std::floor(cy - radius)), y1 = static_cast<int64_t>(std::ceil(cy + radius));
  for (int64_t y = y0; y <= y1; ++y)
    for (int64_t x = x0; x <= x1; ++x) {
      const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
      if (d <= radius) blend(img, x, y, c, alpha);
    }
}

void ring(Image8& img, double cx, double cy, double radius, double width, Rgb c) {
  const int64_t r = static_cast<int64_t>(std::ceil(radius + width));
  for (int64_t y = static_cast<int64_t>(cy) - r - 1; y <= static_cast<int64_t>(cy) + r + 1; ++y)
    for (int64_t x = static_cast<int64_t>(cx) - r - 1; x <= static_cast<int64_t>(cx) + r + 1; ++x) {
      const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
      if (std::abs(d - radius) <= width / 2) blend(img, x, y, c, 1.f);
    }
}

std::vector<float> checked_points(const Tensor& t, const char* what) {
  if (t.dim() != 2 || t.size(1) != 2)
    throw std::invalid_argument(std::string("render_scatter: expected ") + what + " [N, 2], got " +
                                shape_str(t.shape()));
  return host_floats(t);
}

}  // namespace

Image8 make_grid(const Tensor& images, int64_t rows, int64_t cols, int64_t padding) {
  if (!images.defined() || images.dim() != 4 || (images.size(1) != 1 && images.size(1) != 3))
    throw std::invalid_argument("make_grid: expected images [N, 1 or 3, H, W], got " +
                                (images.defined() ? shape_str(images.shape()) : std::string("an undefined tensor")));
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  if (rows < 1 || cols < 1 || padding < 0 || h < 1 || w < 1)
    throw std::invalid_argument("make_grid: bad layout rows=" + std::to_string(rows) + " cols=" +
                                std::to_string(cols) + " padding=" + std::to_string(padding) + " for images " +
                                shape_str(images.shape()));
  if (n > rows * cols)
    throw std::invalid_argument("make_grid: " + std::to_string(n) + " images " + shape_str(images.shape()) +
                                " do not fit a " + std::to_string(rows) + "x" + std::to_string(cols) + " grid");
  const std::vector<float> v = host_floats(images);
  Image8 out(cols * w + (cols + 1) * padding, rows * h + (rows + 1) * padding, 3, kGridPad);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t ox = padding + (i % cols) * (w + padding), oy = padding + (i / cols) * (h + padding);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        uint8_t* p = out.at(ox + x, oy + y);
        for (int64_t k = 0; k < 3; ++k) {
          float f = v[static_cast<size_t>(((i * c + (c == 3 ? k : 0)) * h + y) * w + x)];
          f = std::isnan(f) ? -1.f : std::clamp(f, -1.f, 1.f);
          p[k] = static_cast<uint8_t>(std::lround((f + 1.f) * 127.5f));
        }
      }
  }
  return out;
}

Image8 render_scatter(const Tensor& points, const Tensor& reference, int64_t size) {
  if (size < 16) throw std::invalid_argument("render_scatter: size " + std::to_string(size) + " (want >= 16)");
  if (!points.defined()) throw std::invalid_argument("render_scatter: points is an undefined tensor");
  const std::vector<float> p = checked_points(points, "points");
  const std::vector<float> r = reference.defined() ? checked_points(reference, "reference points") : std::vector<float>();
  const bool centres = !r.empty() && r.size() / 2 <= 64;

  // The view: a square [cx - half, cx + half]^2.
  const std::vector<float>& frame = r.empty() ? p : r;
  double lo[2] = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity()};
  double hi[2] = {-lo[0], -lo[1]};
  for (size_t i = 0; i + 1 < frame.size(); i += 2)
    for (int d = 0; d < 2; ++d)
      if (std::isfinite(frame[i + d])) {
        lo[d] = std::min<double>(lo[d], frame[i + d]);
        hi[d] = std::max<double>(hi[d], frame[i + d]);
      }
  double cx = 0, cy = 0, half = 1;
  if (lo[0] <= hi[0] && lo[1] <= hi[1]) {
    cx = (lo[0] + hi[0]) / 2;
    cy = (lo[1] + hi[1]) / 2;
    const double extent = std::max(hi[0] - lo[0], hi[1] - lo[1]);
    half = extent / 2 + (r.empty() ? 0.1 : 0.25) * extent;
    if (!(half > 1e-6)) half = 1;
  }
  const double scale = (size - 1) / (2 * half);
  auto px = [&](double x) { return (x - (cx - half)) * scale; };
  auto py = [&](double y) { return (cy + half - y) * scale; };  // y grows upwards

  Image8 img(size, size, 3, 255);
  if (px(0) >= 0 && px(0) < size)
    for (int64_t y = 0; y < size; ++y) blend(img, static_cast<int64_t>(px(0)), y, kAxis, 1.f);
  if (py(0) >= 0 && py(0) < size)
    for (int64_t x = 0; x < size; ++x) blend(img, x, static_cast<int64_t>(py(0)), kAxis, 1.f);

  const double dot = std::max(1.0, size / 256.0);
  if (!r.empty() && !centres)
    for (size_t i = 0; i + 1 < r.size(); i += 2) disc(img, px(r[i]), py(r[i + 1]), dot, kReal, 0.5f);
  for (size_t i = 0; i + 1 < p.size(); i += 2) {
    if (!std::isfinite(p[i]) || !std::isfinite(p[i + 1])) continue;
    double x = px(p[i]), y = py(p[i + 1]);
    const bool outside = x < 0 || y < 0 || x > size - 1 || y > size - 1;
    if (outside) {
      x = std::clamp(x, dot, size - 1 - dot);
      y = std::clamp(y, dot, size - 1 - dot);
    }
    disc(img, x, y, dot, outside ? kOutside : kSample, outside ? 1.f : 0.35f);
  }
  if (centres)
    for (size_t i = 0; i + 1 < r.size(); i += 2)
      ring(img, px(r[i]), py(r[i + 1]), std::max(4.0, size / 64.0), std::max(2.0, size / 200.0), kCentre);
  return img;
}

void save_scatter_png(const std::string& path, const Tensor& points, const Tensor& reference, int64_t size) {
  save_png(path, render_scatter(points, reference, size));
}

}  // namespace gan::image
