// PNG and JPEG files in the variants decoders must handle, made in memory with libpng and libjpeg-turbo: palette,
// 1/2/4/16-bit depths, tRNS transparency, Adam7 interlacing, gray + alpha, RGBA; baseline and progressive JPEG,
// gray and colour. Used by the image tests and by the fuzz seed generator (tests/fuzz/make_corpus.cpp).
#pragma once

#include <png.h>
#include <turbojpeg.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace gan::testing_images {

struct PngSpec {
  int width = 4, height = 3;
  int color_type = PNG_COLOR_TYPE_RGB;  // PNG_COLOR_TYPE_*
  int bit_depth = 8;
  bool interlaced = false;
  std::vector<uint8_t> rows;              // height rows of packed samples, as libpng takes them (16-bit: big-endian)
  std::vector<uint8_t> palette;           // RGB triples (palette images)
  std::vector<uint8_t> trns;              // palette alpha, or one gray / RGB colour key (16-bit values)
};

inline PngSpec png_spec(int width, int height, int color_type, int bit_depth, std::vector<uint8_t> rows,
                        bool interlaced = false) {
  PngSpec s;
  s.width = width;
  s.height = height;
  s.color_type = color_type;
  s.bit_depth = bit_depth;
  s.rows = std::move(rows);
  s.interlaced = interlaced;
  return s;
}

inline std::string png_bytes(const PngSpec& s) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::string out;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    throw std::runtime_error("png_bytes: libpng failed");
  }
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, size_t n) {
        static_cast<std::string*>(png_get_io_ptr(p))->append(reinterpret_cast<const char*>(data), n);
      },
      nullptr);
  png_set_IHDR(png, info, s.width, s.height, s.bit_depth, s.color_type,
               s.interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_color> pal;
  for (size_t i = 0; i + 2 < s.palette.size(); i += 3)
    pal.push_back({s.palette[i], s.palette[i + 1], s.palette[i + 2]});
  if (!pal.empty()) png_set_PLTE(png, info, pal.data(), static_cast<int>(pal.size()));
  png_color_16 key{};
  if (!s.trns.empty()) {
    if (s.color_type == PNG_COLOR_TYPE_PALETTE) {
      png_set_tRNS(png, info, s.trns.data(), static_cast<int>(s.trns.size()), nullptr);
    } else {
      key.gray = s.trns[0];
      key.red = s.trns[0];
      key.green = s.trns.size() > 1 ? s.trns[1] : 0;
      key.blue = s.trns.size() > 2 ? s.trns[2] : 0;
      png_set_tRNS(png, info, nullptr, 0, &key);
    }
  }
  png_write_info(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  std::vector<png_bytep> rows(static_cast<size_t>(s.height));
  for (int y = 0; y < s.height; ++y) rows[static_cast<size_t>(y)] = const_cast<png_bytep>(s.rows.data() + y * rowbytes);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

// An 8-bit image (1 or 3 channels) as JPEG; progressive when asked.
inline std::string jpeg_bytes(int width, int height, int channels, const std::vector<uint8_t>& pixels, int quality,
                              bool progressive) {
  tjhandle h = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const int flags = progressive ? TJFLAG_PROGRESSIVE : 0;
  const int rc = tjCompress2(h, pixels.data(), width, 0, height, channels == 1 ? TJPF_GRAY : TJPF_RGB, &buf, &size,
                             channels == 1 ? TJSAMP_GRAY : TJSAMP_420, quality, flags);
  std::string out = rc == 0 ? std::string(reinterpret_cast<const char*>(buf), size) : std::string();
  tjFree(buf);
  tjDestroy(h);
  if (rc != 0) throw std::runtime_error("jpeg_bytes: libjpeg-turbo failed");
  return out;
}

}  // namespace gan::testing_images
