// interpolate (nearest, bilinear) and avg_pool2d: argument checks and output sizes as PyTorch, then one kernel of
// kernels/resample.h. The op and its adjoint record each other as their backward:
//
//   y  = A x           dx  = A^T gy
//   gx = A^T gy        dgy = A gx'       (gx' the gradient w.r.t. gx)
//
// so the pair is closed under differentiation, as the convolution family is (engine/nn/conv.cpp).
#include "engine/nn/resample.h"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "engine/ops/op_helpers.h"
#include "kernels/resample.h"

namespace gan::nn::functional {

namespace {

// Everything a call needs: the map's parameters and both plane sizes.
struct Plan {
  const char* name;           // the forward op's name
  const char* adjoint_name;   // its backward's
  kernels::ResampleParams params;
  int64_t N = 0, C = 0, H = 0, W = 0, Ho = 0, Wo = 0;
};

// forward: [N, C, H, W] -> [N, C, Ho, Wo]; adjoint: [N, C, Ho, Wo] -> [N, C, H, W].
Tensor apply(const Tensor& x, const Plan& plan, bool adjoint) {
  const char* op = adjoint ? plan.adjoint_name : plan.name;
  const Tensor xc = x.detach().contiguous();
  const Shape out_shape = adjoint ? Shape{plan.N, plan.C, plan.H, plan.W} : Shape{plan.N, plan.C, plan.Ho, plan.Wo};
  Tensor out = empty(out_shape, x.dtype(), x.device());
  const kernels::ResampleShape s{plan.N * plan.C, plan.H, plan.W, plan.Ho, plan.Wo};
  if (s.planes > 0) {
    GAN_DISPATCH_FLOATING(x.dtype(), op, [&] {
      if (adjoint)
        GAN_KERNEL(x.device(), op, resample_adjoint<scalar_t>, s, plan.params, xc.data<scalar_t>(),
                   out.data<scalar_t>());
      else
        GAN_KERNEL(x.device(), op, resample_forward<scalar_t>, s, plan.params, xc.data<scalar_t>(),
                   out.data<scalar_t>());
    });
  }
  return record(op, {x}, out, [plan, adjoint](const Tensor& g, const Tensor&) {
    return std::vector<Tensor>{apply(g, plan, !adjoint)};
  });
}

void check_image(const char* op, const Tensor& x) {
  detail::check_floating(op, x);
  if (x.dim() != 4)
    throw std::invalid_argument(std::string(op) + ": expected a 4-D input [N, C, H, W], got " + detail::describe(x));
  if (x.size(2) < 1 || x.size(3) < 1)
    throw std::invalid_argument(std::string(op) + ": input of shape " + shape_str(x.shape()) +
                                " has an empty image (H and W must be >= 1)");
}

std::string pair_str(int64_t a, int64_t b) {
  std::ostringstream os;  // (not string concatenation: GCC 12 warns falsely with -Wrestrict on "(" + to_string)
  os << "(" << a << ", " << b << ")";
  return os.str();
}

}  // namespace

Tensor interpolate(const Tensor& x, const InterpolateArgs& a) {
  const bool bilinear = a.mode == InterpolateMode::Bilinear;
  const char* op = bilinear ? "upsample_bilinear2d" : "upsample_nearest2d";
  check_image(op, x);
  const bool has_size = a.size[0] != 0 || a.size[1] != 0;
  const bool has_scale = a.scale_factor[0] != 0.0 || a.scale_factor[1] != 0.0;
  if (has_size == has_scale)
    throw std::invalid_argument(std::string(op) + ": give exactly one of size and scale_factor (got " +
                                (has_size ? "both" : "neither") + ") for input of shape " + shape_str(x.shape()));
  if (a.align_corners && !bilinear)
    throw std::invalid_argument(std::string(op) +
                                ": align_corners can only be set with bilinear interpolation, not nearest");
  Plan plan{op, bilinear ? "upsample_bilinear2d_backward" : "upsample_nearest2d_backward", {}};
  plan.params.kind = bilinear ? kernels::ResampleKind::Bilinear : kernels::ResampleKind::Nearest;
  plan.params.align_corners = a.align_corners;
  plan.N = x.size(0), plan.C = x.size(1), plan.H = x.size(2), plan.W = x.size(3);
  if (has_size) {
    if (a.size[0] < 1 || a.size[1] < 1)
      throw std::invalid_argument(std::string(op) + ": output size " + pair_str(a.size[0], a.size[1]) +
                                  " must be positive, for input of shape " + shape_str(x.shape()));
    plan.Ho = a.size[0], plan.Wo = a.size[1];
  } else {
    for (double f : a.scale_factor)
      if (!(f > 0.0) || !std::isfinite(f))
        throw std::invalid_argument(std::string(op) + ": scale_factor must be positive and finite, got " +
                                    std::to_string(f));
    // PyTorch: the output size is input * factor, truncated; the kernel keeps the factor for its positions.
    plan.Ho = static_cast<int64_t>(static_cast<double>(plan.H) * a.scale_factor[0]);
    plan.Wo = static_cast<int64_t>(static_cast<double>(plan.W) * a.scale_factor[1]);
    plan.params.scale_h = a.scale_factor[0], plan.params.scale_w = a.scale_factor[1];
    if (plan.Ho < 1 || plan.Wo < 1)
      throw std::invalid_argument(std::string(op) + ": scale_factor (" + std::to_string(a.scale_factor[0]) + ", " +
                                  std::to_string(a.scale_factor[1]) + ") gives an empty output " +
                                  pair_str(plan.Ho, plan.Wo) + " for input of shape " + shape_str(x.shape()));
  }
  return apply(x, plan, false);
}

Tensor upsample_nearest(const Tensor& x, double scale_factor) {
  return interpolate(x, {.scale_factor = {scale_factor, scale_factor}, .mode = InterpolateMode::Nearest});
}

Tensor upsample_bilinear(const Tensor& x, double scale_factor, bool align_corners) {
  return interpolate(x, {.scale_factor = {scale_factor, scale_factor}, .mode = InterpolateMode::Bilinear,
                         .align_corners = align_corners});
}

Tensor avg_pool2d(const Tensor& x, const AvgPool2dArgs& a) {
  const char* op = "avg_pool2d";
  check_image(op, x);
  Plan plan{op, "avg_pool2d_backward", {}};
  kernels::ResampleParams& p = plan.params;
  p.kind = kernels::ResampleKind::AvgPool;
  p.kh = a.kernel_size[0], p.kw = a.kernel_size[1];
  p.sh = a.stride[0] == 0 ? p.kh : a.stride[0];
  p.sw = a.stride[1] == 0 ? p.kw : a.stride[1];
  p.ph = a.padding[0], p.pw = a.padding[1];
  p.count_include_pad = a.count_include_pad;
  p.divisor_override = a.divisor_override;
  const std::string call = " (input " + shape_str(x.shape()) + ", kernel_size " + pair_str(p.kh, p.kw) +
                           ", stride " + pair_str(p.sh, p.sw) + ", padding " + pair_str(p.ph, p.pw) + ")";
  if (p.kh < 1 || p.kw < 1) throw std::invalid_argument(std::string(op) + ": kernel size must be positive" + call);
  if (p.sh < 1 || p.sw < 1) throw std::invalid_argument(std::string(op) + ": stride must be positive" + call);
  if (p.ph < 0 || p.pw < 0) throw std::invalid_argument(std::string(op) + ": padding must be >= 0" + call);
  if (p.ph > p.kh / 2 || p.pw > p.kw / 2)
    throw std::invalid_argument(std::string(op) + ": padding should be at most half of the kernel size" + call);
  if (a.divisor_override < 0)
    throw std::invalid_argument(std::string(op) + ": divisor_override must be positive (or 0 for none), got " +
                                std::to_string(a.divisor_override));
  plan.N = x.size(0), plan.C = x.size(1), plan.H = x.size(2), plan.W = x.size(3);
  // PyTorch's pooling_output_shape (dilation 1).
  auto out_size = [&](int64_t in, int64_t k, int64_t s, int64_t pad) {
    const int64_t span = in + 2 * pad - k + (a.ceil_mode ? s - 1 : 0);
    int64_t out = (span >= 0 ? span / s : -((-span + s - 1) / s)) + 1;
    if (a.ceil_mode && (out - 1) * s >= in + pad) --out;
    return out;
  };
  plan.Ho = out_size(plan.H, p.kh, p.sh, p.ph);
  plan.Wo = out_size(plan.W, p.kw, p.sw, p.pw);
  if (plan.Ho < 1 || plan.Wo < 1)
    throw std::invalid_argument(std::string(op) + ": output size " + pair_str(plan.Ho, plan.Wo) +
                                " is too small" + call);
  return apply(x, plan, false);
}

}  // namespace gan::nn::functional
