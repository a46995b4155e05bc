// The CUDA kernels of the basic families (kernels/cuda/elementwise.cu, reduce.cu, index.cu, gemm.cu, random.cu)
// against their CPU twins, on raw buffers: the same inputs and layouts go to kernels::cpu::f on host memory and
// to kernels::cuda::f on device memory, and the outputs must agree.
//
// Agreement demanded: bit-identical where both sides do the same correctly rounded IEEE operations in the same
// order (arithmetic, comparisons, selects, copies, sqrt, max/argmax, gathers, index_add, the per-output sums of
// the thread-per-output plan, and every Philox fill, normals included); a few ulp where libm and CUDA's libdevice
// differ (exp, log, tanh, sigmoid, softplus, pow); a summation-order tolerance for the tree sums and GEMM.
// Shapes are odd (no multiple of a block or a vector width), operands transposed, broadcast (stride 0) or
// misaligned by one element (to leave the 128-bit path), and outputs strided inside a larger buffer whose
// untouched elements must keep their sentinel. Without a usable GPU every test skips with one message.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "gpu_test_util.h"

#if defined(GAN_WITH_CUDA) && GAN_WITH_CUDA

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/runtime.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/index.h"
#include "kernels/random.h"
#include "kernels/reduce.h"

namespace gan::testing {
namespace {

namespace k = gan::kernels;
namespace kc = gan::kernels::cuda;
using k::Layout;

// ---- buffers and layouts ----------------------------------------------------------------------------------

// A device copy of a host vector; download() brings the whole buffer back.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<T>& host) : n_(host.size()) {
    ptr_ = static_cast<T*>(kc::device_alloc(std::max<size_t>(n_, 1) * sizeof(T)));
    if (n_) kc::memcpy_h2d(ptr_, host.data(), n_ * sizeof(T));
  }
  ~DeviceBuffer() { kc::device_free(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  T* get() { return ptr_; }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    if (n_) kc::memcpy_d2h(host.data(), ptr_, n_ * sizeof(T));
    return host;
  }

 private:
  size_t n_;
  T* ptr_ = nullptr;
};

Layout make_layout(std::vector<int64_t> shape, std::vector<int64_t> strides) {
  Layout l;
  l.ndim = static_cast<int>(shape.size());
  for (int d = 0; d < l.ndim; ++d) {
    l.shape[d] = shape[d];
    l.strides[d] = strides[d];
  }
  return l;
}

Layout contiguous(std::vector<int64_t> shape) {
  std::vector<int64_t> st(shape.size());
  int64_t s = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    st[d] = s;
    s *= shape[d];
  }
  return make_layout(shape, st);
}

// Elements a layout can address: 1 + the largest offset.
int64_t extent(const Layout& l) {
  int64_t e = 1;
  for (int d = 0; d < l.ndim; ++d) e += (l.shape[d] - 1) * l.strides[d];
  return l.numel() == 0 ? 0 : e;
}

template <typename T>
std::vector<T> random_values(size_t n, uint32_t seed, double lo = -3.0, double hi = 3.0) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

// A few special values at fixed places: NaN, infinities, signed zeros, ties for comparisons.
template <typename T>
void sprinkle_specials(std::vector<T>& v) {
  const T specials[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                        -std::numeric_limits<T>::infinity(), T(0), -T(0), T(1), T(-1), T(0.5)};
  for (size_t i = 0; i < v.size(); i += 97) v[i] = specials[(i / 97) % 8];
}

// ---- comparisons --------------------------------------------------------------------------------------------

// Exact: equal bits, except that any NaN matches any NaN (payloads are not part of the contract).
template <typename T>
bool same(T a, T b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <typename T>
::testing::AssertionResult all_same(const std::vector<T>& gpu, const std::vector<T>& cpu, const std::string& what) {
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < cpu.size(); ++i)
    if (!same(gpu[i], cpu[i]) && bad++ == 0) first = i;
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << cpu.size()
                                       << " elements differ from the CPU, first at " << first << ": gpu "
                                       << gpu[first] << " vs cpu " << cpu[first];
}

// Close: |gpu - cpu| <= rel * |cpu| + abs, NaN matching NaN and infinities matching exactly.
template <typename T>
::testing::AssertionResult all_close(const std::vector<T>& gpu, const std::vector<T>& cpu, double rel, double abs,
                                     const std::string& what) {
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < cpu.size(); ++i) {
    const double g = gpu[i], c = cpu[i];
    bool ok;
    if (std::isnan(c) || std::isnan(g) || std::isinf(c) || std::isinf(g))
      ok = same(gpu[i], cpu[i]);
    else
      ok = std::abs(g - c) <= rel * std::abs(c) + abs;
    if (!ok && bad++ == 0) first = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << cpu.size()
                                       << " elements differ from the CPU beyond rel " << rel << " abs " << abs
                                       << ", first at " << first << ": gpu " << gpu[first] << " vs cpu "
                                       << cpu[first];
}

// Ulp-scale tolerance for functions whose libm and libdevice versions may round differently.
template <typename T>
constexpr double kUlps = std::is_same_v<T, float> ? 4e-6 : 1e-14;

template <typename T>
class CudaKernels : public CudaTest {};
class CudaKernelsUntyped : public CudaTest {};
using FloatTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaKernels, FloatTypes);

// ---- element-wise -----------------------------------------------------------------------------------------------

// Operand geometries over one logical shape: each gives the input and output layouts (output possibly strided
// inside a larger buffer) and a name.
struct Geometry {
  std::string name;
  Layout in, in2, out;
  int64_t misalign = 0;  // elements every pointer is shifted by
};

std::vector<Geometry> geometries() {
  std::vector<Geometry> g;
  g.push_back({"contiguous odd", contiguous({10007}), contiguous({10007}), contiguous({10007}), 0});
  g.push_back({"contiguous misaligned", contiguous({3, 1001}), contiguous({3, 1001}), contiguous({3, 1001}), 1});
  // [37, 53] read transposed from a [53, 37] buffer; the second operand broadcast along dim 0.
  g.push_back({"transposed + broadcast", make_layout({37, 53}, {1, 37}), make_layout({37, 53}, {0, 1}),
               contiguous({37, 53}), 0});
  // A [5, 7, 9] output written with stride 2 in its last dim and padded rows; inputs broadcast in the middle.
  g.push_back({"strided output", make_layout({5, 7, 9}, {9, 0, 1}), make_layout({5, 7, 9}, {63, 9, 1}),
               make_layout({5, 7, 9}, {7 * 20, 20, 2}), 0});
  // Up to kMaxDims dims, with size-1 dims and a broadcast scalar operand.
  g.push_back({"8 dims", contiguous({2, 1, 3, 2, 1, 5, 3, 2}), make_layout({2, 1, 3, 2, 1, 5, 3, 2}, {0, 0, 0, 0, 0, 0, 0, 0}),
               make_layout({2, 1, 3, 2, 1, 5, 3, 2}, {1, 7, 2, 6, 5, 12, 60, 180}), 0});
  return g;
}

struct UnaryCase {
  k::UnaryOp op;
  k::UnaryParams params;
  bool exact;
};

std::vector<UnaryCase> unary_cases() {
  using U = k::UnaryOp;
  return {{U::Neg, {}, true},          {U::Exp, {}, false},           {U::Log, {}, false},
          {U::Sqrt, {}, true},         {U::Abs, {}, true},            {U::Sign, {}, true},
          {U::Relu, {}, true},         {U::LeakyRelu, {0.2, 0}, true}, {U::Tanh, {}, false},
          {U::Sigmoid, {}, false},     {U::Softplus, {}, false},      {U::Pow, {2.0, 0}, true},
          {U::Pow, {3.0, 0}, false},   {U::Pow, {0.5, 0}, false},     {U::Clamp, {-0.5, 0.7}, true},
          {U::AddScalar, {1.25, 0}, true}, {U::MulScalar, {-3.0, 0}, true}, {U::GtScalar, {0.1, 0}, true},
          {U::GeScalar, {0.5, 0}, true}, {U::LtScalar, {0.1, 0}, true}, {U::LeScalar, {0.5, 0}, true},
          {U::Fill, {2.5, 0}, true}};
}

TYPED_TEST(CudaKernels, UnaryMatchesCpu) {
  using T = TypeParam;
  for (const Geometry& g : geometries()) {
    const std::vector<T> sentinel(static_cast<size_t>(extent(g.out) + g.misalign), T(-777));
    std::vector<T> in = random_values<T>(static_cast<size_t>(extent(g.in) + g.misalign), 1);
    sprinkle_specials(in);
    DeviceBuffer<T> din(in);
    for (const UnaryCase& c : unary_cases()) {
      const std::string what = std::string(k::unary_op_name(c.op)) + "(" + std::to_string(c.params.p0) + ") " + g.name;
      std::vector<T> ref = sentinel;
      k::cpu::unary<T>(c.op, c.params, in.data() + g.misalign, g.in, ref.data() + g.misalign, g.out);
      DeviceBuffer<T> dout(sentinel);
      kc::unary<T>(c.op, c.params, din.get() + g.misalign, g.in, dout.get() + g.misalign, g.out);
      const std::vector<T> got = dout.download();
      if (c.exact)
        EXPECT_TRUE(all_same(got, ref, what));
      else
        EXPECT_TRUE(all_close(got, ref, kUlps<T>, 0.0, what));
    }
  }
}

TYPED_TEST(CudaKernels, UnaryInPlace) {
  using T = TypeParam;
  std::vector<T> x = random_values<T>(4099, 2);
  const Layout l = contiguous({4099});
  DeviceBuffer<T> d(x);
  k::cpu::unary<T>(k::UnaryOp::LeakyRelu, {0.01, 0}, x.data(), l, x.data(), l);
  kc::unary<T>(k::UnaryOp::LeakyRelu, {0.01, 0}, d.get(), l, d.get(), l);
  EXPECT_TRUE(all_same(d.download(), x, "in-place leaky_relu"));
}

TYPED_TEST(CudaKernels, BinaryAndWhereMatchCpu) {
  using T = TypeParam;
  using B = k::BinaryOp;
  const B ops[] = {B::Add, B::Sub, B::Mul, B::Div, B::Maximum, B::Minimum, B::Gt, B::Ge, B::Lt, B::Le, B::Eq};
  for (const Geometry& g : geometries()) {
    const std::vector<T> sentinel(static_cast<size_t>(extent(g.out) + g.misalign), T(-777));
    std::vector<T> a = random_values<T>(static_cast<size_t>(extent(g.in) + g.misalign), 3);
    std::vector<T> b = random_values<T>(static_cast<size_t>(extent(g.in2) + g.misalign), 4);
    sprinkle_specials(a);
    for (size_t i = 5; i < b.size(); i += 13) b[i] = a[std::min(i, a.size() - 1)];  // ties for the comparisons
    DeviceBuffer<T> da(a), db(b);
    for (B op : ops) {
      const std::string what = std::string(k::binary_op_name(op)) + " " + g.name;
      std::vector<T> ref = sentinel;
      k::cpu::binary<T>(op, a.data() + g.misalign, g.in, b.data() + g.misalign, g.in2, ref.data() + g.misalign,
                        g.out);
      DeviceBuffer<T> dout(sentinel);
      kc::binary<T>(op, da.get() + g.misalign, g.in, db.get() + g.misalign, g.in2, dout.get() + g.misalign, g.out);
      EXPECT_TRUE(all_same(dout.download(), ref, what));  // one correctly rounded operation: exact
    }
    // where(cond = b > 0, a, b), cond read through the second geometry
    std::vector<T> cond(b.size());
    for (size_t i = 0; i < b.size(); ++i) cond[i] = b[i] > T(0) ? T(1) : T(0);
    DeviceBuffer<T> dc(cond);
    std::vector<T> ref = sentinel;
    k::cpu::where<T>(cond.data() + g.misalign, g.in2, a.data() + g.misalign, g.in, b.data() + g.misalign, g.in2,
                     ref.data() + g.misalign, g.out);
    DeviceBuffer<T> dout(sentinel);
    kc::where<T>(dc.get() + g.misalign, g.in2, da.get() + g.misalign, g.in, db.get() + g.misalign, g.in2,
                 dout.get() + g.misalign, g.out);
    EXPECT_TRUE(all_same(dout.download(), ref, "where " + g.name));
  }
}

TYPED_TEST(CudaKernels, BinaryInPlaceAccumulate) {
  using T = TypeParam;
  std::vector<T> a = random_values<T>(1 << 16, 5), b = random_values<T>(1 << 16, 6);
  const Layout l = contiguous({1 << 16});
  DeviceBuffer<T> da(a), db(b);
  k::cpu::binary<T>(k::BinaryOp::Add, a.data(), l, b.data(), l, a.data(), l);
  kc::binary<T>(k::BinaryOp::Add, da.get(), l, db.get(), l, da.get(), l);
  EXPECT_TRUE(all_same(da.download(), a, "a += b"));
}

template <typename S, typename D>
void check_copy(const Geometry& g) {
  std::vector<S> src(static_cast<size_t>(extent(g.in) + g.misalign));
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> dist(-1000.0, 1000.0);
  for (S& x : src) x = static_cast<S>(dist(rng));  // fractional values exercise float -> int64 truncation
  const std::vector<D> sentinel(static_cast<size_t>(extent(g.out) + g.misalign), D(-777));
  std::vector<D> ref = sentinel;
  k::cpu::copy<S, D>(src.data() + g.misalign, g.in, ref.data() + g.misalign, g.out);
  DeviceBuffer<S> ds(src);
  DeviceBuffer<D> dd(sentinel);
  kc::copy<S, D>(ds.get() + g.misalign, g.in, dd.get() + g.misalign, g.out);
  const std::vector<D> got = dd.download();
  size_t bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) bad += std::memcmp(&got[i], &ref[i], sizeof(D)) != 0;
  EXPECT_EQ(bad, 0u) << "copy " << sizeof(S) << "->" << sizeof(D) << " bytes, " << g.name;
}

TEST_F(CudaKernelsUntyped, CopyAllDtypePairsMatchesCpu) {
  for (const Geometry& g : geometries()) {
    check_copy<float, float>(g);
    check_copy<float, double>(g);
    check_copy<float, int64_t>(g);
    check_copy<double, float>(g);
    check_copy<double, double>(g);
    check_copy<double, int64_t>(g);
    check_copy<int64_t, float>(g);
    check_copy<int64_t, double>(g);
    check_copy<int64_t, int64_t>(g);
  }
}

TYPED_TEST(CudaKernels, RejectsLayoutsOfDifferentShapes) {
  using T = TypeParam;
  DeviceBuffer<T> d(std::vector<T>(64, T(1)));
  EXPECT_THROW(kc::unary<T>(k::UnaryOp::Neg, {}, d.get(), contiguous({8, 8}), d.get(), contiguous({4, 16})),
               std::invalid_argument);
}

// ---- reductions -----------------------------------------------------------------------------------------------

struct SumCase {
  std::string name;
  Layout kept, red;  // over one input buffer
  bool exact;        // thread-per-output plan: same order as the CPU
};

std::vector<SumCase> sum_cases() {
  std::vector<SumCase> c;
  // everything into one value (chunked block plan, two passes)
  c.push_back({"all of 2^20+7", make_layout({}, {}), contiguous({(1 << 20) + 7}), false});
  // row sums of [257, 1031] (block per output)
  c.push_back({"rows", make_layout({257}, {1031}), make_layout({1031}, {1}), false});
  // column sums of [1031, 2049] (thread per output, exact)
  c.push_back({"columns", make_layout({2049}, {1}), make_layout({1031}, {2049}), true});
  // per-channel sums of NCHW [5, 7, 33, 17] over N, H, W
  c.push_back({"channels", make_layout({7}, {33 * 17}), make_layout({5, 33, 17}, {7 * 33 * 17, 17, 1}), false});
  // transposed input: sums over dim 0 of a [301, 129] view with strides [1, 301]
  c.push_back({"transposed", make_layout({129}, {301}), make_layout({301}, {1}), false});
  // a few elements per output (thread per output, exact), 3-d reduced with odometer carries
  c.push_back({"small", make_layout({11, 13}, {13 * 2 * 3 * 5, 1}), make_layout({2, 3, 5}, {13, 13 * 2 * 5, 13 * 2}),
               true});
  // empty reduction: zeros
  c.push_back({"empty", make_layout({9}, {1}), make_layout({0}, {9}), true});
  return c;
}

int64_t input_extent(const SumCase& c) {
  return std::max<int64_t>(1, extent(c.kept) + extent(c.red) - 1);
}

TYPED_TEST(CudaKernels, SumMatchesCpuAndIsDeterministic) {
  using T = TypeParam;
  for (const SumCase& c : sum_cases()) {
    const std::vector<T> x = random_values<T>(static_cast<size_t>(input_extent(c)), 11, -1.0, 2.0);
    const size_t n_out = static_cast<size_t>(c.kept.numel());
    std::vector<T> ref(n_out, T(-777));
    k::cpu::sum<T>(x.data(), c.kept, c.red, ref.data());
    DeviceBuffer<T> dx(x), d1(std::vector<T>(n_out, T(-777))), d2(std::vector<T>(n_out, T(-555)));
    kc::sum<T>(dx.get(), c.kept, c.red, d1.get());
    kc::sum<T>(dx.get(), c.kept, c.red, d2.get());
    const std::vector<T> got = d1.download();
    EXPECT_TRUE(all_same(d2.download(), got, "rerun of sum " + c.name));
    if (c.exact) {
      EXPECT_TRUE(all_same(got, ref, "sum " + c.name));
    } else {
      // double accumulation in another order: ~1e-16 relative before the final rounding to T, so floats differ
      // by at most one rounding (2^-23 relative) and doubles by the reordering (sums here do not cancel)
      EXPECT_TRUE(all_close(got, ref, std::is_same_v<T, float> ? 2.5e-7 : 1e-12, 0.0, "sum " + c.name));
    }
  }
}

TYPED_TEST(CudaKernels, MaxAlongFirstOccurrenceAndNaN) {
  using T = TypeParam;
  struct Shape3 {
    int64_t outer, R, inner;
  };
  // thread path (inner > 1, or short rows) and warp path (inner == 1, R >= 128)
  for (const Shape3 s : {Shape3{7, 19, 11}, Shape3{13, 300, 1}, Shape3{5, 3, 1}, Shape3{3, 1000, 1}}) {
    std::vector<T> x = random_values<T>(static_cast<size_t>(s.outer * s.R * s.inner), 13);
    for (T& v : x) v = std::round(v * T(2));  // many ties
    if (s.outer > 2) {  // a NaN in row 1 (late) and two in row 2; row 0 left NaN-free
      x[(1 * s.R + s.R - 1) * s.inner] = std::numeric_limits<T>::quiet_NaN();
      x[(2 * s.R + s.R / 2) * s.inner] = std::numeric_limits<T>::quiet_NaN();
      x[(2 * s.R + s.R / 3 + 1) * s.inner] = std::numeric_limits<T>::quiet_NaN();
    }
    const size_t n = static_cast<size_t>(s.outer * s.inner);
    std::vector<T> vref(n);
    std::vector<int64_t> iref(n);
    k::cpu::max_along<T>(x.data(), s.outer, s.R, s.inner, vref.data(), iref.data());
    DeviceBuffer<T> dx(x), dv{std::vector<T>(n)};
    DeviceBuffer<int64_t> di(std::vector<int64_t>(n, -1));
    kc::max_along<T>(dx.get(), s.outer, s.R, s.inner, dv.get(), di.get());
    const std::string what = "max_along [" + std::to_string(s.outer) + ", " + std::to_string(s.R) + ", " +
                             std::to_string(s.inner) + "]";
    EXPECT_TRUE(all_same(dv.download(), vref, what + " values"));
    EXPECT_EQ(di.download(), iref) << what << " indices";
  }
}

TYPED_TEST(CudaKernels, GatherAndScatterAlong) {
  using T = TypeParam;
  const int64_t outer = 9, R = 17, inner = 23;
  const std::vector<T> x = random_values<T>(static_cast<size_t>(outer * R * inner), 17);
  const std::vector<T> src = random_values<T>(static_cast<size_t>(outer * inner), 18);
  std::vector<int64_t> idx(static_cast<size_t>(outer * inner));
  std::mt19937 rng(19);
  for (int64_t& i : idx) i = static_cast<int64_t>(rng() % R);
  std::vector<T> gref(idx.size()), sref(x.size(), T(0.5));
  k::cpu::gather_along<T>(x.data(), idx.data(), outer, R, inner, gref.data());
  k::cpu::scatter_add_along<T>(src.data(), idx.data(), outer, R, inner, sref.data());
  DeviceBuffer<T> dx(x), dsrc(src), dg(std::vector<T>(idx.size())), ds(std::vector<T>(x.size(), T(0.5)));
  DeviceBuffer<int64_t> didx(idx);
  kc::gather_along<T>(dx.get(), didx.get(), outer, R, inner, dg.get());
  kc::scatter_add_along<T>(dsrc.get(), didx.get(), outer, R, inner, ds.get());
  EXPECT_TRUE(all_same(dg.download(), gref, "gather_along"));
  EXPECT_TRUE(all_same(ds.download(), sref, "scatter_add_along"));
}

// ---- index ----------------------------------------------------------------------------------------------------

TYPED_TEST(CudaKernels, GatherRowsAndIndexAddRows) {
  using T = TypeParam;
  for (const int64_t row_len : {int64_t{1}, int64_t{37}, int64_t{1000}}) {
    const int64_t num_rows = 11, n = 301;
    const std::vector<T> table = random_values<T>(static_cast<size_t>(num_rows * row_len), 23);
    const std::vector<T> src = random_values<T>(static_cast<size_t>(n * row_len), 24);
    std::vector<int64_t> idx(static_cast<size_t>(n));
    std::mt19937 rng(25);
    for (int64_t& i : idx) i = static_cast<int64_t>(rng() % num_rows);  // many repeats
    std::vector<T> gref(src.size()), aref(table);
    k::cpu::gather_rows<T>(table.data(), row_len, idx.data(), n, gref.data());
    k::cpu::index_add_rows<T>(src.data(), idx.data(), n, row_len, aref.data());
    DeviceBuffer<T> dtable(table), dsrc(src), dg(std::vector<T>(src.size())), da(table);
    DeviceBuffer<int64_t> didx(idx);
    kc::gather_rows<T>(dtable.get(), row_len, didx.get(), n, dg.get());
    kc::index_add_rows<T>(dsrc.get(), didx.get(), n, row_len, da.get());
    const std::string what = " row_len " + std::to_string(row_len);
    EXPECT_TRUE(all_same(dg.download(), gref, "gather_rows" + what));
    // contributions in increasing i, in T, on both sides: bit-identical
    EXPECT_TRUE(all_same(da.download(), aref, "index_add_rows" + what));
  }
}

// ---- gemm -----------------------------------------------------------------------------------------------------

TYPED_TEST(CudaKernels, GemmAllTransposesMatchCpu) {
  using T = TypeParam;
  const int64_t M = 37, N = 53, K = 71, pad = 3;  // leading dimensions padded beyond the matrix width
  // Both float32 math modes: strict FP32, and TF32 tensor cores (CUBLAS_TF32_TENSOR_OP_MATH: operands rounded to a
  // 10-bit mantissa, relative error per product <= 2^-10, so 5e-3 leaves room for K = 71 terms that partly cancel).
  for (const bool tf32 : {false, true}) {
    if (tf32 && !std::is_same_v<T, float>) continue;
    const Tf32Scope mode(tf32);
    const double rel = tf32 ? 5e-3 : (std::is_same_v<T, float> ? 2e-5 : 1e-12);
    for (const bool ta : {false, true}) {
      for (const bool tb : {false, true}) {
        const int64_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
        const std::vector<T> A = random_values<T>(static_cast<size_t>((ta ? K : M) * lda), 31);
        const std::vector<T> B = random_values<T>(static_cast<size_t>((tb ? N : K) * ldb), 32);
        const std::vector<T> C0 = random_values<T>(static_cast<size_t>(M * ldc), 33);
        std::vector<T> ref = C0;
        k::cpu::gemm<T>(ta, tb, M, N, K, T(0.75), A.data(), lda, B.data(), ldb, T(-0.5), ref.data(), ldc);
        DeviceBuffer<T> dA(A), dB(B), dC(C0);
        kc::gemm<T>(ta, tb, M, N, K, T(0.75), dA.get(), lda, dB.get(), ldb, T(-0.5), dC.get(), ldc);
        const std::vector<T> got = dC.download();
        // Scale-aware tolerance: |sum of K products| can cancel, so compare against sqrt(K) * |values| ~ 3 * sqrt(K)
        const std::string what = std::string("gemm ta=") + (ta ? "1" : "0") + " tb=" + (tb ? "1" : "0") +
                                 (tf32 ? " tf32" : " fp32");
        EXPECT_TRUE(all_close(got, ref, rel, rel * 9.0 * std::sqrt(double(K)), what));
        for (int64_t i = 0; i < M; ++i)  // the padding columns of C are untouched
          for (int64_t j = N; j < ldc; ++j)
            ASSERT_TRUE(same(got[i * ldc + j], C0[i * ldc + j])) << what << " padding";
      }
    }
  }
}

// ---- random ---------------------------------------------------------------------------------------------------

TYPED_TEST(CudaKernels, PhiloxFillsAreBitIdenticalToCpu) {
  using T = TypeParam;
  const uint64_t seed = 0x0123456789abcdefull, stream_id = 0xfedcba9876543210ull;
  const uint64_t offset = 0x00000001ffffff00ull;  // the counter crosses 2^32 inside the draw
  for (const int64_t n : {int64_t{1}, int64_t{7}, int64_t{1000003}}) {
    for (const int64_t misalign : {int64_t{0}, int64_t{1}}) {
      std::vector<T> u(static_cast<size_t>(n + misalign)), z(u.size());
      k::cpu::uniform<T>(u.data() + misalign, n, seed, stream_id, offset, T(-2), T(3));
      k::cpu::normal<T>(z.data() + misalign, n, seed, stream_id, offset, T(0.5), T(2));
      DeviceBuffer<T> du(std::vector<T>(u.size())), dz(std::vector<T>(z.size()));
      kc::uniform<T>(du.get() + misalign, n, seed, stream_id, offset, T(-2), T(3));
      kc::normal<T>(dz.get() + misalign, n, seed, stream_id, offset, T(0.5), T(2));
      std::vector<T> gu = du.download(), gz = dz.download();
      const std::string what = " n=" + std::to_string(n) + " misalign=" + std::to_string(misalign);
      gu.erase(gu.begin(), gu.begin() + misalign);
      u.erase(u.begin(), u.begin() + misalign);
      gz.erase(gz.begin(), gz.begin() + misalign);
      z.erase(z.begin(), z.begin() + misalign);
      EXPECT_TRUE(all_same(gu, u, "uniform" + what));
      EXPECT_TRUE(all_same(gz, z, "normal" + what));
    }
  }
}

}  // namespace
}  // namespace gan::testing

#else  // no CUDA backend in this build

TEST(CudaKernels, SkippedWithoutCudaBackend) {
  GTEST_SKIP() << "no CUDA device: " << gan::testing::cuda_unavailable_reason();
}

#endif
