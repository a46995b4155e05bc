// The emulated mma.sync and cp.async (semantics in tensor_core.h).
#include "kernels/cuda/emu/tensor_core.h"

#include <cstring>
#include <string>

#include "kernels/cuda/emu/device_api.h"

namespace gan::emu {

namespace {

// One m16n8k8 for the whole warp: lane l's A, B and C fragments at a[l] (4), b[l] (2) and c[l] (4), its D
// fragment to d[l] (4). Every C is read before any D is written, so c and d may alias.
void mma_warp(const float* const* a, const float* const* b, const float* const* c, float* const* d) {
  double A[16][8], B[8][8], D[16][8];
  for (unsigned lane = 0; lane < 32; ++lane) {
    const unsigned g = lane >> 2, t = lane & 3;
    A[g][t] = tf32_truncate(a[lane][0]);
    A[g + 8][t] = tf32_truncate(a[lane][1]);
    A[g][t + 4] = tf32_truncate(a[lane][2]);
    A[g + 8][t + 4] = tf32_truncate(a[lane][3]);
    B[t][g] = tf32_truncate(b[lane][0]);
    B[t + 4][g] = tf32_truncate(b[lane][1]);
    D[g][2 * t] = c[lane][0];
    D[g][2 * t + 1] = c[lane][1];
    D[g + 8][2 * t] = c[lane][2];
    D[g + 8][2 * t + 1] = c[lane][3];
  }
  for (int m = 0; m < 16; ++m)
    for (int k = 0; k < 8; ++k)
      for (int n = 0; n < 8; ++n) D[m][n] += A[m][k] * B[k][n];  // in double: rounded once, below
  for (unsigned lane = 0; lane < 32; ++lane) {
    const unsigned g = lane >> 2, t = lane & 3;
    d[lane][0] = static_cast<float>(D[g][2 * t]);
    d[lane][1] = static_cast<float>(D[g][2 * t + 1]);
    d[lane][2] = static_cast<float>(D[g + 8][2 * t]);
    d[lane][3] = static_cast<float>(D[g + 8][2 * t + 1]);
  }
}

// One m16n8k16 .bf16 for the whole warp: lane l's A, B and C fragments at a[l] (4 registers of two bf16), b[l]
// (2) and c[l] (4), its D fragment to d[l] (4). Every C is read before any D is written, so c and d may alias.
void mma_warp_bf16(const uint32_t* const* a, const uint32_t* const* b, const float* const* c, float* const* d) {
  double A[16][16], B[16][8], D[16][8];
  // The two bf16 of a register: the lower k in the low half.
  const auto lo = [](uint32_t r) { return double(bf16_value(static_cast<uint16_t>(r & 0xffffu))); };
  const auto hi = [](uint32_t r) { return double(bf16_value(static_cast<uint16_t>(r >> 16))); };
  for (unsigned lane = 0; lane < 32; ++lane) {
    const unsigned g = lane >> 2, t = lane & 3;
    const uint32_t* ra = a[lane];
    A[g][2 * t] = lo(ra[0]), A[g][2 * t + 1] = hi(ra[0]);
    A[g + 8][2 * t] = lo(ra[1]), A[g + 8][2 * t + 1] = hi(ra[1]);
    A[g][2 * t + 8] = lo(ra[2]), A[g][2 * t + 9] = hi(ra[2]);
    A[g + 8][2 * t + 8] = lo(ra[3]), A[g + 8][2 * t + 9] = hi(ra[3]);
    const uint32_t* rb = b[lane];
    B[2 * t][g] = lo(rb[0]), B[2 * t + 1][g] = hi(rb[0]);
    B[2 * t + 8][g] = lo(rb[1]), B[2 * t + 9][g] = hi(rb[1]);
    D[g][2 * t] = c[lane][0];
    D[g][2 * t + 1] = c[lane][1];
    D[g + 8][2 * t] = c[lane][2];
    D[g + 8][2 * t + 1] = c[lane][3];
  }
  for (int m = 0; m < 16; ++m)
    for (int k = 0; k < 16; ++k)
      for (int n = 0; n < 8; ++n) D[m][n] += A[m][k] * B[k][n];  // products exact; rounded once, below
  for (unsigned lane = 0; lane < 32; ++lane) {
    const unsigned g = lane >> 2, t = lane & 3;
    d[lane][0] = static_cast<float>(D[g][2 * t]);
    d[lane][1] = static_cast<float>(D[g][2 * t + 1]);
    d[lane][2] = static_cast<float>(D[g + 8][2 * t]);
    d[lane][3] = static_cast<float>(D[g + 8][2 * t + 1]);
  }
}

// .aligned: every lane of the warp executes the same mma (the scheduler checks that all 32 arrive).
constexpr unsigned kWholeWarp = 0xffffffffu;
constexpr const char* kMmaName = "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32";
constexpr const char* kMmaBf16Name = "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32";

}  // namespace

namespace {

// The lanes' fragments to one warp-wide product: Warp is mma_warp (R = float, TF32) or mma_warp_bf16 (R = uint32_t,
// bf16 pairs).
template <typename R>
using WarpMma = void (*)(const R* const*, const R* const*, const float* const*, float* const*);

// One mma for the calling lane, as a warp collective named `name`.
template <typename R, WarpMma<R> Warp>
void single_mma(const char* name, float (&d)[4], const R (&a)[4], const R (&b)[2], const float (&c)[4],
                const std::source_location& where) {
  struct In {
    R a[4], b[2];
    float c[4];
  };
  struct Out {
    float d[4];
  };
  In in;
  for (int i = 0; i < 4; ++i) in.a[i] = a[i], in.c[i] = c[i];
  in.b[0] = b[0], in.b[1] = b[1];
  const Out out = warp_collective<In, Out>(
      name, kWholeWarp, in,
      [](LaneInputs<In> ins, LaneOutputs<Out> outs, unsigned) {
        const R *pa[32], *pb[32];
        const float* pc[32];
        float* pd[32];
        for (unsigned l = 0; l < 32; ++l) pa[l] = ins[l].a, pb[l] = ins[l].b, pc[l] = ins[l].c, pd[l] = outs[l].d;
        Warp(pa, pb, pc, pd);
      },
      where);
  for (int i = 0; i < 4; ++i) d[i] = out.d[i];
}

// The fm x fn mmas of a warp tile as one collective.
template <typename R, WarpMma<R> Warp>
void tile_mma(const char* name, int fm, int fn, float* acc, const R* a, const R* b,
              const std::source_location& where) {
  struct In {
    int fm, fn;
    float* acc;
    const R *a, *b;
  };
  // The lanes are parked inside this call while the last one computes, so their fragments stay where they point.
  const In in{fm, fn, acc, a, b};
  warp_collective<In, char>(
      name, kWholeWarp, in,
      [where](LaneInputs<In> ins, LaneOutputs<char>, unsigned) {
        for (unsigned l = 1; l < 32; ++l)
          if (ins[l].fm != ins[0].fm || ins[l].fn != ins[0].fn)
            detail::kernel_error("mma warp tile: lanes disagree on the tile's shape", where);
        const R *pa[32], *pb[32];
        float* pc[32];
        for (int i = 0; i < ins[0].fm; ++i)
          for (int j = 0; j < ins[0].fn; ++j) {
            for (unsigned l = 0; l < 32; ++l)
              pa[l] = ins[l].a + 4 * i, pb[l] = ins[l].b + 2 * j, pc[l] = ins[l].acc + 4 * (i * ins[l].fn + j);
            Warp(pa, pb, pc, pc);
          }
      },
      where);
}

}  // namespace

void mma_m16n8k8_tf32(float (&d)[4], const float (&a)[4], const float (&b)[2], const float (&c)[4],
                      const std::source_location& where) {
  single_mma<float, mma_warp>(kMmaName, d, a, b, c, where);
}

void mma_m16n8k8_tf32_tile(int fm, int fn, float* acc, const float* a, const float* b,
                           const std::source_location& where) {
  tile_mma<float, mma_warp>(kMmaName, fm, fn, acc, a, b, where);
}

void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const float (&c)[4],
                       const std::source_location& where) {
  single_mma<uint32_t, mma_warp_bf16>(kMmaBf16Name, d, a, b, c, where);
}

void mma_m16n8k16_bf16_tile(int fm, int fn, float* acc, const uint32_t* a, const uint32_t* b,
                            const std::source_location& where) {
  tile_mma<uint32_t, mma_warp_bf16>(kMmaBf16Name, fm, fn, acc, a, b, where);
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
  detail::AsyncCopy& c = q.copies.emplace_back();
  c.dst = static_cast<unsigned char*>(dst);
  c.bytes = bytes;
  // Fixed-size copies (this runs for every element a TF32 convolution loads): the source now, zeros past src-size,
  // and NaN (0xFF bytes) into the destination until the wait: a premature read sees NaN.
  static constexpr unsigned char kPoison[16] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                                0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  std::memset(c.data, 0, sizeof(c.data));
  if (src_bytes == bytes && bytes == 4) {
    std::memcpy(c.data, src, 4);
    std::memcpy(dst, kPoison, 4);
    return;
  }
  if (src_bytes > 0) std::memcpy(c.data, src, static_cast<size_t>(src_bytes));
  std::memcpy(dst, kPoison, static_cast<size_t>(bytes));
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
    if (c.bytes == 4)
      std::memcpy(c.dst, c.data, 4);
    else
      std::memcpy(c.dst, c.data, static_cast<size_t>(c.bytes));  // zero-filled past src-size at issue
  }
  q.copies.erase(q.copies.begin(), q.copies.begin() + static_cast<std::ptrdiff_t>(end));
  q.group_ends.erase(q.group_ends.begin(), q.group_ends.begin() + static_cast<std::ptrdiff_t>(retire));
  for (size_t& e : q.group_ends) e -= end;
}

}  // namespace gan::emu
