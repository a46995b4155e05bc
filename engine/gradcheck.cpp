#include "engine/gradcheck.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/rng.h"

namespace gan {

namespace {

// Fresh leaves with the caller's requires_grad flags, so every evaluation builds its own graph.
std::vector<Tensor> fresh_leaves(const std::vector<Tensor>& base) {
  std::vector<Tensor> xs;
  for (const Tensor& b : base) {
    Tensor x = b.detach().clone();
    if (b.requires_grad()) x.requires_grad_(true);
    xs.push_back(x);
  }
  return xs;
}

std::vector<Tensor> evaluate(const TensorsFn& f, const std::vector<Tensor>& base) {
  std::vector<Tensor> outs = f(fresh_leaves(base));
  for (Tensor& o : outs)
    if (o.defined()) o = o.detach().contiguous();
  return outs;
}

// <v, outs> summed over all outputs.
double project(const std::vector<Tensor>& outs, const std::vector<Tensor>& v) {
  double acc = 0.0;
  for (size_t k = 0; k < outs.size(); ++k) {
    if (!outs[k].defined()) continue;
    const std::vector<double> a = outs[k].to_vector<double>(), b = v[k].to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) acc += a[i] * b[i];
  }
  return acc;
}

std::vector<double> flatten_outputs(const std::vector<Tensor>& outs) {
  std::vector<double> flat;
  for (const Tensor& o : outs) {
    if (!o.defined()) continue;
    const std::vector<double> v = o.to_vector<double>();
    flat.insert(flat.end(), v.begin(), v.end());
  }
  return flat;
}

// Analytic d<v, outs>/d(inputs[i]) for the differentiable inputs, zeros where unused.
std::vector<Tensor> analytic_vjp(const std::vector<Tensor>& outs, const std::vector<Tensor>& v,
                                 const std::vector<Tensor>& xs, const std::vector<size_t>& diff) {
  std::vector<Tensor> roots, seeds, targets;
  for (size_t k = 0; k < outs.size(); ++k)
    if (outs[k].defined() && outs[k].requires_grad()) {
      roots.push_back(outs[k]);
      seeds.push_back(v[k]);
    }
  for (size_t i : diff) targets.push_back(xs[i]);
  std::vector<Tensor> g;
  if (!roots.empty()) g = grad(roots, targets, seeds, /*retain_graph=*/true, /*create_graph=*/false, true);
  else g.resize(targets.size());
  for (size_t j = 0; j < g.size(); ++j) {
    if (!g[j].defined()) g[j] = zeros_like(targets[j]);
    if (g[j].shape() != targets[j].shape())
      throw std::logic_error("gradcheck: gradient of shape " + shape_str(g[j].shape()) + " for input of shape " +
                             shape_str(targets[j].shape()));
  }
  return g;
}

bool close(double analytic, double numeric, const GradcheckOptions& o) {
  return std::abs(analytic - numeric) <= o.atol + o.rtol * std::abs(numeric) && std::isfinite(analytic);
}

std::string mismatch(const char* what, size_t input, int64_t elem, int64_t out, double a, double n) {
  std::ostringstream os;
  os.precision(10);
  os << what << " mismatch for input " << input << ", element " << elem;
  if (out >= 0) os << ", output element " << out;
  os << ": analytic " << a << " vs numeric " << n << " (difference " << (a - n) << ")";
  return os.str();
}

GradcheckResult check(const TensorsFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  std::vector<size_t> diff;
  int64_t n_in = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) throw std::invalid_argument("gradcheck: input " + std::to_string(i) + " is undefined");
    if (!inputs[i].requires_grad()) continue;
    if (inputs[i].dtype() != DType::Float64)
      throw std::invalid_argument("gradcheck: input " + std::to_string(i) + " is " +
                                  dtype_name(inputs[i].dtype()) + "; finite differences need float64");
    diff.push_back(i);
    n_in += inputs[i].numel();
  }
  if (diff.empty()) throw std::invalid_argument("gradcheck: no input requires grad");

  // Base point, contiguous float64 copies we can perturb in place.
  std::vector<Tensor> base;
  for (const Tensor& t : inputs) {
    Tensor c = t.detach().clone();
    if (t.requires_grad()) c.requires_grad_(true);
    base.push_back(c);
  }
  auto perturb = [&](size_t input, int64_t elem, double delta) { base[input].data<double>()[elem] += delta; };

  std::vector<Tensor> xs = fresh_leaves(base);
  std::vector<Tensor> outs = f(xs);
  int64_t n_out = 0;
  for (const Tensor& o : outs)
    if (o.defined()) {
      if (o.dtype() != DType::Float64)
        throw std::invalid_argument("gradcheck: outputs must be float64, got " + std::string(dtype_name(o.dtype())));
      n_out += o.numel();
    }

  Generator gen(opt.seed);
  GradcheckResult result;
  const double eps = opt.eps;

  if (n_in * n_out <= opt.full_jacobian_limit) {
    // Full Jacobian: column j numerically, row k analytically.
    std::vector<std::vector<double>> numeric(static_cast<size_t>(n_in));  // [input elem][output elem]
    int64_t col = 0;
    for (size_t i : diff)
      for (int64_t e = 0; e < base[i].numel(); ++e, ++col) {
        perturb(i, e, eps);
        const std::vector<double> plus = flatten_outputs(evaluate(f, base));
        perturb(i, e, -2 * eps);
        const std::vector<double> minus = flatten_outputs(evaluate(f, base));
        perturb(i, e, eps);
        numeric[col].resize(plus.size());
        for (size_t k = 0; k < plus.size(); ++k) numeric[col][k] = (plus[k] - minus[k]) / (2 * eps);
      }
    int64_t row = 0;
    for (size_t k = 0; k < outs.size(); ++k) {
      if (!outs[k].defined()) continue;
      for (int64_t r = 0; r < outs[k].numel(); ++r, ++row) {
        std::vector<Tensor> v;
        for (size_t q = 0; q < outs.size(); ++q)
          v.push_back(outs[q].defined() ? zeros_like(outs[q]).contiguous() : Tensor());
        v[k].data<double>()[r] = 1.0;
        const std::vector<Tensor> g = analytic_vjp(outs, v, xs, diff);
        int64_t c = 0;
        for (size_t j = 0; j < diff.size(); ++j) {
          const std::vector<double> gj = g[j].to_vector<double>();
          for (int64_t e = 0; e < static_cast<int64_t>(gj.size()); ++e, ++c)
            if (!close(gj[e], numeric[c][row], opt))
              return {false, mismatch("Jacobian", diff[j], e, row, gj[e], numeric[c][row])};
        }
      }
    }
    return result;
  }

  // Random vector-Jacobian product.
  std::vector<Tensor> v;
  for (const Tensor& o : outs) v.push_back(o.defined() ? randn(o.shape(), DType::Float64, &gen) : Tensor());
  const std::vector<Tensor> g = analytic_vjp(outs, v, xs, diff);
  if (n_in <= opt.elementwise_limit) {
    for (size_t j = 0; j < diff.size(); ++j) {
      const size_t i = diff[j];
      const std::vector<double> gj = g[j].to_vector<double>();
      for (int64_t e = 0; e < base[i].numel(); ++e) {
        perturb(i, e, eps);
        const double plus = project(evaluate(f, base), v);
        perturb(i, e, -2 * eps);
        const double minus = project(evaluate(f, base), v);
        perturb(i, e, eps);
        const double numeric = (plus - minus) / (2 * eps);
        if (!close(gj[e], numeric, opt)) return {false, mismatch("vector-Jacobian", i, e, -1, gj[e], numeric)};
      }
    }
    return result;
  }
  for (int p = 0; p < opt.projections; ++p) {
    std::vector<Tensor> u;
    double analytic = 0.0;
    for (size_t j = 0; j < diff.size(); ++j) {
      u.push_back(randn(base[diff[j]].shape(), DType::Float64, &gen));
      const std::vector<double> a = g[j].to_vector<double>(), b = u.back().to_vector<double>();
      for (size_t e = 0; e < a.size(); ++e) analytic += a[e] * b[e];
    }
    auto shift = [&](double scale) {
      for (size_t j = 0; j < diff.size(); ++j) {
        double* x = base[diff[j]].data<double>();
        const std::vector<double> d = u[j].to_vector<double>();
        for (size_t e = 0; e < d.size(); ++e) x[e] += scale * d[e];
      }
    };
    shift(eps);
    const double plus = project(evaluate(f, base), v);
    shift(-2 * eps);
    const double minus = project(evaluate(f, base), v);
    shift(eps);
    const double numeric = (plus - minus) / (2 * eps);
    if (!close(analytic, numeric, opt)) {
      std::ostringstream os;
      os.precision(10);
      os << "directional derivative mismatch along random direction " << p << ": analytic " << analytic
         << " vs numeric " << numeric;
      return {false, os.str()};
    }
  }
  return result;
}

TensorsFn as_multi(const TensorFn& f) {
  return [f](const std::vector<Tensor>& xs) { return std::vector<Tensor>{f(xs)}; };
}

}  // namespace

GradcheckResult gradcheck(const TensorsFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  return check(f, inputs, opt);
}

GradcheckResult gradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  return check(as_multi(f), inputs, opt);
}

GradcheckResult gradgradcheck(const TensorsFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  // The grad_outputs v become extra (differentiable) inputs of the checked function.
  std::vector<Tensor> probe = f(fresh_leaves(inputs));
  Generator gen(opt.seed + 1);
  std::vector<Tensor> all = inputs;
  std::vector<size_t> out_index;
  for (size_t k = 0; k < probe.size(); ++k) {
    if (!probe[k].defined() || !probe[k].requires_grad()) continue;
    Tensor v = randn(probe[k].shape(), DType::Float64, &gen);
    v.requires_grad_(true);
    all.push_back(v);
    out_index.push_back(k);
  }
  if (out_index.empty()) throw std::invalid_argument("gradgradcheck: no output depends on an input requiring grad");
  const size_t n_inputs = inputs.size();
  std::vector<size_t> diff;
  for (size_t i = 0; i < n_inputs; ++i)
    if (inputs[i].requires_grad()) diff.push_back(i);

  TensorsFn first_derivative = [f, n_inputs, out_index, diff](const std::vector<Tensor>& args) {
    std::vector<Tensor> xs(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(n_inputs));
    std::vector<Tensor> outs = f(xs);
    std::vector<Tensor> roots, seeds, targets;
    for (size_t j = 0; j < out_index.size(); ++j) {
      roots.push_back(outs[out_index[j]]);
      seeds.push_back(args[n_inputs + j]);
    }
    for (size_t i : diff) targets.push_back(xs[i]);
    std::vector<Tensor> g = grad(roots, targets, seeds, /*retain_graph=*/true, /*create_graph=*/true, true);
    for (size_t j = 0; j < g.size(); ++j)
      if (!g[j].defined()) g[j] = zeros_like(targets[j]);
    return g;
  };
  return check(first_derivative, all, opt);
}

GradcheckResult gradgradcheck(const TensorFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  return gradgradcheck(as_multi(f), inputs, opt);
}

}  // namespace gan
