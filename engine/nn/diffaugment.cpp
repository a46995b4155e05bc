#include "engine/nn/diffaugment.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "engine/ops.h"

namespace gan::nn {

std::string DiffAugmentPolicy::str() const {
  std::string out;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += ',';  // (appended piecewise: GCC 12 warns spuriously about "," + std::string)
    out += name;
  };
  add(color, "color");
  add(translation, "translation");
  add(cutout, "cutout");
  return out;
}

DiffAugmentPolicy parse_diffaugment(const std::string& text) {
  DiffAugmentPolicy p;
  if (text.empty() || text == "none") return p;
  std::istringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) {
    bool* slot = part == "color" ? &p.color : part == "translation" ? &p.translation : part == "cutout" ? &p.cutout
                                                                                                      : nullptr;
    if (!slot)
      throw std::invalid_argument("diffaugment: unknown augmentation '" + part + "' in '" + text +
                                  "' (known: color, translation, cutout; comma-separated, or none)");
    if (*slot) throw std::invalid_argument("diffaugment: '" + part + "' appears twice in '" + text + "'");
    *slot = true;
  }
  if (!text.empty() && text.back() == ',')
    throw std::invalid_argument("diffaugment: '" + text + "' ends with a comma");
  return p;
}

namespace {

// n uniforms in [0, 1) from `gen`, as doubles.
std::vector<double> uniforms(Generator& gen, int64_t n) {
  std::vector<float> u(static_cast<size_t>(n));
  gen.fill_uniform<float>(u.data(), n);
  return std::vector<double>(u.begin(), u.end());
}

// An integer in [lo, hi) from u in [0, 1) (torch.randint's range).
double randint(double u, int64_t lo, int64_t hi) {
  return static_cast<double>(lo + std::min<int64_t>(hi - lo - 1, static_cast<int64_t>(u * static_cast<double>(hi - lo))));
}

// Per-sample values [N] as a tensor of `shape` ([N, 1, ...]) in x's dtype and on x's device.
Tensor per_sample(const std::vector<double>& v, const Shape& shape, const Tensor& like) {
  Tensor t = from_vector(v, shape);
  if (t.dtype() != like.dtype()) t = to_dtype(t, like.dtype());
  return like.device().is_cpu() ? t : t.to(like.device());
}

Tensor index_line(int64_t n, const Shape& shape, const Tensor& like) {
  return reshape(arange(static_cast<double>(n), like.dtype(), like.device()), shape);
}

Tensor color(const Tensor& x, Generator& gen) {
  const int64_t n = x.size(0);
  const std::vector<double> u = uniforms(gen, 3 * n);
  std::vector<double> bright(n), sat(n), con(n);
  for (int64_t i = 0; i < n; ++i) {
    bright[i] = u[i] - 0.5;
    sat[i] = u[n + i] * 2.0;
    con[i] = u[2 * n + i] + 0.5;
  }
  const Shape s = {n, 1, 1, 1};
  Tensor y = x + per_sample(bright, s, x);
  const Tensor mc = mean(y, {1}, true);
  y = (y - mc) * per_sample(sat, s, x) + mc;
  const Tensor mall = mean(y, {1, 2, 3}, true);
  return (y - mall) * per_sample(con, s, x) + mall;
}

// 0/1 matrices [N, S, S] with m[n][k][i] = (k == i + shift[n]): (v^T m)[i] = v[i + shift], 0 when out of range.
Tensor shift_matrices(const std::vector<double>& shift, int64_t side, const Tensor& like) {
  const int64_t n = static_cast<int64_t>(shift.size());
  const Tensor k = index_line(side, {1, side, 1}, like), i = index_line(side, {1, 1, side}, like);
  return eq(k, i + per_sample(shift, {n, 1, 1}, like));
}

Tensor translation(const Tensor& x, Generator& gen) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t rh = static_cast<int64_t>(static_cast<double>(h) * 0.125 + 0.5);
  const int64_t rw = static_cast<int64_t>(static_cast<double>(w) * 0.125 + 0.5);
  const std::vector<double> u = uniforms(gen, 2 * n);
  std::vector<double> tx(n), ty(n);
  for (int64_t i = 0; i < n; ++i) {
    tx[i] = randint(u[i], -rh, rh + 1);
    ty[i] = randint(u[n + i], -rw, rw + 1);
  }
  // Columns: [N, C*H, W] @ [N, W, W]; then rows, on the transposed image: [N, C*W, H] @ [N, H, H].
  Tensor y = matmul(reshape(x, {n, c * h, w}), shift_matrices(ty, w, x));
  y = transpose(reshape(y, {n, c, h, w}), 2, 3);
  y = matmul(reshape(y, {n, c * w, h}), shift_matrices(tx, h, x));
  return transpose(reshape(y, {n, c, w, h}), 2, 3);
}

Tensor cutout(const Tensor& x, Generator& gen) {
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t ch = static_cast<int64_t>(static_cast<double>(h) * 0.5 + 0.5);
  const int64_t cw = static_cast<int64_t>(static_cast<double>(w) * 0.5 + 0.5);
  const std::vector<double> u = uniforms(gen, 2 * n);
  std::vector<double> top(n), left(n);
  for (int64_t i = 0; i < n; ++i) {
    top[i] = randint(u[i], 0, h + (1 - ch % 2)) - static_cast<double>(ch / 2);
    left[i] = randint(u[n + i], 0, w + (1 - cw % 2)) - static_cast<double>(cw / 2);
  }
  const Tensor t = per_sample(top, {n, 1}, x), l = per_sample(left, {n, 1}, x);
  const Tensor rows = index_line(h, {1, h}, x), cols = index_line(w, {1, w}, x);
  const Tensor in_rows = ge(rows, t) * lt(rows, t + static_cast<double>(ch));   // [N, H]
  const Tensor in_cols = ge(cols, l) * lt(cols, l + static_cast<double>(cw));   // [N, W]
  const Tensor keep = 1.0 - unsqueeze(in_rows, 2) * unsqueeze(in_cols, 1);      // [N, H, W]
  return x * unsqueeze(keep, 1);
}

}  // namespace

Tensor diff_augment(const Tensor& x, const DiffAugmentPolicy& policy, Generator& gen) {
  if (!policy.any()) return x;
  if (x.dim() != 4)
    throw std::invalid_argument("diff_augment: expects images [N, C, H, W], got " + shape_str(x.shape()) +
                                " (DiffAugment applies to image data only)");
  Tensor y = x;
  if (policy.color) y = color(y, gen);
  if (policy.translation) y = translation(y, gen);
  if (policy.cutout) y = cutout(y, gen);
  return y;
}

}  // namespace gan::nn
