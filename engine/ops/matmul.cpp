// matmul through the GEMM kernel (OpenBLAS on the CPU). A transposed view is passed to GEMM as "transposed"
// instead of being copied, which is what makes the backward (g @ b^T, a^T @ g) copy-free.
#include <algorithm>
#include <stdexcept>

#include "engine/ops.h"
#include "engine/ops/op_helpers.h"
#include "kernels/gemm.h"

namespace gan {

namespace {

// How GEMM can read a [rows, cols] matrix with strides (s0, s1): row-major with leading dim s0, or as the
// transpose of a row-major [cols, rows] matrix with leading dim s1. Anything else needs a copy.
struct MatrixArg {
  bool ok = false;
  bool trans = false;
  int64_t ld = 0;
};

MatrixArg as_gemm_arg(int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
  if ((s1 == 1 || cols <= 1) && (s0 >= std::max<int64_t>(cols, 1) || rows <= 1))
    return {true, false, std::max<int64_t>({s0, cols, 1})};
  if ((s0 == 1 || rows <= 1) && (s1 >= std::max<int64_t>(rows, 1) || cols <= 1))
    return {true, true, std::max<int64_t>({s1, rows, 1})};
  return {};
}

// out[b] = a[b] @ bm[b]; a: [B, M, K], bm: [B, K, N] (batch stride 0 for a broadcast operand).
Tensor gemm_batched(const char* name, const Tensor& a_in, const Tensor& b_in, int64_t B, bool a_batched,
                    bool b_batched) {
  const int64_t M = a_in.shape()[a_in.dim() - 2], K = a_in.shape()[a_in.dim() - 1];
  const int64_t N = b_in.shape()[b_in.dim() - 1];
  auto prepare = [&](const Tensor& t, int64_t rows, int64_t cols, MatrixArg& arg) {
    const int64_t s0 = t.strides()[t.dim() - 2], s1 = t.strides()[t.dim() - 1];
    arg = as_gemm_arg(rows, cols, s0, s1);
    if (arg.ok) return t;
    Tensor c = t.detach().contiguous();
    arg = as_gemm_arg(rows, cols, c.strides()[c.dim() - 2], c.strides()[c.dim() - 1]);
    return c;
  };
  MatrixArg aa, ba;
  const Tensor a = prepare(a_in, M, K, aa);
  const Tensor b = prepare(b_in, K, N, ba);
  const int64_t a_bs = a_batched ? a.strides()[0] : 0, b_bs = b_batched ? b.strides()[0] : 0;
  Shape out_shape = (a_batched || b_batched) ? Shape{B, M, N} : Shape{M, N};
  Tensor out = empty(out_shape, a.dtype(), a.device());
  GAN_DISPATCH_FLOATING(a.dtype(), name, [&] {
    const scalar_t* pa = a.data<scalar_t>();
    const scalar_t* pb = b.data<scalar_t>();
    scalar_t* po = out.data<scalar_t>();
    for (int64_t i = 0; i < B; ++i)
      GAN_KERNEL(a.device(), name, gemm<scalar_t>, aa.trans, ba.trans, M, N, K, scalar_t(1), pa + i * a_bs, aa.ld,
                 pb + i * b_bs, ba.ld, scalar_t(0), po + i * M * N, std::max<int64_t>(N, 1));
  });
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  const char* name = "matmul";
  detail::check_floating(name, a);
  detail::check_floating(name, b);
  detail::check_same_dtype(name, a, b);
  detail::check_same_device(name, a, b);
  const bool ok_dims = (a.dim() == 2 || a.dim() == 3) && (b.dim() == 2 || b.dim() == 3) &&
                       !(a.dim() == 2 && b.dim() == 3);
  if (!ok_dims)
    throw std::invalid_argument("matmul: supports [M, K] x [K, N], [B, M, K] x [B, K, N] and [B, M, K] x [K, N]; got " +
                                shape_str(a.shape()) + " and " + shape_str(b.shape()));
  const int64_t K = a.shape()[a.dim() - 1];
  if (b.shape()[b.dim() - 2] != K || (a.dim() == 3 && b.dim() == 3 && a.shape()[0] != b.shape()[0]))
    throw std::invalid_argument("matmul: shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                                " cannot be multiplied");
  const int64_t B = a.dim() == 3 ? a.shape()[0] : 1;
  Tensor out = gemm_batched(name, a, b, B, a.dim() == 3, b.dim() == 3);
  return record(name, {a, b}, out, [a, b](const Tensor& g, const Tensor&) {
    Tensor ga, gb;
    if (a.requires_grad()) ga = matmul(g, transpose(b, -1, -2));
    if (b.requires_grad()) {
      if (a.dim() == 3 && b.dim() == 2) {
        // b was shared by every batch: its gradient sums over the batch, one GEMM over [B*M, K]^T x [B*M, N].
        const int64_t K = a.shape()[2], N = b.shape()[1];
        gb = matmul(transpose(reshape(a, {-1, K}), 0, 1), reshape(g, {-1, N}));
      } else {
        gb = matmul(transpose(a, -1, -2), g);
      }
    }
    return std::vector<Tensor>{ga, gb};
  });
}

}  // namespace gan
