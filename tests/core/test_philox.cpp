// Philox4x32-10 and the RNG built on it: known answers, the documented counter layout, statistics,
// determinism, offset bookkeeping, state save/restore, thread-count independence.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <set>
#include <thread>
#include <vector>

#include "engine/rng.h"
#include "kernels/philox.h"
#include "kernels/random.h"

namespace {

using gan::Generator;
using gan::kernels::Philox4x32;
using gan::kernels::philox4x32_10;

template <typename T>
bool bit_equal(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// ---- known answers ----------------------------------------------------------------------------------
// counter[4], key[2] -> output[4]. The first three are the philox4x32 10 lines of Random123's
// kat_vectors, as copied into D. E. Shaw Research's Random123-Boost (libs/random/test/test_philox.cpp,
// "cut-and-pasted from the kat_vectors file in the original Random123 distribution"). The rest are
// from the longer generated table in Random123's examples/kat_vectors (single-bit and pi-digit inputs),
// which exercise each counter word and each key word separately.
struct Kat {
  uint32_t ctr[4];
  uint32_t key[2];
  uint32_t out[4];
};

constexpr Kat kKats[] = {
    // Random123 kat_vectors: all zero, all ones, pi digits.
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    // Random123 examples/kat_vectors.
    {{0x00000001, 0x00000000, 0x00000000, 0x00000000}, {0x00000001, 0x00000000},
     {0xac08141b, 0xdfc5ccbe, 0x79c07a47, 0xa7f66093}},
    {{0x00000000, 0x00000000, 0x00000000, 0x00000001}, {0x00000000, 0x00000001},
     {0x96b27e8c, 0x28826d0f, 0x66d958ef, 0x081509dc}},
    {{0x00000000, 0xffffffff, 0x00000000, 0x00000000}, {0x00000000, 0xffffffff},
     {0x5f9c47aa, 0x19861d86, 0xff2be81d, 0x4c7db17e}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0x00000000, 0x80000000},
     {0x63675d2c, 0x422d7c4d, 0x3145d30d, 0x3bce33a4}},
};

TEST(Philox, KnownAnswerVectors) {
  for (const Kat& k : kKats) {
    Philox4x32 c{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}};
    const Philox4x32 r = philox4x32_10(c, k.key[0], k.key[1]);
    for (int j = 0; j < 4; ++j) {
      EXPECT_EQ(r.v[j], k.out[j]) << std::hex << "ctr " << k.ctr[0] << " " << k.ctr[1] << " " << k.ctr[2]
                                  << " " << k.ctr[3] << " key " << k.key[0] << " " << k.key[1] << " word " << j;
    }
  }
}

TEST(Philox, ConstexprBlockCounts) {
  using gan::kernels::philox_blocks_normal;
  using gan::kernels::philox_blocks_uniform;
  static_assert(philox_blocks_uniform<float>(0) == 0);
  static_assert(philox_blocks_uniform<float>(1) == 1);
  static_assert(philox_blocks_uniform<float>(4) == 1);
  static_assert(philox_blocks_uniform<float>(5) == 2);
  static_assert(philox_blocks_normal<float>(9) == 3);
  static_assert(philox_blocks_uniform<double>(3) == 2);
  static_assert(philox_blocks_normal<double>(4) == 2);
  static_assert(philox_blocks_normal<double>(-1) == 0);
  SUCCEED();
}

TEST(Philox, UnitConversionsAreExactAndInRange) {
  using namespace gan::kernels;
  EXPECT_EQ(u32_to_unit_float(0u), 0.0f);
  EXPECT_EQ(u32_to_unit_float(0xffffffffu), 1.0f - std::ldexp(1.0f, -24));
  EXPECT_EQ(u32_to_open_unit_float(0u), std::ldexp(1.0f, -24));
  EXPECT_EQ(u32_to_open_unit_float(0xffffffffu), 1.0f);
  EXPECT_EQ(u32x2_to_unit_double(0u, 0u), 0.0);
  EXPECT_EQ(u32x2_to_unit_double(0xffffffffu, 0xffffffffu), 1.0 - std::ldexp(1.0, -53));
  EXPECT_EQ(u32x2_to_open_unit_double(0u, 0u), std::ldexp(1.0, -53));
  EXPECT_EQ(u32x2_to_open_unit_double(0xffffffffu, 0xffffffffu), 1.0);
  // The first word supplies the high bits of the 53-bit double.
  EXPECT_EQ(u32x2_to_unit_double(0x80000000u, 0u), 0.5);
  // Rounding would give lo + (hi - lo) * u == hi here; the half-open interval must hold.
  EXPECT_LT(unit_to_range(u32_to_unit_float(0xffffffffu), 1.0f, 2.0f), 2.0f);
  EXPECT_LT(unit_to_range(u32x2_to_unit_double(0xffffffffu, 0xffffffffu), 1.0, 2.0), 2.0);
}

// ---- counter layout -----------------------------------------------------------------------------------
// Recomputes draws straight from philox4x32_10 using the layout documented in philox.h; seed, stream and
// offset all have non-zero high halves so a swapped or dropped word would show.
constexpr uint64_t kSeed = 0x0123456789abcdefull;
constexpr uint64_t kStream = 0xfedcba9876543210ull;
constexpr uint64_t kOffset = 0x00000001fffffffeull;  // crosses a 2^32 boundary within the draw

Philox4x32 reference_block(uint64_t seed, uint64_t stream, uint64_t offset, uint64_t b) {
  const uint64_t c = offset + b;
  Philox4x32 ctr{{uint32_t(c), uint32_t(c >> 32), uint32_t(stream), uint32_t(stream >> 32)}};
  return philox4x32_10(ctr, uint32_t(seed), uint32_t(seed >> 32));
}

TEST(PhiloxLayout, FloatUniformIsWordIMod4OfBlockIDiv4) {
  const int64_t n = 23;  // partial last block
  std::vector<float> out(n);
  gan::kernels::cpu::uniform<float>(out.data(), n, kSeed, kStream, kOffset, 0.0f, 1.0f);
  for (int64_t i = 0; i < n; ++i) {
    const Philox4x32 r = reference_block(kSeed, kStream, kOffset, i / 4);
    EXPECT_EQ(out[i], float(r.v[i % 4] >> 8) * std::ldexp(1.0f, -24)) << i;
  }
}

TEST(PhiloxLayout, DoubleUniformUsesWordPairs) {
  const int64_t n = 9;
  std::vector<double> out(n);
  gan::kernels::cpu::uniform<double>(out.data(), n, kSeed, kStream, kOffset, 0.0, 1.0);
  for (int64_t i = 0; i < n; ++i) {
    const Philox4x32 r = reference_block(kSeed, kStream, kOffset, i / 2);
    const uint32_t hi = r.v[2 * (i % 2)], lo = r.v[2 * (i % 2) + 1];
    const uint64_t k = ((uint64_t(hi) << 32) | lo) >> 11;
    EXPECT_EQ(out[i], double(k) * std::ldexp(1.0, -53)) << i;
  }
}

TEST(PhiloxLayout, NormalsAreBoxMullerPairsOfABlock) {
  const int64_t nf = 11, nd = 5;
  std::vector<float> f(nf);
  std::vector<double> d(nd);
  gan::kernels::cpu::normal<float>(f.data(), nf, kSeed, kStream, kOffset, 0.0f, 1.0f);
  gan::kernels::cpu::normal<double>(d.data(), nd, kSeed, kStream, kOffset, 0.0, 1.0);
  for (int64_t i = 0; i < nf; ++i) {
    const Philox4x32 r = reference_block(kSeed, kStream, kOffset, i / 4);
    const int pair = int(i % 4) / 2;
    const double u1 = double((r.v[2 * pair] >> 8) + 1) * std::ldexp(1.0, -24);
    const double u2 = double(r.v[2 * pair + 1] >> 8) * std::ldexp(1.0, -24);
    const double rad = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * std::numbers::pi * u2;
    EXPECT_NEAR(f[i], (i % 2 == 0) ? rad * std::cos(th) : rad * std::sin(th), 1e-5) << i;
  }
  for (int64_t i = 0; i < nd; ++i) {
    const Philox4x32 r = reference_block(kSeed, kStream, kOffset, i / 2);
    const double u1 = double((((uint64_t(r.v[0]) << 32) | r.v[1]) >> 11) + 1) * std::ldexp(1.0, -53);
    const double u2 = double(((uint64_t(r.v[2]) << 32) | r.v[3]) >> 11) * std::ldexp(1.0, -53);
    const double rad = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * std::numbers::pi * u2;
    EXPECT_NEAR(d[i], (i % 2 == 0) ? rad * std::cos(th) : rad * std::sin(th), 1e-12) << i;
  }
}

TEST(PhiloxLayout, ElementDependsOnlyOnOffsetPlusIndex) {
  // Starting one block later is the same sequence shifted by one block.
  std::vector<float> a(40), b(36);
  gan::kernels::cpu::normal<float>(a.data(), 40, 7, 3, 100, 0.0f, 1.0f);
  gan::kernels::cpu::normal<float>(b.data(), 36, 7, 3, 101, 0.0f, 1.0f);
  EXPECT_TRUE(bit_equal(std::vector<float>(a.begin() + 4, a.end()), b));
  // A shorter draw is a prefix of a longer one (partial last block included).
  std::vector<double> c(10), e(7);
  gan::kernels::cpu::uniform<double>(c.data(), 10, 7, 3, 100, -1.0, 1.0);
  gan::kernels::cpu::uniform<double>(e.data(), 7, 7, 3, 100, -1.0, 1.0);
  EXPECT_TRUE(bit_equal(std::vector<double>(c.begin(), c.begin() + 7), e));
}

// ---- statistics (loose bounds: ~10 standard errors, fixed seed) ----------------------------------------
template <typename T>
class RngTyped : public ::testing::Test {};
using RealTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(RngTyped, RealTypes);

constexpr int64_t kSamples = 100000;

TYPED_TEST(RngTyped, UniformRangeMeanVariance) {
  using T = TypeParam;
  Generator g(1234);
  std::vector<T> x(kSamples);
  const T lo = T(-2), hi = T(3);
  g.fill_uniform<T>(x.data(), kSamples, lo, hi);
  double sum = 0, sq = 0;
  for (T v : x) {
    ASSERT_GE(v, lo);
    ASSERT_LT(v, hi);
    sum += v;
  }
  const double mean = sum / kSamples;
  for (T v : x) sq += (v - mean) * (v - mean);
  const double var = sq / (kSamples - 1);
  EXPECT_NEAR(mean, 0.5, 0.05);             // sd of the mean: sqrt(25/12/1e5) ~ 0.0046
  EXPECT_NEAR(var, 25.0 / 12.0, 0.1);       // sd of the variance ~ 0.006
  // Every decile is populated roughly equally.
  std::vector<int> hist(10, 0);
  for (T v : x) ++hist[std::min(9, int((v - lo) / (hi - lo) * 10))];
  for (int h : hist) EXPECT_NEAR(h, kSamples / 10, 1000);  // sd ~ 95
}

TYPED_TEST(RngTyped, NormalMeanStd) {
  using T = TypeParam;
  Generator g(99, 5);
  std::vector<T> x(kSamples);
  g.fill_normal<T>(x.data(), kSamples, T(1.5), T(2));
  double sum = 0, sq = 0;
  int64_t within_1sd = 0;
  for (T v : x) {
    ASSERT_TRUE(std::isfinite(v));
    sum += v;
  }
  const double mean = sum / kSamples;
  for (T v : x) {
    sq += (v - mean) * (v - mean);
    within_1sd += std::abs(v - 1.5) < 2.0;
  }
  const double sd = std::sqrt(sq / (kSamples - 1));
  EXPECT_NEAR(mean, 1.5, 0.06);  // sd of the mean: 2/sqrt(1e5) ~ 0.0063
  EXPECT_NEAR(sd, 2.0, 0.05);    // sd of the sd ~ 0.0045
  EXPECT_NEAR(double(within_1sd) / kSamples, 0.6827, 0.015);
}

// ---- determinism and offsets --------------------------------------------------------------------------
TYPED_TEST(RngTyped, SameSeedIsBitIdentical) {
  using T = TypeParam;
  Generator a(42, 1), b(42, 1);
  std::vector<T> xa(1001), xb(1001), ya(1001), yb(1001);
  a.fill_normal<T>(xa.data(), 1001);
  b.fill_normal<T>(xb.data(), 1001);
  a.fill_uniform<T>(ya.data(), 1001);
  b.fill_uniform<T>(yb.data(), 1001);
  EXPECT_TRUE(bit_equal(xa, xb));
  EXPECT_TRUE(bit_equal(ya, yb));
}

TYPED_TEST(RngTyped, SplitDrawEqualsOneDraw) {
  using T = TypeParam;
  constexpr int64_t pu = gan::kernels::philox_per_block_uniform<T>();
  constexpr int64_t pn = gan::kernels::philox_per_block_normal<T>();
  {
    Generator one(7), two(7);
    std::vector<T> all(9 * pu + 3), head(4 * pu), tail(5 * pu + 3);
    one.fill_uniform<T>(all.data(), int64_t(all.size()), T(-1), T(1));
    two.fill_uniform<T>(head.data(), int64_t(head.size()), T(-1), T(1));
    two.fill_uniform<T>(tail.data(), int64_t(tail.size()), T(-1), T(1));
    head.insert(head.end(), tail.begin(), tail.end());
    EXPECT_TRUE(bit_equal(all, head));
    EXPECT_EQ(one.offset(), two.offset());
  }
  {
    Generator one(7), two(7);
    std::vector<T> all(6 * pn + 1), head(2 * pn), tail(4 * pn + 1);
    one.fill_normal<T>(all.data(), int64_t(all.size()));
    two.fill_normal<T>(head.data(), int64_t(head.size()));
    two.fill_normal<T>(tail.data(), int64_t(tail.size()));
    head.insert(head.end(), tail.begin(), tail.end());
    EXPECT_TRUE(bit_equal(all, head));
  }
}

TEST(Generator, OffsetAdvancesByWholeBlocks) {
  Generator g(1);
  std::vector<float> f(5);
  std::vector<double> d(5);
  g.fill_uniform<float>(f.data(), 5);  // 2 blocks
  EXPECT_EQ(g.offset(), 2u);
  g.fill_normal<double>(d.data(), 5);  // 3 blocks
  EXPECT_EQ(g.offset(), 5u);
  g.fill_normal<float>(f.data(), 0);  // empty draw consumes nothing
  EXPECT_EQ(g.offset(), 5u);
  EXPECT_EQ(g.reserve(10), 5u);
  EXPECT_EQ(g.offset(), 15u);
}

TEST(Generator, ReserveIsThreadSafeAndDisjoint) {
  Generator g(3);
  constexpr int kThreads = 4, kPerThread = 2000;
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) got[t].push_back(g.reserve(3));
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> starts;
  for (auto& v : got) starts.insert(v.begin(), v.end());
  ASSERT_EQ(starts.size(), size_t(kThreads * kPerThread));
  uint64_t expect = 0;  // the ranges [s, s+3) tile [0, 3 * total) exactly
  for (uint64_t s : starts) {
    EXPECT_EQ(s, expect);
    expect += 3;
  }
  EXPECT_EQ(g.offset(), expect);
}

TEST(Generator, SeedAndStreamChangeTheNumbers) {
  std::vector<float> base(64), other_seed(64), other_stream(64);
  Generator(10, 0).fill_uniform<float>(base.data(), 64);
  Generator(11, 0).fill_uniform<float>(other_seed.data(), 64);
  Generator(10, 1).fill_uniform<float>(other_stream.data(), 64);
  int same_seed = 0, same_stream = 0;
  for (int i = 0; i < 64; ++i) {
    same_seed += base[i] == other_seed[i];
    same_stream += base[i] == other_stream[i];
  }
  EXPECT_LE(same_seed, 1);  // independent 24-bit values almost never collide
  EXPECT_LE(same_stream, 1);
}

TEST(Generator, StateSaveRestoreReproducesNextDraw) {
  Generator g(2024, 9);
  std::vector<float> warm(37);
  g.fill_normal<float>(warm.data(), 37);
  const Generator::State saved = g.state();
  EXPECT_EQ(saved.seed, 2024u);
  EXPECT_EQ(saved.stream, 9u);
  EXPECT_EQ(saved.offset, g.offset());

  std::vector<float> a(100), b(100), c(100);
  std::vector<double> ad(50), bd(50), cd(50);
  g.fill_normal<float>(a.data(), 100);
  g.fill_uniform<double>(ad.data(), 50);

  g.set_state(saved);
  g.fill_normal<float>(b.data(), 100);
  g.fill_uniform<double>(bd.data(), 50);
  EXPECT_TRUE(bit_equal(a, b));
  EXPECT_TRUE(bit_equal(ad, bd));

  Generator fresh(0, 0);  // restoring into another generator works as well
  fresh.set_state(saved);
  fresh.fill_normal<float>(c.data(), 100);
  fresh.fill_uniform<double>(cd.data(), 50);
  EXPECT_TRUE(bit_equal(a, c));
  EXPECT_TRUE(bit_equal(ad, cd));
  EXPECT_EQ(fresh.state(), g.state());
}

TEST(Generator, ManualSeedResetsOffset) {
  Generator g(5, 2);
  std::vector<double> a(10), b(10);
  g.fill_uniform<double>(a.data(), 10);
  g.manual_seed(5);
  EXPECT_EQ(g.offset(), 0u);
  EXPECT_EQ(g.stream(), 2u);
  g.fill_uniform<double>(b.data(), 10);
  EXPECT_TRUE(bit_equal(a, b));
}

TEST(Generator, DefaultGeneratorManualSeed) {
  const Generator::State before = gan::default_generator().state();  // leave global state as found
  gan::manual_seed(123);
  EXPECT_EQ(gan::default_generator().seed(), 123u);
  EXPECT_EQ(gan::default_generator().offset(), 0u);
  std::vector<float> a(8), b(8);
  gan::default_generator().fill_uniform<float>(a.data(), 8);
  Generator(123, 0).fill_uniform<float>(b.data(), 8);
  EXPECT_TRUE(bit_equal(a, b));
  EXPECT_EQ(&gan::default_generator(), &gan::default_generator());
  gan::default_generator().set_state(before);
}

// ---- OpenMP --------------------------------------------------------------------------------------------
TYPED_TEST(RngTyped, ThreadCountDoesNotChangeResults) {
  using T = TypeParam;
  const int64_t n = (int64_t{1} << 17) + 3;  // above the parallel threshold, partial last block
  std::vector<T> u1(n), u2(n), n1(n), n2(n);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  gan::kernels::cpu::uniform<T>(u1.data(), n, 77, 4, 1000, T(0), T(1));
  gan::kernels::cpu::normal<T>(n1.data(), n, 77, 4, 1000, T(0), T(1));
  omp_set_num_threads(2);
  gan::kernels::cpu::uniform<T>(u2.data(), n, 77, 4, 1000, T(0), T(1));
  gan::kernels::cpu::normal<T>(n2.data(), n, 77, 4, 1000, T(0), T(1));
  omp_set_num_threads(saved);
  EXPECT_TRUE(bit_equal(u1, u2));
  EXPECT_TRUE(bit_equal(n1, n2));
}

}  // namespace
