// The named datasets: generated ones (synthetic, ring8, grid25), Fashion-MNIST from Debian's package (skipped
// when it is not installed), and the errors for missing or broken data.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data_test_util.h"
#include "engine/data/dataset.h"

namespace gan::data {
namespace {

namespace fs = std::filesystem;
using testing_data::ScopedEnv;

const char* kFashionDir = "/usr/share/datasets/fashion-mnist";

std::vector<float> example(const Dataset& ds, int64_t i, int64_t* label = nullptr) {
  std::vector<float> x(static_cast<size_t>(ds.spec().example_numel()));
  const int64_t l = ds.get(i, x.data());
  if (label) *label = l;
  return x;
}

std::string open_error(const std::string& name, const DatasetOptions& options = {}) {
  try {
    open_dataset(name, options);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Datasets, ListNamesEverySetOpenDatasetKnows) {
  std::vector<std::string> names;
  for (const DatasetInfo& d : list_datasets()) names.push_back(d.name);
  EXPECT_EQ(names, (std::vector<std::string>{"fashion-mnist", "pokemon", "folder:PATH", "ring8", "grid25", "synthetic"}));
  const std::string err = open_error("mnist-digits");
  EXPECT_NE(err.find("unknown dataset 'mnist-digits'"), std::string::npos) << err;
  EXPECT_NE(err.find("fashion-mnist, pokemon, folder:PATH, ring8, grid25, synthetic"), std::string::npos) << err;
}

TEST(Datasets, SyntheticShapesAreLabelledAndSeeded) {
  auto ds = open_dataset("synthetic", {});
  ASSERT_EQ(ds->size(), 256);
  const DataSpec& s = ds->spec();
  EXPECT_EQ(s.kind, ExampleKind::Image);
  EXPECT_EQ(s.channels, 1);
  EXPECT_EQ(s.image_size, 16);
  EXPECT_EQ(s.num_classes, 3);
  ASSERT_EQ(s.class_names.size(), 3u);
  for (int64_t i = 0; i < 6; ++i) {
    int64_t label = -2;
    const std::vector<float> x = example(*ds, i, &label);
    EXPECT_EQ(label, i % 3);
    float lo = 2, hi = -2, sum = 0;
    for (float v : x) lo = std::min(lo, v), hi = std::max(hi, v), sum += (v + 1) / 2;
    EXPECT_EQ(lo, -1.f) << "background";
    EXPECT_EQ(hi, 1.f) << "a shape pixel";
    EXPECT_GT(sum, 10.f) << "the shape covers some area";
  }
  DatasetOptions other;
  other.seed = 1;
  auto ds1 = open_dataset("synthetic", other), ds0 = open_dataset("synthetic", {});
  EXPECT_EQ(example(*ds0, 7), example(*ds, 7));
  EXPECT_NE(example(*ds1, 7), example(*ds, 7));
  DatasetOptions big;
  big.image_size = 32;
  big.size = 10;
  auto ds32 = open_dataset("synthetic", big);
  EXPECT_EQ(ds32->size(), 10);
  EXPECT_EQ(ds32->spec().example_numel(), 32 * 32);
}

TEST(Datasets, MixturesSampleAroundTheirCentres) {
  struct Case {
    const char* name;
    int64_t modes;
    double stddev;
  };
  for (const Case& c : {Case{"ring8", 8, 0.02}, Case{"grid25", 25, 0.05}}) {
    DatasetOptions o;
    o.size = 5000;
    o.seed = 3;
    auto ds = open_dataset(c.name, o);
    ASSERT_EQ(ds->size(), 5000);
    EXPECT_EQ(ds->spec().kind, ExampleKind::Points);
    EXPECT_EQ(ds->spec().point_dim, 2);
    EXPECT_EQ(ds->spec().num_classes, c.modes);
    const Tensor centres = ds->reference_points();
    ASSERT_EQ(centres.shape(), (Shape{c.modes, 2}));
    const std::vector<float> cv = centres.to_vector<float>();
    std::map<int64_t, int> per_mode;
    double sq = 0;
    for (int64_t i = 0; i < ds->size(); ++i) {
      int64_t m = -1;
      const std::vector<float> p = example(*ds, i, &m);
      ASSERT_GE(m, 0);
      ASSERT_LT(m, c.modes);
      ++per_mode[m];
      const double dx = p[0] - cv[2 * m], dy = p[1] - cv[2 * m + 1];
      sq += dx * dx + dy * dy;
    }
    EXPECT_EQ(static_cast<int64_t>(per_mode.size()), c.modes) << c.name << ": every mode drawn";
    EXPECT_NEAR(std::sqrt(sq / (2 * ds->size())), c.stddev, 0.1 * c.stddev) << c.name;
    for (int64_t m = 0; m < c.modes; ++m) {
      if (c.modes == 8) {
        EXPECT_NEAR(std::hypot(cv[2 * m], cv[2 * m + 1]), 2.0, 1e-6) << "ring8 mode " << m;
      } else {
        EXPECT_EQ(cv[2 * m], static_cast<float>(-4 + 2 * (m / 5))) << "grid25 mode " << m;
        EXPECT_EQ(cv[2 * m + 1], static_cast<float>(-4 + 2 * (m % 5))) << "grid25 mode " << m;
      }
    }
  }
  EXPECT_EQ(open_dataset("ring8", {})->size(), 100000);
}

TEST(Datasets, RealFashionMnist) {
  if (!fs::exists(std::string(kFashionDir) + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)";
  ScopedEnv env("GAN_DATA_DIR", "/nonexistent-gan-data");  // read the package's copy
  DatasetOptions test;
  test.train_split = false;
  auto ds = open_dataset("fashion-mnist", test);
  ASSERT_EQ(ds->size(), 10000);
  const DataSpec& s = ds->spec();
  EXPECT_EQ(s.channels, 1);
  EXPECT_EQ(s.image_size, 28);
  EXPECT_EQ(s.num_classes, 10);
  ASSERT_EQ(s.class_names.size(), 10u);
  EXPECT_EQ(s.class_names[9], "Ankle boot");
  std::vector<int> per_class(10);
  std::vector<float> x(28 * 28);
  for (int64_t i = 0; i < ds->size(); ++i) ++per_class[static_cast<size_t>(ds->get(i, x.data()))];
  EXPECT_EQ(per_class, std::vector<int>(10, 1000)) << "the test split has 1000 images per class";
  // First test image, as Python's gzip module reads the file: label 9, pixel 0 is background.
  int64_t label = -1;
  const std::vector<float> first = example(*ds, 0, &label);
  EXPECT_EQ(label, 9);
  EXPECT_EQ(first[0], -1.f);

  auto train = open_dataset("fashion-mnist", {});
  EXPECT_EQ(train->size(), 60000);
  EXPECT_EQ(example(*train, 0, &label).size(), 28u * 28u);
  EXPECT_EQ(label, 9);

  // 32: padded by 2 with background, the pixels unchanged; 64: resized.
  test.image_size = 32;
  auto padded = open_dataset("fashion-mnist", test);
  const std::vector<float> p = example(*padded, 0);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x) {
      const bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
      ASSERT_EQ(p[y * 32 + x], inside ? first[(y - 2) * 28 + x - 2] : -1.f) << y << "," << x;
    }
  test.image_size = 64;
  auto resized = open_dataset("fashion-mnist", test);
  const std::vector<float> r = example(*resized, 0);
  ASSERT_EQ(r.size(), 64u * 64u);
  double mean28 = 0, mean64 = 0;
  for (float v : first) mean28 += v / first.size();
  for (float v : r) mean64 += v / r.size();
  EXPECT_NEAR(mean64, mean28, 0.02) << "bilinear upscaling keeps the mean brightness";
  EXPECT_NE(padded->describe().find("padded from 28x28"), std::string::npos) << padded->describe();
}

class DatasetFiles : public testing_data::TempDirTest {};

TEST_F(DatasetFiles, MissingDataSaysHowToGetIt) {
  ScopedEnv env("GAN_DATA_DIR", dir_.string());
  fs::create_directories(dir_ / "fashion-mnist");  // found first, but empty
  std::string err = open_error("fashion-mnist");
  EXPECT_NE(err.find((dir_ / "fashion-mnist" / "train-images-idx3-ubyte.gz").string()), std::string::npos) << err;
  EXPECT_NE(err.find("apt-get install dataset-fashion-mnist"), std::string::npos) << err;
  err = open_error("pokemon");
  EXPECT_NE(err.find((dir_ / "pokemon").string()), std::string::npos) << err;
  EXPECT_NE(err.find("run scripts/fetch-pokemon.sh"), std::string::npos) << err;
  fs::create_directories(dir_ / "pokemon");
  err = open_error("pokemon");
  EXPECT_NE(err.find("no PNG or JPEG files"), std::string::npos) << err;
  EXPECT_NE(err.find("run scripts/fetch-pokemon.sh"), std::string::npos) << err;
}

TEST_F(DatasetFiles, CorruptFashionMnistNamesTheFile) {
  ScopedEnv env("GAN_DATA_DIR", dir_.string());
  const fs::path d = dir_ / "fashion-mnist";
  fs::create_directories(d);
  auto write_gz = [](const fs::path& p, const std::string& bytes) {
    gzFile f = gzopen(p.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  };
  // Labels fine (2 labels), images announce 2x28x28 but hold 100 bytes.
  write_gz(d / "t10k-labels-idx1-ubyte.gz", std::string("\0\0\x08\x01\0\0\0\x02\x01\x02", 10));
  write_gz(d / "t10k-images-idx3-ubyte.gz", std::string("\0\0\x08\x03\0\0\0\x02\0\0\0\x1c\0\0\0\x1c", 16) + std::string(100, 'x'));
  DatasetOptions test;
  test.train_split = false;
  std::string err = open_error("fashion-mnist", test);
  EXPECT_NE(err.find((d / "t10k-images-idx3-ubyte.gz").string()), std::string::npos) << err;
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  // Images fine, a label out of range.
  write_gz(d / "t10k-images-idx3-ubyte.gz", std::string("\0\0\x08\x03\0\0\0\x02\0\0\0\x1c\0\0\0\x1c", 16) + std::string(2 * 784, '\0'));
  write_gz(d / "t10k-labels-idx1-ubyte.gz", std::string("\0\0\x08\x01\0\0\0\x02\x01\x0c", 10));
  err = open_error("fashion-mnist", test);
  EXPECT_NE(err.find("label 12 of example 1"), std::string::npos) << err;
  // And a valid pair opens.
  write_gz(d / "t10k-labels-idx1-ubyte.gz", std::string("\0\0\x08\x01\0\0\0\x02\x01\x07", 10));
  EXPECT_EQ(open_dataset("fashion-mnist", test)->size(), 2);
}

}  // namespace
}  // namespace gan::data
