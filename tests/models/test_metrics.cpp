// models/metrics.h: the Frechet distance (against closed forms, a numpy reference and the engine's former Jacobi
// solver), the LAPACK eigen solver,
// k-NN precision/recall on clouds whose answer is known, and NMI on labelings whose answer is known.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "models/metrics.h"

namespace gan::models::metrics {
namespace {

std::vector<float> gaussian_cloud(int64_t n, int64_t d, double mean, double stddev, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(mean, stddev);
  std::vector<float> out(static_cast<size_t>(n * d));
  for (float& x : out) x = static_cast<float>(normal(rng));
  return out;
}

// The cyclic Jacobi solver models/metrics.cpp used before LAPACK's dsyevd replaced it, kept as an independent
// reference: same contract (upper triangle read, eigenvalues ascending, eigenvectors as columns).
void jacobi_eigen(const std::vector<double>& in, int64_t n, std::vector<double>& values, std::vector<double>& vectors) {
  std::vector<double> a(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) a[i * n + j] = a[j * n + i] = in[i * n + j];
  std::vector<double> v(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  double total = 0;
  for (double x : a) total += x * x;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    if (off <= 1e-30 * total || off == 0) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (apq == 0) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        a[p * n + p] -= t * apq;
        a[q * n + q] += t * apq;
        a[p * n + q] = a[q * n + p] = 0;
        for (int64_t r = 0; r < n; ++r) {
          if (r == p || r == q) continue;
          const double arp = a[r * n + p], arq = a[r * n + q];
          a[r * n + p] = a[p * n + r] = c * arp - s * arq;
          a[r * n + q] = a[q * n + r] = s * arp + c * arq;
        }
        for (int64_t r = 0; r < n; ++r) {
          const double vrp = v[r * n + p], vrq = v[r * n + q];
          v[r * n + p] = c * vrp - s * vrq;
          v[r * n + q] = s * vrp + c * vrq;
        }
      }
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return a[x * n + x] < a[y * n + y]; });
  values.resize(static_cast<size_t>(n));
  vectors.resize(static_cast<size_t>(n * n));
  for (int64_t k = 0; k < n; ++k) {
    values[k] = a[order[k] * n + order[k]];
    for (int64_t r = 0; r < n; ++r) vectors[r * n + k] = v[r * n + order[k]];
  }
}

// The former frechet_distance on top of a given solver, with plain loops instead of BLAS.
double frechet_with(const FeatureStats& a, const FeatureStats& b,
                    void (*eigen)(const std::vector<double>&, int64_t, std::vector<double>&, std::vector<double>&)) {
  const int64_t n = a.dim;
  double result = 0;
  for (int64_t i = 0; i < n; ++i)
    result += (a.mean[i] - b.mean[i]) * (a.mean[i] - b.mean[i]) + a.cov[i * n + i] + b.cov[i * n + i];
  std::vector<double> w, v;
  eigen(a.cov, n, w, v);
  std::vector<double> root(static_cast<size_t>(n * n), 0.0), tmp(root.size(), 0.0), m(root.size(), 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c)
      for (int64_t k = 0; k < n; ++k) root[r * n + c] += v[r * n + k] * std::sqrt(std::max(w[k], 0.0)) * v[c * n + k];
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c)
      for (int64_t k = 0; k < n; ++k) tmp[r * n + c] += root[r * n + k] * b.cov[k * n + c];
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < n; ++c)
      for (int64_t k = 0; k < n; ++k) m[r * n + c] += tmp[r * n + k] * root[k * n + c];
  eigen(m, n, w, v);
  for (double x : w) result -= 2 * std::sqrt(std::max(x, 0.0));
  return result;
}

std::vector<double> random_symmetric(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> a(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) a[i * n + j] = a[j * n + i] = u(rng);
  return a;
}

TEST(Metrics, EigenDecomposesASymmetricMatrix) {
  const int64_t n = 30;
  std::vector<double> a = random_symmetric(n, 3);
  for (int64_t i = 0; i < n; ++i)  // junk below the diagonal must be ignored: only the upper triangle is read
    for (int64_t j = 0; j < i; ++j) a[i * n + j] = 1e6;
  std::vector<double> w, v;
  symmetric_eigen(a, n, w, v);
  const std::vector<double> sym = random_symmetric(n, 3);
  for (int64_t k = 1; k < n; ++k) EXPECT_LE(w[k - 1], w[k]);
  for (int64_t k = 0; k < n; ++k) {
    for (int64_t r = 0; r < n; ++r) {  // A v_k = w_k v_k
      double av = 0;
      for (int64_t c = 0; c < n; ++c) av += sym[r * n + c] * v[c * n + k];
      EXPECT_NEAR(av, w[k] * v[r * n + k], 1e-10);
    }
    for (int64_t l = 0; l < n; ++l) {  // V^T V = I
      double dot = 0;
      for (int64_t r = 0; r < n; ++r) dot += v[r * n + k] * v[r * n + l];
      EXPECT_NEAR(dot, k == l ? 1.0 : 0.0, 1e-10);
    }
  }
}

TEST(Metrics, LapackEigenAgreesWithTheFormerJacobiSolver) {
  // A 128 x 128 covariance, the size gan eval decomposes: same eigenvalues, same eigenvectors up to sign.
  const int64_t n = 128, rows = 400;
  const auto x = gaussian_cloud(rows, n, 0.0, 1.0, 11);
  const FeatureStats s = feature_stats(x.data(), rows, n);
  std::vector<double> w1, v1, w2, v2;
  symmetric_eigen(s.cov, n, w1, v1);
  jacobi_eigen(s.cov, n, w2, v2);
  for (int64_t k = 0; k < n; ++k) {
    EXPECT_NEAR(w1[k], w2[k], 1e-10 * std::abs(w2[n - 1])) << "eigenvalue " << k;
    if (k > 0 && w2[k] - w2[k - 1] < 1e-6) continue;  // (nearly) repeated eigenvalues: vectors are not unique
    double dot = 0;
    for (int64_t r = 0; r < n; ++r) dot += v1[r * n + k] * v2[r * n + k];
    EXPECT_NEAR(std::abs(dot), 1.0, 1e-8) << "eigenvector " << k;
  }
}

TEST(Metrics, FrechetDistanceAgreesWithTheFormerJacobiVersion) {
  const int64_t n = 600, d = 64;
  const auto x = gaussian_cloud(n, d, 0.0, 1.0, 12);
  auto y = gaussian_cloud(n, d, 0.3, 1.5, 13);
  for (int64_t i = 0; i < n; ++i) y[i * d] += 0.5f * y[i * d + 1];  // some correlation
  const FeatureStats a = feature_stats(x.data(), n, d), b = feature_stats(y.data(), n, d);
  const double lapack = frechet_distance(a, b), jacobi = frechet_with(a, b, jacobi_eigen);
  EXPECT_GT(jacobi, 1.0);
  EXPECT_NEAR(lapack, jacobi, 1e-9 * jacobi);
  EXPECT_NEAR(frechet_with(a, b, symmetric_eigen), jacobi, 1e-9 * jacobi);
}

TEST(Metrics, EigenRejectsAWrongSize) {
  std::vector<double> w, v;
  EXPECT_THROW(symmetric_eigen(std::vector<double>(5), 2, w, v), std::invalid_argument);
}

TEST(Metrics, FrechetDistanceOfASetWithItselfIsZero) {
  const auto x = gaussian_cloud(400, 16, 0.5, 2.0, 1);
  const FeatureStats s = feature_stats(x.data(), 400, 16);
  EXPECT_NEAR(frechet_distance(s, s), 0.0, 1e-8);
}

TEST(Metrics, FrechetDistanceOfAShiftedSetIsTheSquaredShift) {
  // Same covariance, means apart by delta: the trace terms cancel and d^2 = |delta|^2.
  const int64_t n = 300, d = 8;
  const auto x = gaussian_cloud(n, d, 0.0, 1.0, 2);
  std::vector<float> y = x;
  double shift2 = 0;
  for (int64_t j = 0; j < d; ++j) shift2 += (0.25 * (j + 1)) * (0.25 * (j + 1));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) y[i * d + j] += static_cast<float>(0.25 * (j + 1));
  const double fd = frechet_distance(feature_stats(x.data(), n, d), feature_stats(y.data(), n, d));
  EXPECT_NEAR(fd, shift2, 1e-4 * shift2);
}

TEST(Metrics, FrechetDistanceOfDiagonalGaussiansMatchesTheClosedForm) {
  // N(mu1, diag(a)) vs N(mu2, diag(b)): d^2 = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
  const int64_t d = 5;
  FeatureStats s1{d, 100, std::vector<double>(d), std::vector<double>(d * d, 0.0)};
  FeatureStats s2 = s1;
  double expected = 0;
  for (int64_t i = 0; i < d; ++i) {
    s1.mean[i] = 0.1 * i;
    s2.mean[i] = -0.2 * i;
    s1.cov[i * d + i] = 1.0 + i;
    s2.cov[i * d + i] = 4.0 / (1.0 + i);
    expected += (0.3 * i) * (0.3 * i) + std::pow(std::sqrt(1.0 + i) - std::sqrt(4.0 / (1.0 + i)), 2);
  }
  EXPECT_NEAR(frechet_distance(s1, s2), expected, 1e-10);
}

TEST(Metrics, FrechetDistanceMatchesANumpyReference) {
  // Reference made once with /usr/bin/python3 + numpy 1.24 (no scipy here), independently of the symmetric form:
  //   i = arange(20)[:, None]; j = arange(4)[None, :]
  //   a = (sin(1 + 0.37 i (j + 1)) + 0.1 j).astype(float32); b = (cos(0.5 + 0.23 i (j + 2)) (1 + 0.2 j)).astype(float32)
  //   s1, s2 = cov(a, rowvar=False), cov(b, rowvar=False); ev = linalg.eigvals(s1 @ s2)
  //   fd = |a.mean(0) - b.mean(0)|^2 + tr(s1) + tr(s2) - 2 sum(sqrt(ev.real))
  const int64_t n = 20, d = 4;
  std::vector<float> a(n * d), b(n * d);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) {
      a[i * d + j] = static_cast<float>(std::sin(1 + 0.37 * i * (j + 1)) + 0.1 * j);
      b[i * d + j] = static_cast<float>(std::cos(0.5 + 0.23 * i * (j + 2)) * (1 + 0.2 * j));
    }
  const double reference = 0.7293820557154378;
  EXPECT_NEAR(frechet_distance(feature_stats(a.data(), n, d), feature_stats(b.data(), n, d)), reference, 1e-6);
}

TEST(Metrics, FrechetDistanceRejectsDifferentDims) {
  const auto x = gaussian_cloud(10, 3, 0, 1, 4), y = gaussian_cloud(10, 4, 0, 1, 5);
  EXPECT_THROW(frechet_distance(feature_stats(x.data(), 10, 3), feature_stats(y.data(), 10, 4)),
               std::invalid_argument);
}

TEST(Metrics, PrecisionRecallOfSeparatedCloudsIsZero) {
  const auto real = gaussian_cloud(300, 4, 0.0, 1.0, 6), fake = gaussian_cloud(300, 4, 100.0, 1.0, 7);
  const PrecisionRecall pr = precision_recall(real.data(), 300, fake.data(), 300, 4);
  EXPECT_EQ(pr.precision, 0.0);
  EXPECT_EQ(pr.recall, 0.0);
}

TEST(Metrics, PrecisionRecallOfTheSameSetIsOne) {
  const auto real = gaussian_cloud(300, 4, 0.0, 1.0, 8);
  const PrecisionRecall pr = precision_recall(real.data(), 300, real.data(), 300, 4);
  EXPECT_EQ(pr.precision, 1.0);
  EXPECT_EQ(pr.recall, 1.0);
}

TEST(Metrics, PrecisionRecallSeesACollapsedGenerator) {
  // Generated points crowd the centre of the real cloud (a tenth of its spread): all of them are realistic
  // (precision ~1), but they cover only the real points near the centre (low recall).
  const int64_t n = 1000, d = 2;
  const auto real = gaussian_cloud(n, d, 0.0, 1.0, 9), fake = gaussian_cloud(n, d, 0.0, 0.1, 10);
  const PrecisionRecall pr = precision_recall(real.data(), n, fake.data(), n, d);
  EXPECT_GT(pr.precision, 0.95);
  EXPECT_LT(pr.recall, 0.2);
  // The other way round: real as the generator.
  const PrecisionRecall swapped = precision_recall(fake.data(), n, real.data(), n, d);
  EXPECT_GT(swapped.recall, 0.95);
  EXPECT_LT(swapped.precision, 0.2);
}

TEST(Metrics, PrecisionRecallNeedsMoreThanKPoints) {
  const auto x = gaussian_cloud(3, 2, 0, 1, 11);
  EXPECT_THROW(precision_recall(x.data(), 3, x.data(), 3, 2, 3), std::invalid_argument);
}

TEST(Metrics, NmiOfIdenticalAndPermutedLabelsIsOne) {
  std::vector<int64_t> a, permuted;
  for (int64_t i = 0; i < 200; ++i) {
    a.push_back(i % 7);
    permuted.push_back((i % 7) * 3 + 100);  // a relabeling: 0 -> 100, 1 -> 103, ...
  }
  EXPECT_NEAR(normalized_mutual_information(a, a), 1.0, 1e-12);
  EXPECT_NEAR(normalized_mutual_information(a, permuted), 1.0, 1e-12);
}

TEST(Metrics, NmiOfIndependentLabelsIsZero) {
  // Every (a, b) pair occurs equally often: the joint is the product of the marginals exactly.
  std::vector<int64_t> a, b;
  for (int64_t i = 0; i < 64; ++i) {
    a.push_back(i % 4);
    b.push_back((i / 4) % 4);
  }
  EXPECT_NEAR(normalized_mutual_information(a, b), 0.0, 1e-12);
}

TEST(Metrics, NmiMatchesAHandComputedValue) {
  // /usr/bin/python3 + numpy: I(a; b) / ((H(a) + H(b)) / 2) with natural logs for these six labels.
  EXPECT_NEAR(normalized_mutual_information({0, 0, 1, 1, 2, 2}, {0, 0, 1, 1, 1, 2}), 0.7396673768007592, 1e-12);
  EXPECT_THROW(normalized_mutual_information({0, 1}, {0}), std::invalid_argument);
}

}  // namespace
}  // namespace gan::models::metrics
