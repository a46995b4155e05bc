// CPU GEMM: OpenBLAS's sgemm/dgemm.
//
// Math mode (kernels/math_mode.h): in Bf16 a float GEMM multiplies copies of A and B rounded to bfloat16, so it
// computes the products a BF16 tensor core computes (exact in FP32) and sums them in FP32; Fp32 and Tf32 are
// strict here (the CPU has no TF32 arithmetic). Doubles are always strict.
//
// Threads: the other CPU kernels parallelize with OpenMP. The build links OpenBLAS's OpenMP flavour when it is
// installed (CMakeLists.txt), so a GEMM runs on the same OpenMP threads as everything else. A pthread OpenBLAS
// keeps its own pool instead, whose threads and OpenMP's spin-wait against each other for the same cores (twice
// the time of a DCGAN step on 2 cores); with that flavour we make OpenBLAS single-threaded and split large GEMMs
// over OpenMP ourselves, by blocks of C's columns (or rows), each block one sequential OpenBLAS call. Every
// element of C is still one dot product over K in OpenBLAS's order, so the split does not change results.
#include "kernels/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/math_mode.h"

namespace gan::kernels::cpu {
namespace {

// True when OpenBLAS has its own thread pool (pthread flavour); it is then set to one thread, once.
bool split_over_openmp() {
  static const bool split = [] {
    if (openblas_get_parallel() != 1) return false;  // 0: sequential, 1: pthreads, 2: OpenMP
    openblas_set_num_threads(1);
    return true;
  }();
  return split;
}

// Below this many multiply-adds a GEMM stays on one thread.
constexpr double kSplitMacs = 1 << 18;

template <typename T, typename Call>
void gemm_blocks(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda, const T* B,
                 int64_t ldb, T* C, int64_t ldc, Call call) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (!split_over_openmp() || threads <= 1 || static_cast<double>(M) * N * K < kSplitMacs) {
    call(M, N, A, B, C);
    return;
  }
  const bool by_cols = N >= M;  // split the larger of C's dimensions
  const int64_t extent = by_cols ? N : M;
  const int64_t block = std::max<int64_t>(16, ((extent + threads - 1) / threads + 15) / 16 * 16);
  const int64_t blocks = (extent + block - 1) / block;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t lo = i * block, n = std::min(extent, lo + block) - lo;
    if (by_cols)  // C[:, lo:lo+n] = op(A) op(B)[:, lo:lo+n]
      call(M, n, A, B + (tb ? lo * ldb : lo), C + lo);
    else  // C[lo:lo+n, :] = op(A)[lo:lo+n, :] op(B)
      call(n, N, A + (ta ? lo : lo * lda), B, C + lo * ldc);
  }
  (void)K;
}

// The stored rows x cols matrix X (row stride ld) with every element rounded to bfloat16, packed (row stride cols).
std::vector<float> bf16_copy(const float* X, int64_t rows, int64_t cols, int64_t ld) {
  std::vector<float> out(static_cast<size_t>(rows * cols));
#pragma omp parallel for schedule(static) if (rows * cols >= (1 << 16) && !omp_in_parallel())
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = bf16_round(X[r * ld + c]);
  return out;
}

}  // namespace

template <>
void gemm<float>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  std::vector<float> a16, b16;
  if (float_math() == FloatMath::Bf16 && K > 0) {
    a16 = bf16_copy(A, ta ? K : M, ta ? M : K, lda);
    b16 = bf16_copy(B, tb ? N : K, tb ? K : N, ldb);
    A = a16.data(), lda = ta ? M : K;
    B = b16.data(), ldb = tb ? K : N;
  }
  gemm_blocks<float>(ta, tb, M, N, K, A, lda, B, ldb, C, ldc,
                     [&](int64_t m, int64_t n, const float* a, const float* b, float* c) {
                       cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                                   m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
                     });
}

template <>
void gemm<double>(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
                  const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  gemm_blocks<double>(ta, tb, M, N, K, A, lda, B, ldb, C, ldc,
                      [&](int64_t m, int64_t n, const double* a, const double* b, double* c) {
                        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                                    m, n, K, alpha, a, lda, b, ldb, beta, c, ldc);
                      });
}

}  // namespace gan::kernels::cpu
