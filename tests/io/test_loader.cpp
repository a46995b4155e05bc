// The loader: seeded epoch permutations, drop-last batching, cursor save/restore, prefetch equivalence and
// errors from the prefetch thread.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <vector>

#include "engine/data/dataset.h"
#include "engine/data/loader.h"

namespace gan::data {
namespace {

// Example i is the point (i, -i) with label i; get(fail_at) throws while `failing` is set.
class IndexDataset : public Dataset {
 public:
  explicit IndexDataset(int64_t n, int64_t fail_at = -1) : n_(n), fail_at_(fail_at) {
    spec_.kind = ExampleKind::Points;
    spec_.point_dim = 2;
  }
  int64_t size() const override { return n_; }
  const DataSpec& spec() const override { return spec_; }
  int64_t get(int64_t i, float* out) const override {
    if (i == fail_at_ && failing) throw std::runtime_error("index dataset: example " + std::to_string(i) + " is broken");
    out[0] = static_cast<float>(i);
    out[1] = static_cast<float>(-i);
    return i;
  }
  std::string describe() const override { return "index dataset"; }
  mutable std::atomic<bool> failing{true};

 private:
  int64_t n_, fail_at_;
  DataSpec spec_;
};

std::vector<int64_t> labels_of(const Batch& b) { return b.labels.to_vector<int64_t>(); }

std::vector<std::vector<int64_t>> take(Loader& loader, int n) {
  std::vector<std::vector<int64_t>> out;
  for (int i = 0; i < n; ++i) {
    const Batch b = loader.next();
    EXPECT_EQ(b.examples.shape(), (Shape{b.labels.numel(), 2}));
    const std::vector<float> x = b.examples.to_vector<float>();
    const std::vector<int64_t> l = labels_of(b);
    for (size_t k = 0; k < l.size(); ++k) {
      EXPECT_EQ(x[2 * k], static_cast<float>(l[k]));
      EXPECT_EQ(x[2 * k + 1], -static_cast<float>(l[k]));
    }
    out.push_back(l);
  }
  return out;
}

TEST(Loader, EachEpochIsAPermutationAndDropsTheTail) {
  IndexDataset ds(10);
  Loader loader(ds, 3, 7);
  ASSERT_EQ(loader.batches_per_epoch(), 3);
  std::vector<std::vector<int64_t>> epochs;
  for (int e = 0; e < 4; ++e) {
    EXPECT_EQ(loader.cursor().epoch, e);
    EXPECT_EQ(loader.cursor().position, 0);
    std::set<int64_t> seen;
    std::vector<int64_t> order;
    for (const auto& b : take(loader, 3)) {
      ASSERT_EQ(b.size(), 3u);
      for (int64_t i : b) {
        EXPECT_TRUE(seen.insert(i).second) << "example " << i << " repeated in epoch " << e;
        EXPECT_GE(i, 0);
        EXPECT_LT(i, 10);
        order.push_back(i);
      }
    }
    epochs.push_back(order);
  }
  EXPECT_FALSE(epochs[0] == epochs[1] && epochs[1] == epochs[2] && epochs[2] == epochs[3]) << "epochs not reshuffled";
}

TEST(Loader, SameSeedSameBatchesOtherSeedOthers) {
  IndexDataset ds(50);
  Loader a(ds, 4, 123), b(ds, 4, 123), c(ds, 4, 124), sync(ds, 4, 123, Device::cpu(), /*prefetch=*/false);
  const auto ta = take(a, 30);
  EXPECT_EQ(ta, take(b, 30));
  EXPECT_EQ(ta, take(sync, 30)) << "prefetching changed the batches";
  EXPECT_NE(ta, take(c, 30));
}

TEST(Loader, CursorRestoreContinuesIdentically) {
  IndexDataset ds(23);
  Loader full(ds, 5, 9);
  const auto reference = take(full, 13);  // 4 batches per epoch: crosses three epoch boundaries
  for (int stop : {0, 3, 4, 6, 9}) {
    Loader first(ds, 5, 9);
    take(first, stop);
    const LoaderCursor saved = first.cursor();
    EXPECT_EQ(saved.epoch, stop / 4);
    EXPECT_EQ(saved.position, stop % 4 * 5);
    take(first, 1);  // prefetched and consumed batches past the cursor must not leak into the resumed run
    Loader resumed(ds, 5, 9);
    take(resumed, 2);
    resumed.set_cursor(saved);
    const auto rest = take(resumed, 13 - stop);
    EXPECT_EQ(rest, std::vector<std::vector<int64_t>>(reference.begin() + stop, reference.end())) << "stop " << stop;
  }
  Loader l(ds, 5, 9);
  EXPECT_THROW(l.set_cursor({0, 19}), std::invalid_argument);  // 19 + 5 > 23: not a full batch
  EXPECT_THROW(l.set_cursor({-1, 0}), std::invalid_argument);
}

TEST(Loader, ErrorsFromThePrefetchThreadReachNext) {
  for (bool prefetch : {true, false}) {
    IndexDataset ds(12, /*fail_at=*/5);
    Loader reference(ds, 2, 1, Device::cpu(), false);
    ds.failing = false;
    const auto order = take(reference, 6);
    ds.failing = true;
    int bad = -1;
    for (int i = 0; i < 6; ++i)
      for (int64_t x : order[static_cast<size_t>(i)])
        if (x == 5) bad = i;
    ASSERT_GE(bad, 0);
    Loader loader(ds, 2, 1, Device::cpu(), prefetch);
    EXPECT_EQ(take(loader, bad), std::vector<std::vector<int64_t>>(order.begin(), order.begin() + bad));
    try {
      loader.next();
      FAIL() << "no error for the broken example";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("example 5 is broken"), std::string::npos) << e.what();
    }
    EXPECT_EQ(loader.cursor().position, bad * 2) << "a failed batch does not move the cursor";
    ds.failing = false;  // the retry succeeds and the sequence goes on unchanged
    EXPECT_EQ(take(loader, 6 - bad), std::vector<std::vector<int64_t>>(order.begin() + bad, order.end()));
  }
}

TEST(Loader, RejectsBadSizes) {
  IndexDataset ds(4);
  EXPECT_THROW(Loader(ds, 0, 1), std::invalid_argument);
  EXPECT_THROW(Loader(ds, 5, 1), std::invalid_argument);
  Loader exact(ds, 4, 1);
  EXPECT_EQ(exact.batches_per_epoch(), 1);
  EXPECT_EQ(take(exact, 3).size(), 3u);
}

// A set that declares classes gets every label checked as its batches are built (models trust them on a device,
// where checking would make the host wait): an out-of-range one is an error naming it, the example and the set.
// Unlabeled sets (0 classes) are not checked: IndexDataset's labels are its indices.
TEST(Loader, ChecksLabelsAgainstTheDatasetsClasses) {
  class Declares3 : public IndexDataset {
   public:
    Declares3() : IndexDataset(6) { spec_.num_classes = 3; }
    const DataSpec& spec() const override { return spec_; }
    DataSpec spec_ = IndexDataset::spec();
  };
  for (bool prefetch : {false, true}) {
    const Declares3 ds;
    Loader loader(ds, 6, 1, Device::cpu(), prefetch);  // one batch holds every example, labels 0..5
    try {
      loader.next();
      FAIL() << "no error for labels 3..5 of a 3-class set";
    } catch (const std::out_of_range& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("is outside [0, 3)"), std::string::npos) << what;
      EXPECT_NE(what.find("index dataset"), std::string::npos) << what;
      EXPECT_NE(what.find("of example "), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace gan::data
