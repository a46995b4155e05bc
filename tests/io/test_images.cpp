// Image I/O: decoding PNG (every colour type, depth, transparency, interlacing) and JPEG (baseline, progressive)
// written here, other formats refused by name, alpha over white, resampling, folder datasets (with corrupt files
// and files in other formats), sample grids and scatter plots written and read back. Hostile files (huge
// headers, truncation, FIFOs, memory ceilings) are in test_hostile_files.cpp.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <cmath>
#include <tuple>
#include <string>
#include <vector>

#include "data_test_util.h"
#include "engine/data/dataset.h"
#include "engine/image/image.h"
#include "engine/image/plots.h"
#include "image_files.h"

namespace gan {
namespace {

namespace fs = std::filesystem;
using image::Image8;
using testing_data::read_file;
using testing_data::write_file;

// A minimal GIF89a writer (stb writes no GIF): a 128-colour global palette and LZW with 8-bit codes, a clear code
// before every 100 pixels so the code width never grows. `transparent` (if >= 0) marks that palette index.
std::string gif_bytes(int w, int h, const std::vector<uint8_t>& indices, const std::vector<uint8_t>& palette_rgb,
                      int transparent = -1) {
  std::string s = "GIF89a";
  auto u16 = [&](int v) {
    s.push_back(static_cast<char>(v & 0xff));
    s.push_back(static_cast<char>(v >> 8));
  };
  u16(w);
  u16(h);
  s.push_back(static_cast<char>(0xF6));  // global table, 7 bits colour resolution, 2^(6+1) = 128 entries
  s.push_back(0);
  s.push_back(0);
  for (int i = 0; i < 128 * 3; ++i) s.push_back(static_cast<char>(i < static_cast<int>(palette_rgb.size()) ? palette_rgb[i] : 0));
  if (transparent >= 0) {
    s += std::string("\x21\xF9\x04\x01\x00\x00", 6);
    s.push_back(static_cast<char>(transparent));
    s.push_back(0);
  }
  s.push_back(0x2C);
  u16(0);
  u16(0);
  u16(w);
  u16(h);
  s.push_back(0);
  s.push_back(7);  // LZW minimum code size: codes 0..127 literal, 128 clear, 129 end
  std::string codes;
  for (size_t i = 0; i < indices.size(); ++i) {
    if (i % 100 == 0) codes.push_back(static_cast<char>(128));
    codes.push_back(static_cast<char>(indices[i]));
  }
  codes.push_back(static_cast<char>(129));
  for (size_t i = 0; i < codes.size(); i += 255) {
    const size_t n = std::min<size_t>(255, codes.size() - i);
    s.push_back(static_cast<char>(n));
    s += codes.substr(i, n);
  }
  s.push_back(0);
  s.push_back(0x3B);
  return s;
}

std::vector<uint8_t> solid(int w, int h, int c, std::vector<uint8_t> value) {
  std::vector<uint8_t> v;
  for (int i = 0; i < w * h; ++i) v.insert(v.end(), value.begin(), value.begin() + c);
  return v;
}

class ImageTest : public testing_data::TempDirTest {};

TEST_F(ImageTest, DecodesPngAndJpegAndCompositesAlphaOverWhite) {
  using testing_images::PngSpec;
  using testing_images::png_bytes;
  using testing_images::png_spec;
  // PNG RGB with distinct pixels: decoded exactly.
  std::vector<uint8_t> rgb(4 * 3 * 3);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(stbi_write_png(path("a.png").c_str(), 4, 3, 3, rgb.data(), 4 * 3));
  Image8 a = image::load_image(path("a.png"));
  EXPECT_EQ(a.width, 4);
  EXPECT_EQ(a.height, 3);
  EXPECT_EQ(a.channels, 3);
  EXPECT_EQ(a.pixels, rgb);
  // The same pixels interlaced (Adam7) and as 16-bit samples (the high byte is kept).
  write_file(path("i.png"), png_bytes(png_spec(4, 3, PNG_COLOR_TYPE_RGB, 8, rgb, /*interlaced=*/true)));
  EXPECT_EQ(image::load_image(path("i.png")).pixels, rgb);
  std::vector<uint8_t> deep;
  for (uint8_t v : rgb) deep.insert(deep.end(), {v, static_cast<uint8_t>(255 - v)});
  write_file(path("d16.png"), png_bytes(png_spec(4, 3, PNG_COLOR_TYPE_RGB, 16, deep)));
  EXPECT_EQ(image::load_image(path("d16.png")).pixels, rgb);
  // A 2-bit palette with one transparent entry: palette colours, the transparent one white.
  PngSpec pal = png_spec(4, 2, PNG_COLOR_TYPE_PALETTE, 2, {0x1B, 0xE4});  // indices 0 1 2 3 / 3 2 1 0
  pal.palette = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
  pal.trns = {255, 255, 255, 0};
  write_file(path("p.png"), png_bytes(pal));
  const Image8 p = image::load_image(path("p.png"));
  ASSERT_EQ(p.channels, 3);
  const std::vector<uint8_t> first_row = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
  EXPECT_EQ(std::vector<uint8_t>(p.pixels.begin(), p.pixels.begin() + 12), first_row);
  // 1-bit gray: 0 and 255.
  write_file(path("b.png"), png_bytes(png_spec(8, 1, PNG_COLOR_TYPE_GRAY, 1, {0xA5})));
  EXPECT_EQ(image::load_image(path("b.png")).pixels, (std::vector<uint8_t>{255, 0, 255, 0, 0, 255, 0, 255}));
  // Gray + alpha: half-transparent black over white is mid gray; fully transparent is white.
  const std::vector<uint8_t> ga = {0, 255, 0, 128, 0, 0, 100, 255};
  ASSERT_TRUE(stbi_write_png(path("ga.png").c_str(), 4, 1, 2, ga.data(), 8));
  Image8 g = image::load_image(path("ga.png"));
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{0, 127, 255, 100}));
  // RGBA, interlaced.
  write_file(path("rgba.png"),
             png_bytes(png_spec(2, 1, PNG_COLOR_TYPE_RGBA, 8, {200, 100, 0, 255, 0, 0, 0, 0}, /*interlaced=*/true)));
  EXPECT_EQ(image::load_image(path("rgba.png")).pixels, (std::vector<uint8_t>{200, 100, 0, 255, 255, 255}));
  // JPEG: lossy, a flat colour comes back within a few levels, baseline or progressive, colour or gray.
  const std::vector<uint8_t> flat = solid(16, 16, 3, {200, 40, 90});
  ASSERT_TRUE(stbi_write_jpg(path("c.jpg").c_str(), 16, 16, 3, flat.data(), 95));
  write_file(path("cp.jpg"), testing_images::jpeg_bytes(16, 16, 3, flat, 95, true));
  for (const char* name : {"c.jpg", "cp.jpg"}) {
    Image8 c = image::load_image(path(name));
    ASSERT_EQ(c.channels, 3) << name;
    for (size_t i = 0; i < flat.size(); ++i) EXPECT_NEAR(c.pixels[i], flat[i], 4) << name << " " << i;
  }
  write_file(path("g.jpg"), testing_images::jpeg_bytes(8, 8, 1, std::vector<uint8_t>(64, 77), 95, true));
  const Image8 gj = image::load_image(path("g.jpg"));
  EXPECT_EQ(gj.channels, 1);
  for (uint8_t v : gj.pixels) EXPECT_NEAR(v, 77, 2);
}

TEST_F(ImageTest, OtherFormatsAreRefusedByName) {
  // GIF (as browsers make them) and BMP are not read: stb_image, which read them, is not safe on hostile files.
  const std::vector<uint8_t> palette = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
  write_file(path("d.gif"), gif_bytes(12, 11, std::vector<uint8_t>(12 * 11, 1), palette, 3));
  std::vector<uint8_t> rgb(4 * 3 * 3, 9);
  ASSERT_TRUE(stbi_write_bmp(path("b.bmp").c_str(), 4, 3, 3, rgb.data()));
  write_file(path("pnm.png"), "P6\n4 4\n255\n" + std::string(48, '\x7f'));
  write_file(path("text.jpg"), "not a jpeg at all");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"d.gif", "it is a GIF image; only PNG and JPEG files are read"},
      {"b.bmp", "it is a BMP image"},
      {"pnm.png", "it is a PNM/PGM/PPM image"},
      {"text.jpg", "not a PNG or JPEG file"}};
  for (const auto& [name, message] : cases) {
    try {
      image::load_image(path(name));
      FAIL() << "decoded " << name;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path(name)), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  }
}

TEST_F(ImageTest, DecodeErrorsNameTheFile) {
  write_file(path("junk.png"), "this is not a png file at all");
  for (const std::string& p : {path("junk.png"), path("missing.jpg")}) {
    try {
      image::load_image(p);
      FAIL() << "decoded " << p;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }
}

TEST_F(ImageTest, ResizeAveragesDownAndInterpolatesUp) {
  // Area: 4x4 -> 2x2 averages each 2x2 block.
  std::vector<float> src(16);
  for (int i = 0; i < 16; ++i) src[i] = static_cast<float>(i);
  std::vector<float> dst(4);
  image::resize_chw(src.data(), 1, 4, 4, dst.data(), 2, 2);
  EXPECT_FLOAT_EQ(dst[0], (0 + 1 + 4 + 5) / 4.f);
  EXPECT_FLOAT_EQ(dst[3], (10 + 11 + 14 + 15) / 4.f);
  // Area with fractional coverage: 3 -> 2 along x, each output covers 1.5 source pixels.
  const std::vector<float> row = {0, 3, 6};
  std::vector<float> out(2);
  image::resize_chw(row.data(), 1, 1, 3, out.data(), 1, 2);
  EXPECT_FLOAT_EQ(out[0], (0 + 0.5f * 3) / 1.5f);
  EXPECT_FLOAT_EQ(out[1], (0.5f * 3 + 6) / 1.5f);
  // Bilinear, half-pixel centres, clamped edges (PyTorch's align_corners=False): [0, 1] -> [0, .25, .75, 1].
  const std::vector<float> two = {0, 1};
  std::vector<float> four(4);
  image::resize_chw(two.data(), 1, 1, 2, four.data(), 1, 4);
  EXPECT_FLOAT_EQ(four[0], 0.f);
  EXPECT_FLOAT_EQ(four[1], 0.25f);
  EXPECT_FLOAT_EQ(four[2], 0.75f);
  EXPECT_FLOAT_EQ(four[3], 1.f);
  // Byte images: a flat image stays flat; crop keeps the centre.
  Image8 flat(10, 6, 3, 77);
  Image8 r = image::resize(image::center_crop_square(flat), 4, 4);
  EXPECT_EQ(r.width, 4);
  EXPECT_EQ(r.pixels, std::vector<uint8_t>(48, 77));
  Image8 wide(5, 3, 1);
  for (int x = 0; x < 5; ++x)
    for (int y = 0; y < 3; ++y) *wide.at(x, y) = static_cast<uint8_t>(x);
  Image8 sq = image::center_crop_square(wide);
  EXPECT_EQ(sq.width, 3);
  EXPECT_EQ(*sq.at(0, 0), 1);
  EXPECT_EQ(*sq.at(2, 2), 3);
}

TEST_F(ImageTest, FolderDatasetLoadsPngAndJpegAndSkipsBrokenFiles) {
  const std::string dir = path("imgs");
  fs::create_directories(dir + "/sub");
  const std::vector<uint8_t> red = solid(8, 8, 3, {250, 10, 10});
  ASSERT_TRUE(stbi_write_png((dir + "/a.png").c_str(), 8, 8, 3, red.data(), 24));
  const std::vector<uint8_t> wide = solid(16, 8, 3, {10, 250, 10});  // non-square: centre-cropped
  ASSERT_TRUE(stbi_write_png((dir + "/b.PNG").c_str(), 16, 8, 3, wide.data(), 48));
  const std::vector<uint8_t> blue = solid(8, 8, 3, {10, 10, 250});
  ASSERT_TRUE(stbi_write_jpg((dir + "/sub/c.jpeg").c_str(), 8, 8, 3, blue.data(), 95));
  write_file(dir + "/sub/d.jpg", testing_images::jpeg_bytes(8, 8, 3, solid(8, 8, 3, {20, 30, 40}), 100, true));
  write_file(dir + "/broken.png", "garbage, not a PNG");
  const std::string png = read_file(dir + "/a.png");
  write_file(dir + "/cut.png", png.substr(0, png.size() / 2));
  write_file(dir + "/notes.txt", "ignored: not an image name");
  write_file(dir + "/.hidden.png", "ignored: hidden");
  write_file(dir + "/old.gif", gif_bytes(8, 8, std::vector<uint8_t>(64, 0), {20, 30, 40}));

  data::DatasetOptions options;
  options.image_size = 4;
  ::testing::internal::CaptureStderr();
  auto ds = data::open_dataset("folder:" + dir, options);
  const std::string warning = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("skipped 2 of 6"), std::string::npos) << warning;
  EXPECT_NE(warning.find("broken.png"), std::string::npos) << warning;
  EXPECT_NE(warning.find("1 file in other image formats is not read, e.g. '" + dir + "/old.gif'"), std::string::npos)
      << warning;
  ASSERT_EQ(ds->size(), 4);
  EXPECT_EQ(ds->spec().channels, 3);
  EXPECT_EQ(ds->spec().image_size, 4);
  EXPECT_NE(ds->describe().find("2 unreadable files skipped"), std::string::npos) << ds->describe();
  // Sorted by path: a.png, b.PNG, sub/c.jpeg, sub/d.jpg.
  const std::vector<std::vector<int>> expect = {{250, 10, 10}, {10, 250, 10}, {10, 10, 250}, {20, 30, 40}};
  std::vector<float> x(3 * 16);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ds->get(i, x.data()), -1);
    for (int c = 0; c < 3; ++c)
      for (int p = 0; p < 16; ++p)
        EXPECT_NEAR(x[c * 16 + p], expect[i][c] / 127.5f - 1.f, i >= 2 ? 0.05f : 1e-5f) << i << " " << c << " " << p;
  }
  // A folder of GIFs only says why nothing was read.
  fs::create_directories(path("gifs"));
  write_file(path("gifs/x.gif"), gif_bytes(8, 8, std::vector<uint8_t>(64, 0), {20, 30, 40}));
  try {
    data::open_dataset("folder:" + path("gifs"), options);
    FAIL() << "opened a folder of GIFs";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no PNG or JPEG files"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("convert them to PNG"), std::string::npos) << e.what();
  }
}

TEST_F(ImageTest, CropResizeEqualsCropThenResizeBitForBit) {
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint8_t>(state >> 56);
  };
  for (const auto& [w, h, c, size] : std::vector<std::tuple<int, int, int, int>>{
           {17, 9, 3, 4}, {9, 17, 1, 32}, {64, 64, 3, 28}, {5, 40, 3, 5}, {31, 30, 1, 64}, {1, 7, 3, 3}}) {
    Image8 img(w, h, c);
    for (uint8_t& v : img.pixels) v = next();
    const Image8 fused = image::crop_resize_square(img, size);
    // The reference: the crop as float CHW planes through resize_chw, rounded (how resize worked before it
    // learned to read the bytes a row at a time).
    const Image8 crop = image::center_crop_square(img);
    const int64_t side = crop.width, plane = side * side;
    std::vector<float> chw(static_cast<size_t>(c * plane)), out(static_cast<size_t>(c * size * size));
    for (int64_t p = 0; p < plane; ++p)
      for (int k = 0; k < c; ++k) chw[static_cast<size_t>(k * plane + p)] = crop.pixels[static_cast<size_t>(p * c + k)];
    if (side == size) out = chw;
    else image::resize_chw(chw.data(), c, side, side, out.data(), size, size);
    std::vector<uint8_t> expect(static_cast<size_t>(c * size * size));
    for (int64_t p = 0; p < size * size; ++p)
      for (int k = 0; k < c; ++k) {
        const float v = out[static_cast<size_t>(k * size * size + p)];
        expect[static_cast<size_t>(p * c + k)] = !(v > 0.f) ? 0 : v >= 255.f ? 255 : static_cast<uint8_t>(v + 0.5f);
      }
    EXPECT_EQ(fused.width, size);
    EXPECT_EQ(fused.pixels, expect) << w << "x" << h << "x" << c << " -> " << size;
    EXPECT_EQ(image::resize(crop, size, size).pixels, expect);
  }
}

TEST_F(ImageTest, FolderDatasetDetectsGrayAndFailsClearly) {
  const std::string dir = path("gray");
  fs::create_directories(dir);
  std::vector<uint8_t> g(6 * 6);
  for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<uint8_t>(i * 5);
  ASSERT_TRUE(stbi_write_png((dir + "/g.png").c_str(), 6, 6, 1, g.data(), 6));
  const std::vector<uint8_t> rgb_gray = solid(6, 6, 3, {90, 90, 90});  // RGB file, gray content
  ASSERT_TRUE(stbi_write_png((dir + "/h.png").c_str(), 6, 6, 3, rgb_gray.data(), 18));
  data::DatasetOptions options;
  options.image_size = 6;
  auto ds = data::open_dataset("folder:" + dir, options);
  ASSERT_EQ(ds->spec().channels, 1);
  std::vector<float> x(36);
  ds->get(0, x.data());
  for (int i = 0; i < 36; ++i) EXPECT_FLOAT_EQ(x[i], g[i] / 127.5f - 1.f);

  fs::create_directories(path("bad"));
  write_file(path("bad") + "/x.jpg", "not a jpeg");
  for (const std::string& name : {"folder:" + path("bad"), "folder:" + path("empty"), std::string("folder:")}) {
    if (name == "folder:" + path("empty")) fs::create_directories(path("empty"));
    try {
      ::testing::internal::CaptureStderr();
      data::open_dataset(name, options);
      ::testing::internal::GetCapturedStderr();
      FAIL() << "opened " << name;
    } catch (const std::runtime_error& e) {
      ::testing::internal::GetCapturedStderr();
      const std::string msg = e.what();
      if (name == "folder:") EXPECT_NE(msg.find("no folder given"), std::string::npos) << msg;
      else EXPECT_NE(msg.find(name.substr(7)), std::string::npos) << msg;
    }
  }
}

TEST_F(ImageTest, GridIsTiledPaddedAndSurvivesAPngRoundTrip) {
  // Three 1x2x2 images: all -1, all +1, a ramp; a 2x2 grid with padding 1 -> 7x7 RGB.
  Tensor images = from_vector<float>({-1, -1, -1, -1, 1, 1, 1, 1, -1, 0, 0.5f, 2}, {3, 1, 2, 2});
  Image8 grid = image::make_grid(images, 2, 2, 1);
  ASSERT_EQ(grid.width, 7);
  ASSERT_EQ(grid.height, 7);
  ASSERT_EQ(grid.channels, 3);
  EXPECT_EQ(*grid.at(0, 0), 128);  // padding
  EXPECT_EQ(*grid.at(1, 1), 0);    // image 0
  EXPECT_EQ(*grid.at(4, 2), 255);  // image 1
  EXPECT_EQ(*grid.at(1, 4), 0);    // image 2: -1, 0, 0.5, clamped 2
  EXPECT_EQ(*grid.at(2, 4), 128);
  EXPECT_EQ(*grid.at(1, 5), 191);
  EXPECT_EQ(*grid.at(2, 5), 255);
  EXPECT_EQ(*grid.at(5, 5), 128);  // the empty fourth cell
  image::save_png(path("grid.png"), grid);
  Image8 back = image::load_image(path("grid.png"));
  EXPECT_EQ(back.pixels, grid.pixels);
  EXPECT_FALSE(fs::exists(path("grid.png") + ".tmp." + std::to_string(::getpid())));
  EXPECT_THROW(image::make_grid(images, 1, 2, 1), std::invalid_argument);
  EXPECT_THROW(image::make_grid(from_vector<float>({1, 2}, {2}), 1, 2, 1), std::invalid_argument);
  try {
    image::save_png(path("no/such/dir/grid.png"), grid);
    FAIL() << "saved into a missing folder";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path("no/such/dir/grid.png")), std::string::npos) << e.what();
  }
}

TEST_F(ImageTest, ScatterShowsWhichModesHaveSamples) {
  data::DatasetOptions options;
  options.size = 64;
  auto ring = data::open_dataset("ring8", options);
  const Tensor centres = ring->reference_points();
  ASSERT_EQ(centres.shape(), (Shape{8, 2}));
  // A collapsed generator: every sample sits on mode 0 (2, 0); plus one far outlier.
  std::vector<float> pts;
  for (int i = 0; i < 50; ++i) pts.insert(pts.end(), {2.f + 0.01f * (i % 5), 0.01f * (i / 10)});
  pts.insert(pts.end(), {40.f, 0.f});
  const int64_t S = 256;
  Image8 img = image::render_scatter(from_vector<float>(pts, {51, 2}), centres, S);
  ASSERT_EQ(img.width, S);
  // View: centres' box [-2, 2]^2 plus a quarter of its extent -> [-3, 3]^2.
  auto pixel = [&](double x, double y) {
    return img.at(static_cast<int64_t>((x + 3) / 6 * (S - 1)), static_cast<int64_t>((3 - y) / 6 * (S - 1)));
  };
  auto count_colour = [&](double x, double y, int r, int g, int b) {  // in a 9x9 box around (x, y)
    int n = 0;
    const uint8_t* c = pixel(x, y);
    const int64_t cx = (c - img.pixels.data()) / 3 % S, cy = (c - img.pixels.data()) / 3 / S;
    for (int64_t yy = cy - 4; yy <= cy + 4; ++yy)
      for (int64_t xx = cx - 4; xx <= cx + 4; ++xx) {
        const uint8_t* p = img.at(xx, yy);
        n += std::abs(p[0] - r) < 40 && std::abs(p[1] - g) < 40 && std::abs(p[2] - b) < 40;
      }
    return n;
  };
  const std::vector<float> cv = centres.to_vector<float>();
  for (int m = 0; m < 8; ++m) {
    const int blue = count_colour(cv[2 * m], cv[2 * m + 1], 31, 119, 180);
    if (m == 0) EXPECT_GT(blue, 0) << "mode 0 has samples";
    else EXPECT_EQ(blue, 0) << "mode " << m << " has none";
    EXPECT_GT(count_colour(cv[2 * m], cv[2 * m + 1], 214, 39, 40), 0) << "mode " << m << ": its centre's red ring";
  }
  // The outlier is pinned to the right border in orange.
  int orange = 0;
  for (int64_t y = 0; y < S; ++y) orange += img.at(S - 2, y)[0] == 255 && img.at(S - 2, y)[1] == 127;
  EXPECT_GT(orange, 0);
  image::save_scatter_png(path("scatter.png"), from_vector<float>(pts, {51, 2}), centres, S);
  EXPECT_EQ(image::load_image(path("scatter.png")).pixels, img.pixels);
  EXPECT_THROW(image::render_scatter(from_vector<float>({1, 2, 3}, {1, 3})), std::invalid_argument);
}

}  // namespace
}  // namespace gan
