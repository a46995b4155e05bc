// Sample-quality measures computed from feature vectors and labels, with no engine types: the Frechet distance
// (FID's formula on any features), precision and recall over k-NN manifolds (Kynkaanniemi et al. 2019) and the
// normalized mutual information between two labelings. `gan eval` feeds them the penultimate features of the
// Fashion-MNIST classifier (models/classifier.h).
//
// Features are row-major float arrays [n, dim]; statistics are accumulated in double.
#pragma once

#include <cstdint>
#include <vector>

namespace gan::models::metrics {

// Mean [dim] and covariance [dim, dim] (unbiased, divided by n - 1, as numpy.cov and FID do) of n feature rows.
struct FeatureStats {
  int64_t dim = 0;
  int64_t count = 0;
  std::vector<double> mean;
  std::vector<double> cov;  // row-major dim x dim
};
FeatureStats feature_stats(const float* features, int64_t n, int64_t dim);

// Eigen-decomposition of a symmetric matrix a [n, n] (row-major) by LAPACK's dsyevd (divide and conquer, from the
// linked OpenBLAS), in double: eigenvalues ascending in `values`, eigenvectors as the columns of `vectors`
// [n, n]. Only the upper triangle of `a` is read. Throws std::runtime_error when LAPACK reports a failure.
void symmetric_eigen(const std::vector<double>& a, int64_t n, std::vector<double>& values,
                     std::vector<double>& vectors);

// d^2 = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2), the Frechet distance between the Gaussians
// with these means and covariances (Dowson and Landau 1982; FID, Heusel et al. 2017). The matrix square roots
// come from symmetric eigen-decompositions (negative round-off eigenvalues clamped to 0), so unlike scipy's
// sqrtm there is no complex part to drop. Throws std::invalid_argument when the dims differ.
double frechet_distance(const FeatureStats& a, const FeatureStats& b);

// Improved precision and recall (Kynkaanniemi et al. 2019): each set's manifold is the union of balls around its
// points with radius the distance to the point's k-th nearest neighbour in the same set (the point itself not
// counted). precision = fraction of generated points inside the real manifold; recall = fraction of real points
// inside the generated manifold. Squared Euclidean distances come from BLAS (|a|^2 + |b|^2 - 2 a.b) in blocks,
// so 10000 x 10000 pairs of 128-d features take seconds and little memory.
struct PrecisionRecall {
  double precision = 0;
  double recall = 0;
};
PrecisionRecall precision_recall(const float* real, int64_t n_real, const float* fake, int64_t n_fake, int64_t dim,
                                 int k = 3);

// NMI(a, b) = I(a; b) / ((H(a) + H(b)) / 2) with natural logs: scikit-learn's normalized_mutual_info_score with
// its default arithmetic averaging. 1 when one labeling is a relabeling of the other, ~0 for independent ones;
// 1 when both are constant (as scikit-learn). Labels are any integers. Throws when the sizes differ or are 0.
double normalized_mutual_information(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

}  // namespace gan::models::metrics
