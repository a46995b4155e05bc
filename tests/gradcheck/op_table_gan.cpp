// Op-table entries for the GAN-field ops: interpolate (nearest, bilinear), avg_pool2d, instance_norm, conditional
// batch norm, spectral normalization of a weight, and the R1/R2 gradient penalties (whose gradcheck is a
// third-order check of the critic's ops, and whose gradgradcheck a fourth-order one).
#include <vector>

#include "engine/autograd.h"
#include "engine/nn/functional.h"
#include "engine/nn/spectral_norm.h"
#include "op_table.h"

namespace gan::testing {
namespace {

namespace F = gan::nn::functional;
using Inputs = std::vector<Tensor>;

// Does batch_norm have double backward in this build? Conditional batch norm inherits it: with it the entry is
// gradgradchecked, without it the table checks that double backward is refused naming batch_norm.
bool batch_norm_has_double_backward() {
  Generator g(5);
  Tensor x = rand({4, 2}, DType::Float64, &g);
  x.requires_grad_(true);
  const Tensor y = F::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true);
  const Tensor gx = grad({sum(mul(y, rand({4, 2}, DType::Float64, &g)))}, {x}, {}, /*create_graph=*/true)[0];
  try {
    (void)grad({sum(mul(gx, gx))}, {x}, {}, false, /*allow_unused=*/true);
    return true;
  } catch (const std::runtime_error& e) {
    if (std::string(e.what()).find("does not support double backward") != std::string::npos) return false;
    throw;
  }
}

// A unit vector of n elements that does not require grad (spectral norm's u and v estimates).
Tensor unit_vector(Generator& g, int64_t n) { return F::normalize(rand({n}, DType::Float64, &g, -1.0, 1.0)); }

// A small critic on [N, 4] inputs: tanh(x W1 + b1) W2 -> [N, 1].
Tensor mlp_critic(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2) {
  return matmul(tanh(add(matmul(x, w1), b1)), w2);
}

const OpCaseRegistrar gan_cases([](std::vector<OpCase>& t) {
  auto add_case = [&t](std::string name, std::function<Inputs(Generator&)> make,
                       std::function<Tensor(const Inputs&)> fn, bool dbl = true) {
    t.push_back({std::move(name), std::move(make), std::move(fn), dbl});
  };
  auto uniform_of = [](std::vector<Shape> shapes) {
    return [shapes](Generator& g) {
      Inputs in;
      for (const Shape& s : shapes) in.push_back(uniform_input(g, s));
      return in;
    };
  };
  using M = F::InterpolateMode;

  // ---- interpolate: every path of the index maps (x2 shift, general scale, downsampling, align_corners) ----
  add_case("upsample_nearest2d/x2", uniform_of({{2, 3, 3, 4}}),
           [](const Inputs& x) { return F::upsample_nearest(x[0], 2.0); });
  add_case("upsample_nearest2d/size", uniform_of({{1, 2, 3, 4}}),
           [](const Inputs& x) { return F::interpolate(x[0], {.size = {5, 7}}); });
  add_case("upsample_nearest2d/scale_down", uniform_of({{2, 1, 5, 6}}),
           [](const Inputs& x) { return F::interpolate(x[0], {.scale_factor = {0.6, 1.5}}); });
  add_case("upsample_bilinear2d/x2", uniform_of({{2, 2, 3, 4}}),
           [](const Inputs& x) { return F::upsample_bilinear(x[0], 2.0); });
  add_case("upsample_bilinear2d/align_corners", uniform_of({{1, 2, 3, 4}}),
           [](const Inputs& x) {
             return F::interpolate(x[0], {.size = {5, 7}, .mode = M::Bilinear, .align_corners = true});
           });
  add_case("upsample_bilinear2d/scale_down", uniform_of({{2, 1, 6, 5}}),
           [](const Inputs& x) { return F::interpolate(x[0], {.scale_factor = {0.7, 1.3}, .mode = M::Bilinear}); });

  // ---- avg_pool2d ----
  add_case("avg_pool2d/k2", uniform_of({{2, 3, 4, 6}}),
           [](const Inputs& x) { return F::avg_pool2d(x[0], {.kernel_size = {2, 2}}); });
  add_case("avg_pool2d/ceil_no_pad_count", uniform_of({{1, 2, 7, 6}}), [](const Inputs& x) {
    return F::avg_pool2d(x[0], {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .ceil_mode = true,
                                .count_include_pad = false});
  });
  add_case("avg_pool2d/rect_divisor", uniform_of({{2, 1, 5, 5}}), [](const Inputs& x) {
    return F::avg_pool2d(x[0], {.kernel_size = {3, 2}, .stride = {2, 1}, .padding = {1, 1}, .divisor_override = 4});
  });

  // ---- instance norm ----
  add_case("instance_norm/plain", uniform_of({{2, 3, 3, 4}}), [](const Inputs& x) { return F::instance_norm(x[0]); });
  add_case("instance_norm/affine_1d", uniform_of({{3, 2, 5}, {2}, {2}}),
           [](const Inputs& x) { return F::instance_norm(x[0], Tensor(), Tensor(), x[1], x[2]); });
  add_case("instance_norm/running_stats_eval",
           [](Generator& g) { return Inputs{uniform_input(g, {2, 2, 3, 3}), uniform_input(g, {2})}; },
           [](const Inputs& x) {
             Tensor rm = from_vector<double>({0.1, -0.2}, {2}).to(x[0].dtype()).to(x[0].device());
             Tensor rv = from_vector<double>({0.5, 1.5}, {2}).to(x[0].dtype()).to(x[0].device());
             return F::instance_norm(x[0], rm, rv, x[1], Tensor(), /*use_input_stats=*/false);
           });

  // ---- conditional batch norm (per-sample gain and bias over a non-affine batch norm) ----
  add_case("batch_norm/conditional", uniform_of({{4, 2, 3, 3}, {4, 2}, {4, 2}}),
           [](const Inputs& x) {
             const int64_t C = x[0].size(1);
             Tensor rm = zeros({C}, x[0].dtype(), x[0].device()), rv = ones({C}, x[0].dtype(), x[0].device());
             return F::conditional_batch_norm(x[0], x[1], x[2], rm, rv, true);
           },
           batch_norm_has_double_backward());

  // ---- spectral normalization of a weight for fixed u, v (the gradient PyTorch's parametrization defines) ----
  add_case("spectral_norm/linear",
           [](Generator& g) { return Inputs{uniform_input(g, {4, 5}), unit_vector(g, 4), unit_vector(g, 5)}; },
           [](const Inputs& x) { return F::spectral_normalize(x[0], x[1], x[2], 0); });
  add_case("spectral_norm/conv",
           [](Generator& g) { return Inputs{uniform_input(g, {3, 2, 2, 2}), unit_vector(g, 3), unit_vector(g, 8)}; },
           [](const Inputs& x) { return F::spectral_normalize(x[0], x[1], x[2], 0); });
  add_case("spectral_norm/conv_transpose_dim1",
           [](Generator& g) { return Inputs{uniform_input(g, {2, 3, 2, 2}), unit_vector(g, 3), unit_vector(g, 8)}; },
           [](const Inputs& x) { return F::spectral_normalize(x[0], x[1], x[2], 1); });
  add_case("spectral_norm/vector", uniform_of({{6}}), [](const Inputs& x) { return F::normalize(x[0]); });

  // ---- gradient penalties ----
  add_case("squared_gradient_penalty/mlp", uniform_of({{3, 4}, {4, 5}, {5}, {5, 1}}), [](const Inputs& x) {
    return F::squared_gradient_penalty(mlp_critic(x[0], x[1], x[2], x[3]), x[0], 10.0);
  });
  add_case("squared_gradient_penalty/conv", uniform_of({{2, 1, 5, 4}, {2, 1, 3, 3}}), [](const Inputs& x) {
    const Tensor h = F::conv2d(x[0], x[1]);
    return F::squared_gradient_penalty(sum(tanh(h), {1, 2, 3}), x[0], 1.0);
  });
  add_case("r1_penalty/mlp",
           [](Generator& g) {
             return Inputs{constant_input(g, {3, 4}), uniform_input(g, {4, 5}), uniform_input(g, {5}),
                           uniform_input(g, {5, 1})};
           },
           [](const Inputs& x) {
             return F::r1_penalty([&](const Tensor& v) { return mlp_critic(v, x[1], x[2], x[3]); }, x[0], 2.0);
           });
});

}  // namespace
}  // namespace gan::testing
