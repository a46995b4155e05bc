// The IDX reader on generated files: gzip'd and plain, and every way a file can be broken.
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "data_test_util.h"
#include "engine/data/idx.h"

namespace gan::data {
namespace {

using testing_data::read_file;
using testing_data::write_file;

std::string idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data, uint8_t type = 0x08) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((d >> shift) & 0xff));
  s.append(data.begin(), data.end());
  return s;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 37 + 11);
  return v;
}

class IdxTest : public testing_data::TempDirTest {
 protected:
  // Expects read_idx to throw a message containing the file's path and `what`.
  void expect_error(const std::string& p, const std::string& what) {
    try {
      read_idx(p);
      FAIL() << "read_idx accepted " << p;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
};

TEST_F(IdxTest, ReadsGzippedAndPlainFiles) {
  const std::vector<uint8_t> data = ramp(3 * 4 * 5);
  write_gz(path("a.gz"), idx_bytes({3, 4, 5}, data));
  write_file(path("a.idx"), idx_bytes({3, 4, 5}, data));
  for (const char* name : {"a.gz", "a.idx"}) {
    const IdxArray a = read_idx(path(name));
    EXPECT_EQ(a.dims, (std::vector<int64_t>{3, 4, 5})) << name;
    EXPECT_EQ(a.data, data) << name;
  }
  write_gz(path("labels.gz"), idx_bytes({7}, ramp(7)));
  EXPECT_EQ(read_idx(path("labels.gz")).dims, std::vector<int64_t>{7});
}

TEST_F(IdxTest, RejectsWrongMagicAndTypes) {
  std::string bad = idx_bytes({2}, {1, 2});
  bad[0] = 1;
  write_gz(path("magic.gz"), bad);
  expect_error(path("magic.gz"), "wrong magic");
  write_gz(path("float.gz"), idx_bytes({1}, {0, 0, 0, 0}, 0x0D));
  expect_error(path("float.gz"), "'float' is not supported");
  write_gz(path("code.gz"), idx_bytes({1}, {0}, 0x42));
  expect_error(path("code.gz"), "unknown element type");
  write_gz(path("zero.gz"), idx_bytes({0, 5}, {}));
  expect_error(path("zero.gz"), "has size 0");
  write_gz(path("short.gz"), std::string("\0\0", 2));
  expect_error(path("short.gz"), "truncated");
  write_gz(path("huge.gz"), idx_bytes({0xffffffffu, 0xffffffffu}, {}));
  expect_error(path("huge.gz"), "corrupt header");
}

TEST_F(IdxTest, RejectsTruncatedAndTrailingData) {
  write_gz(path("payload.gz"), idx_bytes({10, 10}, ramp(99)));
  expect_error(path("payload.gz"), "10x10 = 100 bytes of data, the file holds 99");
  write_gz(path("header.gz"), idx_bytes({10, 10}, {}).substr(0, 9));
  expect_error(path("header.gz"), "truncated header");
  write_gz(path("extra.gz"), idx_bytes({4}, ramp(6)));
  expect_error(path("extra.gz"), "unexpected bytes after");
  // A gzip stream cut short (as an interrupted download leaves it).
  write_gz(path("full.gz"), idx_bytes({64, 64}, ramp(64 * 64)));
  const std::string gz = read_file(path("full.gz"));
  write_file(path("cut.gz"), gz.substr(0, gz.size() / 2));
  expect_error(path("cut.gz"), "truncated");
}

TEST_F(IdxTest, RejectsCorruptGzipAndMissingFiles) {
  write_gz(path("ok.gz"), idx_bytes({32, 32}, ramp(32 * 32)));
  std::string gz = read_file(path("ok.gz"));
  // Flip bits in the trailer's CRC: the data inflates, the check fails.
  gz[gz.size() - 6] ^= 0x5a;
  write_file(path("crc.gz"), gz);
  expect_error(path("crc.gz"), "corrupt gzip data");
  // Garbage inside the deflate stream.
  gz = read_file(path("ok.gz"));
  for (size_t i = 12; i < 40 && i < gz.size(); ++i) gz[i] = static_cast<char>(0xff);
  write_file(path("garbage.gz"), gz);
  expect_error(path("garbage.gz"), "");
  expect_error(path("missing.gz"), "cannot open");
}

}  // namespace
}  // namespace gan::data
