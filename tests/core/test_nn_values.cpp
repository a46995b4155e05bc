// Values of gan::nn::functional against direct references: batch norm (forward, running statistics, eval mode,
// fused activations, determinism, errors), dropout (statistics, determinism), one_hot, embedding, linear,
// layer_norm, log_softmax, cross_entropy.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/nn/functional.h"

namespace {

namespace F = gan::nn::functional;
using gan::DType;
using gan::Generator;
using gan::Shape;
using gan::Tensor;

// Runs f and returns the exception message (empty when nothing was thrown).
template <typename Fn>
std::string error_of(Fn&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return {};
}

#define EXPECT_ERROR_HAS(stmt, ...)                                                      \
  do {                                                                                   \
    const std::string msg_ = error_of([&] { stmt; });                                     \
    EXPECT_FALSE(msg_.empty()) << #stmt " did not throw";                                \
    for (const char* part_ : {__VA_ARGS__})                                              \
      EXPECT_NE(msg_.find(part_), std::string::npos) << "'" << part_ << "' not in: " << msg_; \
  } while (0)

// ---- batch norm reference ----------------------------------------------------------------------------------
struct BnRef {
  std::vector<double> y, mean, var_biased;
};

// Direct, per-channel, two-pass reference in double: y = act((x - mean) / sqrt(var + eps) * w + b).
BnRef bn_reference(const std::vector<double>& x, const Shape& shape, const std::vector<double>& w,
                   const std::vector<double>& b, double eps, F::ActivationArgs act = {},
                   const std::vector<double>* eval_mean = nullptr, const std::vector<double>* eval_var = nullptr) {
  const int64_t N = shape[0], C = shape[1];
  int64_t S = 1;
  for (size_t d = 2; d < shape.size(); ++d) S *= shape[d];
  BnRef r;
  r.y.resize(x.size());
  r.mean.assign(C, 0.0);
  r.var_biased.assign(C, 0.0);
  for (int64_t c = 0; c < C; ++c) {
    double s = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) s += x[(n * C + c) * S + i];
    const double m = s / static_cast<double>(N * S);
    double v = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) v += (x[(n * C + c) * S + i] - m) * (x[(n * C + c) * S + i] - m);
    v /= static_cast<double>(N * S);
    r.mean[c] = m;
    r.var_biased[c] = v;
    const double um = eval_mean ? (*eval_mean)[c] : m, uv = eval_var ? (*eval_var)[c] : v;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) {
        const size_t k = static_cast<size_t>((n * C + c) * S + i);
        double z = (x[k] - um) / std::sqrt(uv + eps) * (w.empty() ? 1.0 : w[c]) + (b.empty() ? 0.0 : b[c]);
        if (act.kind == F::Activation::ReLU) z = z > 0 ? z : 0;
        if (act.kind == F::Activation::LeakyReLU) z = z > 0 ? z : z * act.negative_slope;
        r.y[k] = z;
      }
  }
  return r;
}

template <typename T>
class BatchNormTyped : public ::testing::Test {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(BatchNormTyped, FloatTypes);

TYPED_TEST(BatchNormTyped, TrainingForwardMatchesReference) {
  using T = TypeParam;
  const DType dt = gan::dtype_of<T>();
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  Generator gen(11);
  for (const Shape& shape : {Shape{4, 3, 5, 5}, Shape{8, 5}, Shape{3, 2, 7}}) {
    const int64_t C = shape[1];
    // An offset mean (5) checks the two-pass variance.
    Tensor x = gan::add(gan::randn(shape, DType::Float64, &gen, 0.0, 2.0), 5.0);
    Tensor w = gan::rand({C}, DType::Float64, &gen, 0.5, 1.5), b = gan::rand({C}, DType::Float64, &gen, -1, 1);
    const std::vector<double> xv = x.to(dt).to_vector<double>();  // the values the kernel sees
    const std::vector<double> wv = w.to(dt).to_vector<double>(), bv = b.to(dt).to_vector<double>();
    for (F::ActivationArgs act : {F::ActivationArgs{F::Activation::Identity}, F::ActivationArgs{F::Activation::ReLU},
                                  F::ActivationArgs{F::Activation::LeakyReLU, 0.2}}) {
      const BnRef ref = bn_reference(xv, shape, wv, bv, 1e-5, act);
      Tensor y = F::batch_norm(x.to(dt), Tensor(), Tensor(), w.to(dt), b.to(dt), true, 0.1, 1e-5, act);
      ASSERT_EQ(y.shape(), shape);
      ASSERT_EQ(y.dtype(), dt);
      const std::vector<double> yv = y.to_vector<double>();
      for (size_t i = 0; i < yv.size(); ++i) ASSERT_NEAR(yv[i], ref.y[i], tol) << gan::shape_str(shape) << " element " << i;
    }
  }
}

TYPED_TEST(BatchNormTyped, RunningStatsAfterTwoSteps) {
  using T = TypeParam;
  const DType dt = gan::dtype_of<T>();
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  const Shape shape{3, 2, 2};  // M = 6 per channel
  const std::vector<double> x1 = {1, 2, -1, 0, 3, 5, 2, 2, 0, 1, 4, -2};
  const std::vector<double> x2 = {0.5, 0.25, 1, 3, -2, 1, 7, 1, 2, 2, 0, 0};
  Tensor rm = gan::zeros({2}, dt), rv = gan::ones({2}, dt);
  std::vector<double> em = {0, 0}, ev = {1, 1};
  for (const auto* xs : {&x1, &x2}) {
    F::batch_norm(gan::from_vector<double>(*xs, shape).to(dt), rm, rv, Tensor(), Tensor(), true, 0.1, 1e-5);
    const BnRef r = bn_reference(*xs, shape, {}, {}, 1e-5);
    for (int c = 0; c < 2; ++c) {
      em[c] = 0.9 * em[c] + 0.1 * r.mean[c];
      ev[c] = 0.9 * ev[c] + 0.1 * r.var_biased[c] * 6.0 / 5.0;  // unbiased
    }
  }
  const std::vector<double> got_m = rm.to_vector<double>(), got_v = rv.to_vector<double>();
  for (int c = 0; c < 2; ++c) {
    EXPECT_NEAR(got_m[c], em[c], tol) << "running_mean[" << c << "]";
    EXPECT_NEAR(got_v[c], ev[c], tol) << "running_var[" << c << "]";
  }
  // By hand, channel 0 of step 1 is {1, 2, 3, 5, 0, 1}: mean 2, squared deviations sum to 16, unbiased variance
  // 16 / 5, so running_mean = 0.1 * 2 and running_var = 0.9 * 1 + 0.1 * 3.2.
  Tensor rm1 = gan::zeros({2}, dt), rv1 = gan::ones({2}, dt);
  F::batch_norm(gan::from_vector<double>(x1, shape).to(dt), rm1, rv1, Tensor(), Tensor(), true, 0.1, 1e-5);
  EXPECT_NEAR(rm1.to_vector<double>()[0], 0.2, tol);
  EXPECT_NEAR(rv1.to_vector<double>()[0], 1.22, tol);
}

TYPED_TEST(BatchNormTyped, EvalUsesRunningStats) {
  using T = TypeParam;
  const DType dt = gan::dtype_of<T>();
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  Generator gen(3);
  const Shape shape{2, 3, 2, 2};
  Tensor x = gan::randn(shape, dt, &gen);
  const std::vector<double> m = {0.5, -1.0, 2.0}, v = {0.25, 4.0, 1.0};
  Tensor rm = gan::from_vector<double>(m, {3}).to(dt), rv = gan::from_vector<double>(v, {3}).to(dt);
  Tensor w = gan::from_vector<double>({1.5, -0.5, 2.0}, {3}).to(dt), b = gan::from_vector<double>({0.1, 0.2, -0.3}, {3}).to(dt);
  Tensor y = F::batch_norm(x, rm, rv, w, b, false);
  const BnRef ref = bn_reference(x.to_vector<double>(), shape, w.to_vector<double>(), b.to_vector<double>(), 1e-5, {},
                                 &m, &v);
  const std::vector<double> yv = y.to_vector<double>();
  for (size_t i = 0; i < yv.size(); ++i) ASSERT_NEAR(yv[i], ref.y[i], tol) << "element " << i;
  // Eval leaves the running statistics alone.
  EXPECT_EQ(rm.to_vector<double>(), gan::from_vector<double>(m, {3}).to(dt).to_vector<double>());
  EXPECT_EQ(rv.to_vector<double>(), gan::from_vector<double>(v, {3}).to(dt).to_vector<double>());
}

TYPED_TEST(BatchNormTyped, FusedActivationsMatchSeparateOps) {
  using T = TypeParam;
  const DType dt = gan::dtype_of<T>();
  const double tol = std::is_same_v<T, float> ? 1e-5 : 1e-12;
  Generator gen(5);
  const Shape shape{4, 3, 3, 3};
  Tensor x0 = gan::randn(shape, dt, &gen);
  Tensor w0 = gan::rand({3}, dt, &gen, 0.5, 1.5), b0 = gan::rand({3}, dt, &gen, -0.5, 0.5);
  Tensor v = gan::randn(shape, dt, &gen);
  for (bool training : {true, false}) {
    for (F::ActivationArgs act : {F::ActivationArgs{F::Activation::ReLU}, F::ActivationArgs{F::Activation::LeakyReLU, 0.2}}) {
      auto run = [&](bool fused) {
        Tensor x = x0.clone(), w = w0.clone(), b = b0.clone();
        for (Tensor* t : {&x, &w, &b}) t->requires_grad_(true);
        Tensor rm = gan::zeros({3}, dt), rv = gan::full({3}, 1.5, dt);
        Tensor y;
        if (fused) {
          y = F::batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5, act);
        } else {
          y = F::batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5);
          y = act.kind == F::Activation::ReLU ? gan::relu(y) : gan::leaky_relu(y, act.negative_slope);
        }
        std::vector<Tensor> g = gan::grad({y}, {x, w, b}, {v});
        return std::vector<std::vector<double>>{y.to_vector<double>(), g[0].to_vector<double>(),
                                                g[1].to_vector<double>(), g[2].to_vector<double>()};
      };
      const auto fused = run(true), separate = run(false);
      // ReLU commutes with rounding, so its forward is bit-identical; the fused leaky slope is applied before
      // rounding to T, the separate op after, so they may differ in the last bit.
      if (act.kind == F::Activation::ReLU) {
        EXPECT_EQ(fused[0], separate[0]) << "training " << training;
      }
      for (size_t k = 0; k < 4; ++k)
        for (size_t i = 0; i < fused[k].size(); ++i)
          ASSERT_NEAR(fused[k][i], separate[k][i], tol * (1 + std::abs(separate[k][i])))
              << "gradient " << k << " element " << i << " training " << training;
    }
  }
}

TEST(BatchNorm, DeterministicAcrossRunsAndThreadCounts) {
  Generator gen(9);
  // Large enough to take the chunked, parallel reduction path.
  const Shape shape{64, 2, 24, 24};
  Tensor x = gan::randn(shape, DType::Float32, &gen, 3.0, 2.0);
  Tensor w = gan::rand({2}, DType::Float32, &gen, 0.5, 1.5), b = gan::rand({2}, DType::Float32, &gen);
  Tensor v = gan::randn(shape, DType::Float32, &gen);
  auto run = [&](int threads) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    Tensor xx = x.clone(), ww = w.clone();
    xx.requires_grad_(true);
    ww.requires_grad_(true);
    Tensor rm = gan::zeros({2}), rv = gan::ones({2});
    Tensor y = F::batch_norm(xx, rm, rv, ww, b, true, 0.1, 1e-5, {F::Activation::LeakyReLU, 0.2});
    std::vector<Tensor> g = gan::grad({y}, {xx, ww}, {v});
    omp_set_num_threads(saved);
    return std::vector<std::vector<float>>{y.to_vector<float>(), rm.to_vector<float>(), rv.to_vector<float>(),
                                           g[0].to_vector<float>(), g[1].to_vector<float>()};
  };
  const auto a = run(1), b1 = run(1), c = run(4);
  for (size_t k = 0; k < a.size(); ++k) {
    ASSERT_EQ(std::memcmp(a[k].data(), b1[k].data(), a[k].size() * sizeof(float)), 0) << "rerun, result " << k;
    ASSERT_EQ(std::memcmp(a[k].data(), c[k].data(), a[k].size() * sizeof(float)), 0) << "1 vs 4 threads, result " << k;
  }
}

TEST(BatchNorm, ErrorsNameShapes) {
  Tensor x = gan::zeros({2, 3, 4, 4});
  Tensor c3 = gan::ones({3}), c4 = gan::ones({4});
  EXPECT_ERROR_HAS(F::batch_norm(x, Tensor(), Tensor(), c4, c3, true), "weight", "[4]", "[2, 3, 4, 4]", "[3]");
  EXPECT_ERROR_HAS(F::batch_norm(x, Tensor(), Tensor(), c3, c4, true), "bias", "[4]");
  EXPECT_ERROR_HAS(F::batch_norm(x, c3, c4, Tensor(), Tensor(), true), "running_var", "[4]");
  EXPECT_ERROR_HAS(F::batch_norm(x, c4, c3, Tensor(), Tensor(), false), "running_mean", "[4]");
  EXPECT_ERROR_HAS(F::batch_norm(gan::zeros({1, 3}), c3.clone(), c3.clone(), Tensor(), Tensor(), true),
                   "expected more than 1 value per channel when training", "[1, 3]");
  EXPECT_ERROR_HAS(F::batch_norm(gan::zeros({1, 3, 1, 1}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                   "expected more than 1 value per channel when training", "[1, 3, 1, 1]");
  EXPECT_ERROR_HAS(F::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false), "eval", "running_mean");
  EXPECT_ERROR_HAS(F::batch_norm(gan::zeros({3}), Tensor(), Tensor(), Tensor(), Tensor(), true), "[3]");
  EXPECT_ERROR_HAS(F::batch_norm(x, Tensor(), Tensor(), gan::ones({3}, DType::Float64), Tensor(), true), "float64");
  EXPECT_ERROR_HAS(F::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5,
                                 {F::Activation::LeakyReLU, -0.5}),
                   "negative_slope");
  // One value per channel is fine in eval mode.
  EXPECT_NO_THROW(F::batch_norm(gan::zeros({1, 3}), c3.clone(), c3.clone(), Tensor(), Tensor(), false));
}

TEST(BatchNorm, NoAffineAndNoRunningStats) {
  Tensor x = gan::from_vector<double>({1, 10, 3, 20}, {2, 2});  // channel 0: {1, 3}, channel 1: {10, 20}
  Tensor y = F::batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 0.0);
  const std::vector<double> yv = y.to_vector<double>();
  const std::vector<double> expected = {-1, -1, 1, 1};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(yv[i], expected[i], 1e-12);
}

// ---- dropout ------------------------------------------------------------------------------------------------
TEST(Dropout, KeepsOneMinusPAndScales) {
  Generator gen(2024);
  const int64_t n = 200000;
  for (double p : {0.2, 0.5, 0.8}) {
    Tensor y = F::dropout(gan::ones({n}), p, true, &gen);
    const std::vector<float> v = y.to_vector<float>();
    int64_t kept = 0;
    for (float e : v) {
      if (e != 0.0f) {
        ++kept;
        ASSERT_FLOAT_EQ(e, static_cast<float>(1.0 / (1.0 - p)));
      }
    }
    const double frac = static_cast<double>(kept) / static_cast<double>(n);
    // 5 standard deviations of a binomial proportion.
    EXPECT_NEAR(frac, 1.0 - p, 5.0 * std::sqrt(p * (1 - p) / static_cast<double>(n))) << "p = " << p;
    EXPECT_NEAR(gan::mean(y).item(), 1.0, 0.02) << "p = " << p;  // unbiased in expectation
  }
}

TEST(Dropout, DeterministicWithSeededGenerator) {
  Tensor x = gan::ones({1000}, DType::Float64);
  Generator a(77), b(77), c(78);
  const auto ya = F::dropout(x, 0.5, true, &a).to_vector<double>();
  const auto yb = F::dropout(x, 0.5, true, &b).to_vector<double>();
  const auto yc = F::dropout(x, 0.5, true, &c).to_vector<double>();
  EXPECT_EQ(ya, yb);
  EXPECT_NE(ya, yc);
  // The generator advanced: the next mask differs from the first.
  EXPECT_NE(F::dropout(x, 0.5, true, &a).to_vector<double>(), ya);
}

TEST(Dropout, IdentityZerosErrorsAndGradient) {
  Generator gen(1);
  Tensor x = gan::randn({3, 4}, DType::Float64, &gen);
  EXPECT_TRUE(F::dropout(x, 0.5, false, &gen).same(x));
  EXPECT_TRUE(F::dropout(x, 0.0, true, &gen).same(x));
  for (double e : F::dropout(x, 1.0, true, &gen).to_vector<double>()) EXPECT_EQ(e, 0.0);
  EXPECT_ERROR_HAS(F::dropout(x, 1.5), "dropout", "1.5");
  EXPECT_ERROR_HAS(F::dropout(x, -0.1), "dropout");
  EXPECT_ERROR_HAS(F::dropout(x, std::nan("")), "dropout");
  // The gradient is the mask: d(sum y)/dx = y / x elementwise.
  Tensor xr = x.clone();
  xr.requires_grad_(true);
  Tensor y = F::dropout(xr, 0.3, true, &gen);
  gan::sum(y).backward();
  const auto g = xr.grad().to_vector<double>(), yv = y.to_vector<double>(), xv = x.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], yv[i] / xv[i], 1e-12);
}

// ---- one_hot, embedding, linear -------------------------------------------------------------------------------
TEST(OneHot, ValuesShapesAndDtypes) {
  Tensor labels = gan::from_vector<int64_t>({2, 0, 1, 2}, {2, 2});
  Tensor y = F::one_hot(labels, 3);
  EXPECT_EQ(y.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(y.dtype(), DType::Float32);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(F::one_hot(labels, 4, DType::Int64).to_vector<int64_t>(),
            (std::vector<int64_t>{0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(F::one_hot(labels, 3, DType::Float64).dtype(), DType::Float64);
  EXPECT_EQ(F::one_hot(labels, -1).shape(), (Shape{2, 2, 3}));  // inferred, as PyTorch's num_classes=-1
  EXPECT_FALSE(y.requires_grad());
}

TEST(OneHot, ErrorsNameLabelAndNumClasses) {
  Tensor labels = gan::from_vector<int64_t>({1, 5, 0}, {3});
  EXPECT_ERROR_HAS(F::one_hot(labels, 4), "label 5", "num_classes 4");
  EXPECT_ERROR_HAS(F::one_hot(gan::from_vector<int64_t>({-1}, {1}), 4), "label -1", "num_classes 4");
  EXPECT_ERROR_HAS(F::one_hot(gan::zeros({3}), 4), "int64");
}

TEST(Embedding, ValuesAndGradientAccumulation) {
  Tensor w = gan::reshape(gan::arange(12, DType::Float64), {4, 3});
  w.requires_grad_(true);
  Tensor idx = gan::from_vector<int64_t>({3, 0, 3, 1}, {2, 2});
  Tensor y = F::embedding(idx, w);
  EXPECT_EQ(y.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{9, 10, 11, 0, 1, 2, 9, 10, 11, 3, 4, 5}));
  gan::sum(y).backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{1, 1, 1, 1, 1, 1, 0, 0, 0, 2, 2, 2}));
  EXPECT_EQ(F::embedding(gan::from_vector<int64_t>({2}, {}), w).to_vector<double>(), (std::vector<double>{6, 7, 8}));
}

TEST(Embedding, Errors) {
  Tensor w = gan::zeros({4, 3});
  EXPECT_ERROR_HAS(F::embedding(gan::from_vector<int64_t>({0, 4}, {2}), w), "index 4", "4 rows", "[4, 3]");
  EXPECT_ERROR_HAS(F::embedding(gan::from_vector<int64_t>({-1}, {1}), w), "index -1");
  EXPECT_ERROR_HAS(F::embedding(gan::zeros({2}), w), "int64");
  EXPECT_ERROR_HAS(F::embedding(gan::from_vector<int64_t>({0}, {1}), gan::zeros({4})), "[4]");
}

TEST(Linear, ValuesBatchedAndErrors) {
  Tensor x = gan::from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = gan::from_vector<double>({1, 0, -1, 2, 1, 0}, {2, 3});
  Tensor b = gan::from_vector<double>({0.5, -1}, {2});
  EXPECT_EQ(F::linear(x, w, b).to_vector<double>(), (std::vector<double>{-1.5, 3, -1.5, 12}));
  EXPECT_EQ(F::linear(x, w).to_vector<double>(), (std::vector<double>{-2, 4, -2, 13}));
  Tensor y3 = F::linear(gan::reshape(x, {2, 1, 3}), w, b);
  EXPECT_EQ(y3.shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(y3.to_vector<double>(), (std::vector<double>{-1.5, 3, -1.5, 12}));
  EXPECT_EQ(F::linear(gan::from_vector<double>({1, 2, 3}, {3}), w, b).shape(), (Shape{2}));
  EXPECT_ERROR_HAS(F::linear(gan::zeros({2, 4}, DType::Float64), w), "linear", "[2, 4]", "[2, 3]");
  EXPECT_ERROR_HAS(F::linear(x, w, gan::zeros({3}, DType::Float64)), "bias", "[3]");
}

TEST(LayerNorm, NormalizesTrailingDims) {
  Generator gen(4);
  Tensor x = gan::randn({3, 2, 5}, DType::Float64, &gen, 2.0, 3.0);
  Tensor y = F::layer_norm(x, {2, 5}, Tensor(), Tensor(), 0.0);
  const std::vector<double> v = y.to_vector<double>();
  for (int r = 0; r < 3; ++r) {
    double m = 0, s = 0;
    for (int i = 0; i < 10; ++i) m += v[r * 10 + i];
    m /= 10;
    for (int i = 0; i < 10; ++i) s += (v[r * 10 + i] - m) * (v[r * 10 + i] - m);
    EXPECT_NEAR(m, 0.0, 1e-12);
    EXPECT_NEAR(s / 10, 1.0, 1e-12);  // biased variance 1
  }
  Tensor w = gan::full({5}, 2.0, DType::Float64), b = gan::full({5}, 1.0, DType::Float64);
  const std::vector<double> ya = F::layer_norm(x, {5}, w, b).to_vector<double>();
  const std::vector<double> yp = F::layer_norm(x, {5}).to_vector<double>();
  for (size_t i = 0; i < ya.size(); ++i) EXPECT_NEAR(ya[i], 2 * yp[i] + 1, 1e-12);
  EXPECT_ERROR_HAS(F::layer_norm(x, {2}), "normalized_shape", "[3, 2, 5]");
  EXPECT_ERROR_HAS(F::layer_norm(x, {5}, gan::ones({4}, DType::Float64)), "weight", "[4]");
}

// ---- log_softmax, cross_entropy ----------------------------------------------------------------------------------
TEST(LogSoftmax, RowsSumToOneAndStable) {
  Generator gen(8);
  Tensor x = gan::randn({4, 6}, DType::Float64, &gen, 0.0, 3.0);
  const std::vector<double> v = gan::exp(F::log_softmax(x, 1)).to_vector<double>();
  for (int r = 0; r < 4; ++r) {
    double s = 0;
    for (int i = 0; i < 6; ++i) s += v[r * 6 + i];
    EXPECT_NEAR(s, 1.0, 1e-12);
  }
  // Along dim 0 too.
  const std::vector<double> c = gan::exp(F::log_softmax(x, 0)).to_vector<double>();
  for (int j = 0; j < 6; ++j) EXPECT_NEAR(c[j] + c[6 + j] + c[12 + j] + c[18 + j], 1.0, 1e-12);
  // +-1000: finite, and the same as for {0, 1, 2}.
  const double l2 = std::log(1 + std::exp(1.0) + std::exp(2.0));
  const std::vector<double> expected = {-l2, 1 - l2, 2 - l2};
  for (DType dt : {DType::Float32, DType::Float64}) {
    for (double base : {1000.0, -1000.0}) {
      Tensor big = gan::from_vector<double>({base, base + 1, base + 2}, {1, 3}).to(dt);
      const std::vector<double> out = F::log_softmax(big, -1).to_vector<double>();
      for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(std::isfinite(out[i])) << base;
        EXPECT_NEAR(out[i], expected[i], dt == DType::Float32 ? 1e-5 : 1e-12) << base;
      }
    }
  }
  // The gradient at +-1000 is finite too.
  Tensor big = gan::from_vector<double>({1000, -1000, 999}, {1, 3});
  big.requires_grad_(true);
  gan::sum(gan::narrow(F::log_softmax(big, 1), 1, 0, 1)).backward();
  for (double g : big.grad().to_vector<double>()) EXPECT_TRUE(std::isfinite(g));
}

TEST(CrossEntropy, MatchesHandComputation) {
  const std::vector<double> z = {1.0, 2.0, 0.5, -1.0, 0.0, 3.0};
  Tensor logits = gan::from_vector<double>(z, {2, 3});
  logits.requires_grad_(true);
  Tensor targets = gan::from_vector<int64_t>({1, 0}, {2});
  Tensor loss = F::cross_entropy(logits, targets);
  EXPECT_EQ(loss.dim(), 0);
  const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(0.5));
  const double lse1 = std::log(std::exp(-1.0) + std::exp(0.0) + std::exp(3.0));
  const double expected = ((lse0 - 2.0) + (lse1 - -1.0)) / 2.0;
  EXPECT_NEAR(loss.item(), expected, 1e-12);
  // Gradient: (softmax - one_hot) / N.
  loss.backward();
  const std::vector<double> g = logits.grad().to_vector<double>();
  const int t[2] = {1, 0};
  for (int n = 0; n < 2; ++n) {
    const double lse = n == 0 ? lse0 : lse1;
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(g[n * 3 + c], (std::exp(z[n * 3 + c] - lse) - (c == t[n] ? 1.0 : 0.0)) / 2.0, 1e-12);
  }
  // float32 works too.
  EXPECT_NEAR(F::cross_entropy(logits.detach().to(DType::Float32), targets).item(), expected, 1e-6);
}

TEST(CrossEntropy, Errors) {
  Tensor logits = gan::zeros({2, 3});
  EXPECT_ERROR_HAS(F::cross_entropy(logits, gan::from_vector<int64_t>({0, 3}, {2})), "target 3", "3 classes");
  EXPECT_ERROR_HAS(F::cross_entropy(logits, gan::from_vector<int64_t>({0, -1}, {2})), "target -1");
  EXPECT_ERROR_HAS(F::cross_entropy(logits, gan::from_vector<int64_t>({0, 1, 2}, {3})), "[3]", "[2, 3]", "[2]");
  EXPECT_ERROR_HAS(F::cross_entropy(logits, gan::zeros({2})), "int64");
  EXPECT_ERROR_HAS(F::cross_entropy(gan::zeros({3}), gan::from_vector<int64_t>({0}, {})), "[3]");
}

}  // namespace
