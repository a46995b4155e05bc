// safetensors checkpoint files: round trips, the exact byte layout, atomic saves, and rejection of corrupt files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/safetensors.h"
#include "engine/tensor.h"

namespace fs = std::filesystem;

namespace gan {
namespace {

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("gan_io_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) +
                                        "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

std::string read_bytes(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// Writes an 8-byte little-endian length (the JSON's size unless overridden), the JSON, then `data_bytes` bytes.
void write_raw(const std::string& p, const std::string& json, size_t data_bytes,
               std::optional<uint64_t> length = std::nullopt) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << le64(length.value_or(json.size())) << json << std::string(data_bytes, '\x01');
}

template <typename T>
std::string bytes_of(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Same dtype, shape and bit-identical elements.
void expect_same(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  switch (a.dtype()) {
    case DType::Float32: EXPECT_EQ(bytes_of(a.to_vector<float>()), bytes_of(b.to_vector<float>())); break;
    case DType::Float64: EXPECT_EQ(bytes_of(a.to_vector<double>()), bytes_of(b.to_vector<double>())); break;
    case DType::Int64: EXPECT_EQ(a.to_vector<int64_t>(), b.to_vector<int64_t>()); break;
    case DType::BFloat16: EXPECT_EQ(bytes_of(a.to_vector<float>()), bytes_of(b.to_vector<float>())); break;
  }
}

TEST_F(SafetensorsTest, RoundTripsDtypesScalarsEmptyAndStridedTensorsWithMetadata) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor f32 = from_vector<float>({1.5f, -0.0f, inf, -inf, 3.25e-38f, 7.0f}, {2, 3});
  Tensor f64 = randn({4, 1, 3}, DType::Float64);
  Tensor i64 = from_vector<int64_t>({0, -1, std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min(),
                                     42, 7},
                                    {3, 2});
  Tensor bf16 = from_vector<float>({1.0f, -2.5f, inf, 3.0e38f, 1e-40f}, {5}).to(DType::BFloat16);
  Tensor scalar = scalar_tensor(2.5, DType::Float32);
  Tensor empty_t = zeros({0, 5}, DType::Float32);
  Tensor base = randn({3, 4}, DType::Float64);
  base.requires_grad_();
  Tensor transposed = base.t();  // non-contiguous view of a tensor that requires grad
  ASSERT_FALSE(transposed.is_contiguous());
  Tensor narrowed = arange(20.0, DType::Int64).reshape({4, 5}).narrow(1, 1, 3);  // strided, nonzero offset
  ASSERT_FALSE(narrowed.is_contiguous());

  const std::vector<std::pair<std::string, Tensor>> tensors = {
      {"G.net.0.weight", f32}, {"z.f64", f64},             {"labels", i64},         {"scalar", scalar},
      {"empty", empty_t},      {"transposed", transposed}, {"narrowed", narrowed}, {"activations.bf16", bf16},
  };
  const std::map<std::string, std::string> metadata = {
      {"step", "1200"}, {"config", "{\"lr\": 0.0002, \"name\": \"dcgan\"}"}, {"unicode", "\xc3\xa9t\xc3\xa9"}};
  const std::string p = path("model.safetensors");
  save_safetensors(p, tensors, metadata);

  const NamedTensors loaded = load_safetensors(p);
  ASSERT_EQ(loaded.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    SCOPED_TRACE(tensors[i].first);
    EXPECT_EQ(loaded.tensors[i].first, tensors[i].first);  // header order is the save order
    const Tensor& t = loaded.tensors[i].second;
    EXPECT_TRUE(t.device().is_cpu());
    EXPECT_TRUE(t.is_contiguous());
    EXPECT_FALSE(t.requires_grad());
    expect_same(t, tensors[i].second);
  }
  EXPECT_EQ(loaded.metadata, metadata);
  EXPECT_EQ(loaded.at("scalar").dim(), 0);
  EXPECT_EQ(loaded.at("scalar").item(), 2.5);
  EXPECT_EQ(loaded.at("empty").shape(), (Shape{0, 5}));
  ASSERT_NE(loaded.find("labels"), nullptr);
  EXPECT_EQ(loaded.find("nope"), nullptr);
  EXPECT_THROW(loaded.at("nope"), std::out_of_range);
}

TEST_F(SafetensorsTest, EmptyCheckpointRoundTrips) {
  const std::string p = path("empty.safetensors");
  save_safetensors(p, {});
  const NamedTensors loaded = load_safetensors(p);
  EXPECT_EQ(loaded.size(), 0u);
  EXPECT_TRUE(loaded.metadata.empty());
}

TEST_F(SafetensorsTest, TinyFileHasTheExactLayout) {
  const std::string p = path("tiny.safetensors");
  save_safetensors(p, {{"a", from_vector<float>({1.0f, 2.0f}, {2})}, {"b", from_vector<int64_t>({-3}, {1})}});
  const std::string bytes = read_bytes(p);

  const std::string json =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}})";
  const size_t padded = (json.size() + 7) / 8 * 8;
  ASSERT_EQ(bytes.size(), 8 + padded + 16);
  EXPECT_EQ(bytes.substr(0, 8), le64(padded));            // little-endian u64 header length
  EXPECT_EQ(padded % 8, 0u);                               // the data buffer starts 8-byte aligned
  EXPECT_EQ(bytes.substr(8, json.size()), json);           // keys in save order, compact JSON
  EXPECT_EQ(bytes.substr(8 + json.size(), padded - json.size()), std::string(padded - json.size(), ' '));
  EXPECT_EQ(bytes.substr(8 + padded, 8), bytes_of(std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(bytes.substr(8 + padded + 8, 8), bytes_of(std::vector<int64_t>{-3}));
}

TEST_F(SafetensorsTest, MetadataComesFirstInTheHeader) {
  const std::string p = path("meta.safetensors");
  save_safetensors(p, {{"x", from_vector<double>({0.5}, {})}}, {{"step", "7"}});
  const std::string bytes = read_bytes(p);
  const std::string json = R"({"__metadata__":{"step":"7"},"x":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})";
  const size_t padded = (json.size() + 7) / 8 * 8;
  ASSERT_EQ(bytes.size(), 8 + padded + 8);
  EXPECT_EQ(bytes.substr(0, 8), le64(padded));
  EXPECT_EQ(bytes.substr(8, json.size()), json);
}

TEST_F(SafetensorsTest, LoadsHandWrittenFilesWithGapsUnpaddedHeadersAndAnyKeyOrder) {
  // A header that is not a multiple of 8, keys in another order, a gap between tensors and bytes after the last.
  const std::string p = path("hand.safetensors");
  const std::string json =
      R"({"b":{"data_offsets":[16,24],"shape":[1],"dtype":"F64"},"__metadata__":{"format":"pt"},)"
      R"("a":{"shape":[2],"dtype":"F32","data_offsets":[0,8]}}   )";
  std::string data = bytes_of(std::vector<float>{3.0f, -4.0f}) + std::string(8, '\xee') +
                     bytes_of(std::vector<double>{0.125}) + "tail";
  {
    std::ofstream out(p, std::ios::binary);
    out << le64(json.size()) << json << data;
  }
  const NamedTensors loaded = load_safetensors(p);
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded.tensors[0].first, "b");
  EXPECT_EQ(loaded.tensors[1].first, "a");
  EXPECT_EQ(loaded.at("a").to_vector<float>(), (std::vector<float>{3.0f, -4.0f}));
  EXPECT_EQ(loaded.at("b").to_vector<double>(), (std::vector<double>{0.125}));
  EXPECT_EQ(loaded.metadata.at("format"), "pt");
}

TEST_F(SafetensorsTest, SaveLeavesNoTemporaryFileAndReplacesTheTarget) {
  const std::string p = path("ckpt.safetensors");
  save_safetensors(p, {{"w", from_vector<float>({1, 2, 3}, {3})}});
  save_safetensors(p, {{"w", from_vector<float>({4, 5}, {2})}}, {{"step", "2"}});
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"ckpt.safetensors"});
  const NamedTensors loaded = load_safetensors(p);
  EXPECT_EQ(loaded.at("w").to_vector<float>(), (std::vector<float>{4, 5}));
  EXPECT_EQ(loaded.metadata.at("step"), "2");
}

TEST_F(SafetensorsTest, SaveIntoAMissingDirectoryThrowsNamingThePath) {
  const std::string p = path("no/such/dir/ckpt.safetensors");
  try {
    save_safetensors(p, {{"w", zeros({2})}});
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::strerror(ENOENT)), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(dir_ / "no"));
}

TEST_F(SafetensorsTest, FailedRenameRemovesTheTemporaryFile) {
  // The target is a directory: the temporary file is written, the rename fails, and the temporary goes away.
  const std::string p = path("is_a_dir");
  fs::create_directories(dir_ / "is_a_dir" / "child");
  try {
    save_safetensors(p, {{"w", ones({4})}});
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{"is_a_dir"});
}

TEST_F(SafetensorsTest, SaveRejectsBadNames) {
  const std::string p = path("bad.safetensors");
  EXPECT_THROW(save_safetensors(p, {{"w", zeros({1})}, {"w", zeros({2})}}), std::invalid_argument);
  EXPECT_THROW(save_safetensors(p, {{"", zeros({1})}}), std::invalid_argument);
  EXPECT_THROW(save_safetensors(p, {{"__metadata__", zeros({1})}}), std::invalid_argument);
  EXPECT_THROW(save_safetensors(p, {{"w", Tensor()}}), std::invalid_argument);
  try {
    save_safetensors(p, {{"w", zeros({1})}, {"w", zeros({2})}});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("duplicate tensor name 'w'"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(p));
}

// ---- corrupt files ----

struct Corrupt {
  const char* label;
  std::string json;
  size_t data_bytes;
  std::optional<uint64_t> length;  // the header length field, when it lies
  const char* expect;              // a substring of the error
};

TEST_F(SafetensorsTest, RejectsCorruptFilesNamingTheProblem) {
  const std::vector<Corrupt> cases = {
      {"bad JSON", R"({"a": {"dtype": "F32", )", 0, {}, "not valid JSON"},
      {"JSON not an object", R"([1, 2, 3])", 0, {}, "not an object"},
      {"header length past the end", R"({})", 4, 100, "larger than the rest of the file"},
      {"absurd header length", R"({})", 0, uint64_t{1} << 40, "absurd"},
      {"unknown dtype", R"({"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}})", 4, {}, "unknown dtype 'F17'"},
      {"unsupported dtype", R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4, {},
       "unsupported dtype F16 for tensor 'a'"},
      {"offsets out of bounds", R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8, {},
       "out of bounds"},
      {"begin after end", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", 8, {}, "begin > end"},
      {"size mismatch", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, {}, "size mismatch"},
      {"overflowing shape", R"({"a":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", 8,
       {}, "size mismatch"},
      {"overlap",
       R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
       12, {}, "overlap"},
      {"negative dim", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, {}, "negative dimension"},
      {"non-integer dim", R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4, {}, "non-integer"},
      {"string dim", R"({"a":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}})", 4, {}, "not an integer"},
      {"too many dims", R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4, {},
       "at most 8"},
      {"missing data_offsets", R"({"a":{"dtype":"F32","shape":[1]}})", 4, {}, "missing the field \"data_offsets\""},
      {"missing dtype", R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4, {}, "missing the field \"dtype\""},
      {"missing shape", R"({"a":{"dtype":"F32","data_offsets":[0,4]}})", 4, {}, "missing the field \"shape\""},
      {"dtype not a string", R"({"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}})", 4, {}, "not a string"},
      {"shape not an array", R"({"a":{"dtype":"F32","shape":1,"data_offsets":[0,4]}})", 4, {}, "not an array"},
      {"three offsets", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", 8, {}, "[begin, end]"},
      {"negative offset", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", 4, {}, "non-negative"},
      {"entry not an object", R"({"a":[1,2]})", 0, {}, "entry is a JSON array"},
      {"metadata value not a string", R"({"__metadata__":{"step":7}})", 0, {},
       "__metadata__ value for key 'step'"},
      {"metadata not an object", R"({"__metadata__":"hello"})", 0, {}, "__metadata__ is a JSON string"},
      {"duplicate tensor name",
       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       8, {}, "repeats the key 'a'"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Corrupt& c = cases[i];
    SCOPED_TRACE(c.label);
    const std::string p = path("corrupt_" + std::to_string(i) + ".safetensors");
    write_raw(p, c.json, c.data_bytes, c.length);
    try {
      load_safetensors(p);
      ADD_FAILURE() << "no exception for: " << c.label;
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(c.expect), std::string::npos) << "message: " << msg;
      EXPECT_NE(msg.find(p), std::string::npos) << "message does not name the file: " << msg;
    }
  }
}

TEST_F(SafetensorsTest, RejectsMissingTruncatedAndNonFiles) {
  auto expect_error = [](const std::string& p, const std::string& what) {
    try {
      load_safetensors(p);
      ADD_FAILURE() << "no exception for " << p;
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(what), std::string::npos) << msg;
      EXPECT_NE(msg.find(p), std::string::npos) << msg;
    }
  };
  expect_error(path("missing.safetensors"), std::strerror(ENOENT));

  const std::string short_file = path("short.safetensors");
  {
    std::ofstream out(short_file, std::ios::binary);
    out << std::string("\x10\x00\x00", 3);
  }
  expect_error(short_file, "truncated");

  const std::string empty_file = path("empty.safetensors");
  { std::ofstream out(empty_file, std::ios::binary); }
  expect_error(empty_file, "truncated");

  expect_error(dir_.string(), "directory");

  // A valid file cut short inside its data: the header length still fits but a tensor runs past the end.
  const std::string good = path("good.safetensors");
  save_safetensors(good, {{"w", ones({16})}});
  std::string bytes = read_bytes(good);
  const std::string cut = path("cut.safetensors");
  {
    std::ofstream out(cut, std::ios::binary);
    out << bytes.substr(0, bytes.size() - 4);
  }
  expect_error(cut, "out of bounds");
  // ... and cut inside its header.
  {
    std::ofstream out(cut, std::ios::binary | std::ios::trunc);
    out << bytes.substr(0, 20);
  }
  expect_error(cut, "larger than the rest of the file");
}

}  // namespace
}  // namespace gan
