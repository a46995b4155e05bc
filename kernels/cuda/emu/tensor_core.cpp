// The emulated mma.sync and cp.async (semantics in tensor_core.h).
#include "kernels/cuda/emu/tensor_core.h"

#include <cstring>
#include <string>

#include "kernels/cuda/emu/device_api.h"

namespace gan::emu {

void mma_m16n8k8_tf32(float (&d)[4], const float (&a)[4], const float (&b)[2], const float (&c)[4],
                      const std::source_location& where) {
  struct In {
    float a[4], b[2], c[4];
  };
  struct Out {
    float d[4];
  };
  In in;
  for (int i = 0; i < 4; ++i) in.a[i] = a[i], in.c[i] = c[i];
  in.b[0] = b[0], in.b[1] = b[1];
  // .aligned: every lane of the warp executes the same mma (the scheduler checks that all 32 arrive).
  const Out out = warp_collective<In, Out>(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", 0xffffffffu, in,
      [](LaneInputs<In> ins, LaneOutputs<Out> outs, unsigned) {
        float A[16][8], B[8][8], C[16][8];
        for (unsigned lane = 0; lane < 32; ++lane) {
          const unsigned g = lane >> 2, t = lane & 3;
          const In& f = ins[lane];
          A[g][t] = tf32_truncate(f.a[0]);
          A[g + 8][t] = tf32_truncate(f.a[1]);
          A[g][t + 4] = tf32_truncate(f.a[2]);
          A[g + 8][t + 4] = tf32_truncate(f.a[3]);
          B[t][g] = tf32_truncate(f.b[0]);
          B[t + 4][g] = tf32_truncate(f.b[1]);
          C[g][2 * t] = f.c[0];
          C[g][2 * t + 1] = f.c[1];
          C[g + 8][2 * t] = f.c[2];
          C[g + 8][2 * t + 1] = f.c[3];
        }
        float D[16][8];
        for (int m = 0; m < 16; ++m)
          for (int n = 0; n < 8; ++n) {
            double s = C[m][n];
            for (int k = 0; k < 8; ++k) s += double(A[m][k]) * double(B[k][n]);
            D[m][n] = static_cast<float>(s);
          }
        for (unsigned lane = 0; lane < 32; ++lane) {
          const unsigned g = lane >> 2, t = lane & 3;
          Out& o = outs[lane];
          o.d[0] = D[g][2 * t];
          o.d[1] = D[g][2 * t + 1];
          o.d[2] = D[g + 8][2 * t];
          o.d[3] = D[g + 8][2 * t + 1];
        }
      },
      where);
  for (int i = 0; i < 4; ++i) d[i] = out.d[i];
}

void cp_async(void* dst, const void* src, int bytes, int src_bytes, const std::source_location& where) {
  if ((bytes != 4 && bytes != 8 && bytes != 16) || src_bytes < 0 || src_bytes > bytes)
    detail::kernel_error(("cp.async of " + std::to_string(bytes) + " bytes with src-size " +
                          std::to_string(src_bytes) + " (4, 8 or 16 bytes, src-size at most that)")
                             .c_str(),
                         where);
  if (reinterpret_cast<uintptr_t>(dst) % bytes != 0 || (src_bytes > 0 && reinterpret_cast<uintptr_t>(src) % bytes != 0))
    detail::kernel_error(("cp.async of " + std::to_string(bytes) + " bytes from or to an address not aligned to " +
                          std::to_string(bytes))
                             .c_str(),
                         where);
  detail::AsyncCopies& q = detail::async_copies("cp.async");
  detail::AsyncCopy c{};
  c.dst = static_cast<unsigned char*>(dst);
  c.bytes = bytes;
  if (src_bytes > 0) std::memcpy(c.data, src, static_cast<size_t>(src_bytes));
  q.copies.push_back(c);
  std::memset(dst, 0xFF, static_cast<size_t>(bytes));  // not there yet: a premature read sees NaN
}

void cp_async_commit_group() {
  detail::AsyncCopies& q = detail::async_copies("cp.async.commit_group");
  q.group_ends.push_back(q.copies.size());  // an empty group is allowed, as in the ISA
}

void cp_async_wait_group(int n) {
  detail::AsyncCopies& q = detail::async_copies("cp.async.wait_group");
  const size_t groups = q.group_ends.size();
  if (groups <= static_cast<size_t>(n)) return;  // at most n pending already
  const size_t retire = groups - static_cast<size_t>(n), end = q.group_ends[retire - 1];
  for (size_t i = 0; i < end; ++i) {
    const detail::AsyncCopy& c = q.copies[i];
    std::memcpy(c.dst, c.data, static_cast<size_t>(c.bytes));  // zero-filled past src-size at issue
  }
  q.copies.erase(q.copies.begin(), q.copies.begin() + static_cast<std::ptrdiff_t>(end));
  q.group_ends.erase(q.group_ends.begin(), q.group_ends.begin() + static_cast<std::ptrdiff_t>(retire));
  for (size_t& e : q.group_ends) e -= end;
}

}  // namespace gan::emu
