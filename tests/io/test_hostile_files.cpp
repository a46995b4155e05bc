// Files made to hurt: headers that announce gigabytes in a few hundred bytes, truncated and mislabelled images,
// FIFOs where files are expected. Each must be refused with a clear message, without hanging and without the
// allocation its header asks for: no input under 1 MB may make the reader grow by more than kCeiling.
// Each case runs in a forked child (tests/io/child_process.h) that measures its peak memory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

#include "child_process.h"
#include "data_test_util.h"
#include "engine/data/dataset.h"
#include "engine/data/idx.h"
#include "engine/image/image.h"
#include "engine/safetensors.h"
#include "image_files.h"

namespace gan {
namespace {

namespace fs = std::filesystem;
using testing_child::run_in_child;
using testing_data::read_file;
using testing_data::ScopedEnv;
using testing_data::write_file;

constexpr int64_t kCeiling = 256ll << 20;  // bytes: the issue's ceiling for inputs under 1 MB

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

std::string gzip(const std::string& bytes) {
  uLongf size = compressBound(static_cast<uLong>(bytes.size())) + 32;
  std::string out(size, '\0');
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);  // +16: a gzip wrapper
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A PNG whose IHDR says width x height (8-bit gray) followed by a tiny IDAT: what a hostile file looks like.
std::string png_with_header(uint32_t width, uint32_t height) {
  auto chunk = [](const std::string& type, const std::string& data) {
    std::string body = type + data;
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size()));
    return be32(static_cast<uint32_t>(data.size())) + body + be32(crc);
  };
  const std::string ihdr = be32(width) + be32(height) + std::string("\x08\x00\x00\x00\x00", 5);
  std::string idat(32, '\0');
  uLongf n = static_cast<uLongf>(idat.size());
  const std::string row(17, '\0');
  compress(reinterpret_cast<Bytef*>(idat.data()), &n, reinterpret_cast<const Bytef*>(row.data()), row.size());
  idat.resize(n);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", "");
}

// A valid small JPEG with its frame header patched to say width x height.
std::string jpeg_with_header(uint16_t width, uint16_t height, bool progressive) {
  std::string j = testing_images::jpeg_bytes(16, 16, 3, std::vector<uint8_t>(16 * 16 * 3, 100), 90, progressive);
  for (size_t i = 2; i + 9 < j.size(); ++i) {
    const auto marker = static_cast<uint8_t>(j[i + 1]);
    if (static_cast<uint8_t>(j[i]) == 0xFF && (marker == 0xC0 || marker == 0xC2)) {  // SOF0 or SOF2
      j[i + 5] = static_cast<char>(height >> 8);
      j[i + 6] = static_cast<char>(height & 0xff);
      j[i + 7] = static_cast<char>(width >> 8);
      j[i + 8] = static_cast<char>(width & 0xff);
      return j;
    }
  }
  ADD_FAILURE() << "no frame header in the JPEG";
  return j;
}

class HostileFiles : public testing_data::TempDirTest {
 protected:
  // `code` must throw a message containing `message`, finish in time and stay under the memory ceiling.
  void expect_refused(const std::function<void()>& code, const std::string& message, const std::string& what) {
    const auto out = run_in_child(code);
    ASSERT_FALSE(out.timed_out) << what << ": hung";
    ASSERT_TRUE(out.finished) << what << ": the child crashed";
    EXPECT_TRUE(out.threw) << what << ": accepted";
    EXPECT_NE(out.error.find(message), std::string::npos) << what << ": " << out.error;
    EXPECT_LT(out.peak_growth, kCeiling) << what << ": peak memory grew by " << (out.peak_growth >> 20) << " MiB";
  }
};

TEST_F(HostileFiles, IdxHeaderAnnouncingGigabytesInASmallGzipIsReadNoFurtherThanTheStream) {
  // 2,000,000 x 28 x 28 = 1.5 GB announced, 448 KB of incompressible data present.
  const std::string header = std::string("\0\0\x08\x03", 4) + be32(2'000'000) + be32(28) + be32(28);
  write_file(path("bomb.gz"), gzip(header + random_bytes(448 << 10, 1)));
  ASSERT_LT(read_file(path("bomb.gz")).size(), 1u << 20);
  expect_refused([&] { data::read_idx(path("bomb.gz")); }, "truncated", "gzip'd IDX");
  // A plain file is checked against its size before reading.
  write_file(path("bomb.idx"), header + random_bytes(448 << 10, 2));
  expect_refused([&] { data::read_idx(path("bomb.idx")); }, "truncated", "plain IDX");
  // Through Fashion-MNIST: the labels' count bounds what the images file may announce.
  ScopedEnv env("GAN_DATA_DIR", dir_.string());
  fs::create_directories(dir_ / "fashion-mnist");
  write_file((dir_ / "fashion-mnist/t10k-labels-idx1-ubyte.gz").string(),
             gzip(std::string("\0\0\x08\x01", 4) + be32(2) + std::string("\x01\x02", 2)));
  fs::copy_file(path("bomb.gz"), dir_ / "fashion-mnist/t10k-images-idx3-ubyte.gz");
  data::DatasetOptions test;
  test.train_split = false;
  expect_refused([&] { data::open_dataset("fashion-mnist", test); }, "the limit for this file", "fashion-mnist");
}

TEST_F(HostileFiles, ImageHeadersAnnouncingHugeImagesAreRefusedBeforeDecoding) {
  // A PNM header claiming 30000 x 30000 in a file named .png (stb_image "decoded" it to 5.4 GB of zeros).
  write_file(path("pnm.png"), "P5\n30000 30000\n255\n" + random_bytes(100, 3));
  expect_refused([&] { image::load_image(path("pnm.png")); }, "it is a PNM/PGM/PPM image", "PNM as PNG");
  // PNG and JPEG headers above the pixel cap, and below it but beyond what the file's size can encode.
  write_file(path("huge.png"), png_with_header(16000, 16000));
  expect_refused([&] { image::load_image(path("huge.png")); }, "more than the limit of 16777216", "PNG 16000^2");
  write_file(path("dense.png"), png_with_header(4000, 4000));
  expect_refused([&] { image::load_image(path("dense.png")); }, "-byte file can hold", "PNG 4000^2 in 100 bytes");
  for (bool progressive : {false, true}) {
    write_file(path("huge.jpg"), jpeg_with_header(30000, 30000, progressive));
    expect_refused([&] { image::load_image(path("huge.jpg")); }, "more than the limit", "JPEG 30000^2");
    write_file(path("dense.jpg"), jpeg_with_header(4000, 4000, progressive));
    expect_refused([&] { image::load_image(path("dense.jpg")); }, "-byte file can hold", "JPEG 4000^2");
  }
  // The folder path says the same for each file and gives up when none is readable.
  fs::create_directories(path("folder"));
  fs::copy_file(path("huge.png"), path("folder/a.png"));
  fs::copy_file(path("huge.jpg"), path("folder/b.jpg"));
  data::DatasetOptions options;
  options.image_size = 32;
  expect_refused([&] { data::open_dataset("folder:" + path("folder"), options); }, "none of the 2 image files",
                 "folder");
}

TEST_F(HostileFiles, ThePixelCapIsConfigurable) {
  const auto gray16 = testing_images::png_spec(16, 16, PNG_COLOR_TYPE_GRAY, 8, std::vector<uint8_t>(256, 9));
  write_file(path("a.png"), testing_images::png_bytes(gray16));
  EXPECT_EQ(image::load_image(path("a.png")).width, 16);
  {
    ScopedEnv env("GAN_MAX_IMAGE_PIXELS", "255");
    EXPECT_THROW(image::load_image(path("a.png")), std::runtime_error);
  }
  {
    ScopedEnv env("GAN_MAX_IMAGE_PIXELS", "256");
    EXPECT_EQ(image::load_image(path("a.png")).width, 16);
  }
  ScopedEnv env("GAN_MAX_IMAGE_PIXELS", "lots");
  try {
    image::load_image(path("a.png"));
    FAIL() << "a bad GAN_MAX_IMAGE_PIXELS was ignored";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("GAN_MAX_IMAGE_PIXELS: 'lots' is not an integer"), std::string::npos)
        << e.what();
  }
}

TEST_F(HostileFiles, TruncatedImagesAreErrorsWithAReason) {
  std::vector<uint8_t> rgb(24 * 24 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 13);
  const std::string png =
      testing_images::png_bytes(testing_images::png_spec(24, 24, PNG_COLOR_TYPE_RGB, 8, rgb));
  // Every cut before the last chunk's data is complete: an error whose reason says something.
  for (size_t cut = 1; cut + 16 < png.size(); ++cut) {
    try {
      image::decode_image(png.data(), cut, "cut.png");
      ADD_FAILURE() << "decoded a PNG cut at " << cut << " of " << png.size();
    } catch (const std::runtime_error& e) {
      const std::string msg = e.what();
      const size_t at = msg.find("libpng: ");
      if (at != std::string::npos) EXPECT_GE(msg.size() - at - 9, 8u) << "a reason too short to help: " << msg;
      else EXPECT_NE(msg.find("not a PNG or JPEG"), std::string::npos) << msg;
    }
  }
  for (bool progressive : {false, true}) {
    const std::string jpg = testing_images::jpeg_bytes(24, 24, 3, rgb, 90, progressive);
    for (size_t cut : {jpg.size() / 3, jpg.size() / 2, jpg.size() - 10}) {
      try {
        image::decode_image(jpg.data(), cut, "cut.jpg");
        ADD_FAILURE() << "decoded a JPEG cut at " << cut << " of " << jpg.size();
      } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("corrupt or truncated JPEG data (libjpeg-turbo: "), std::string::npos)
            << e.what();
      }
    }
  }
}

TEST_F(HostileFiles, FifosAreRefusedWithoutBlocking) {
  for (const char* name : {"x.png", "t.gz", "c.safetensors"}) ASSERT_EQ(::mkfifo(path(name).c_str(), 0600), 0);
  expect_refused([&] { image::load_image(path("x.png")); }, "is a FIFO (named pipe), not a regular file", "image");
  expect_refused([&] { data::read_idx(path("t.gz")); }, "is a FIFO (named pipe), not a regular file", "IDX");
  expect_refused([&] { load_safetensors(path("c.safetensors")); }, "is a FIFO (named pipe), not a regular file",
                 "safetensors");
  // In an image folder a FIFO is not listed at all.
  fs::create_directories(path("folder"));
  ASSERT_EQ(::mkfifo(path("folder/y.png").c_str(), 0600), 0);
  write_file(path("folder/z.png"), testing_images::png_bytes(testing_images::png_spec(
                                                   2, 2, PNG_COLOR_TYPE_GRAY, 8, {1, 2, 3, 4})));
  const auto out = run_in_child([&] {
    data::DatasetOptions options;
    options.image_size = 2;
    if (data::open_dataset("folder:" + path("folder"), options)->size() != 1) throw std::runtime_error("wrong size");
  });
  EXPECT_TRUE(out.finished && !out.threw) << out.error;
}

TEST_F(HostileFiles, SafetensorsHeadersCannotAskForMoreThanTheFileHolds) {
  // Shapes claiming 2^40 elements, offsets far past the end: refused from the header, nothing allocated.
  const std::string header = R"({"w":{"dtype":"F32","shape":[1048576,1048576],"data_offsets":[0,4398046511104]}})";
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[static_cast<size_t>(i)] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  write_file(path("big.safetensors"), file + header + std::string(64, '\0'));
  expect_refused([&] { load_safetensors(path("big.safetensors")); }, "out of bounds", "safetensors");
  // A header nested 200000 deep (every error message dumps values, which recurses).
  const std::string deep = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":" + std::string(200000, '[') +
                           std::string(200000, ']') + "}}";
  for (int i = 0; i < 8; ++i) file[static_cast<size_t>(i)] = static_cast<char>((deep.size() >> (8 * i)) & 0xff);
  write_file(path("deep.safetensors"), file + deep);
  expect_refused([&] { load_safetensors(path("deep.safetensors")); }, "levels deep", "deep safetensors header");
}

}  // namespace
}  // namespace gan
