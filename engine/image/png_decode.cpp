// PNG decoding through libpng's low-level API; see engine/image/decoders.h.
//
// libpng reports errors by longjmp. Every libpng call therefore happens inside one of the small functions below
// that set the jump point and hold only plain C data, so no C++ destructor is ever skipped; each returns false
// when libpng failed, with its message kept in the PngRead.
#include <png.h>

#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "engine/image/decoders.h"

namespace gan::image::detail {

namespace {

// Deflate's best compression is about 1032:1, so a PNG's compressed image data is at least its raw (filtered)
// bytes / 1032; 1100 leaves a margin.
constexpr double kMaxDeflateRatio = 1100.0;

struct PngRead {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  char message[200] = {0};
  png_structp png = nullptr;
  png_infop info = nullptr;
  // From the header:
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  // After the transforms:
  int channels = 0, passes = 1;
  size_t rowbytes = 0;
};

extern "C" void on_png_read(png_structp png, png_bytep out, size_t n) {
  auto* r = static_cast<PngRead*>(png_get_io_ptr(png));
  if (n > r->size - r->pos) png_error(png, "unexpected end of file");
  std::memcpy(out, r->data + r->pos, n);
  r->pos += n;
}

extern "C" void on_png_error(png_structp png, png_const_charp message) {
  auto* r = static_cast<PngRead*>(png_get_error_ptr(png));
  std::snprintf(r->message, sizeof r->message, "%s", message ? message : "unknown error");
  png_longjmp(png, 1);
}

extern "C" void on_png_warning(png_structp, png_const_charp) {}  // benign (bad ancillary chunks): decode anyway

bool read_header(PngRead* r) {
  if (setjmp(png_jmpbuf(r->png))) return false;
  // Our own pixel cap is checked after the header; these stop libpng's own allocations for ancillary chunks.
  png_set_user_limits(r->png, 0x7fffffff, 0x7fffffff);
  png_set_chunk_cache_max(r->png, 256);
  png_set_chunk_malloc_max(r->png, 8u << 20);
  png_read_info(r->png, r->info);
  png_get_IHDR(r->png, r->info, &r->width, &r->height, &r->bit_depth, &r->color_type, &r->interlace, nullptr,
               nullptr);
  return true;
}

// To 8-bit gray, gray + alpha, RGB or RGBA: palettes expanded, tRNS made alpha, 16 bits cut to their high byte.
bool set_transforms(PngRead* r) {
  if (setjmp(png_jmpbuf(r->png))) return false;
  if (r->color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
  if (r->color_type == PNG_COLOR_TYPE_GRAY && r->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
  if (png_get_valid(r->png, r->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(r->png);
  if (r->bit_depth == 16) png_set_strip_16(r->png);
  r->passes = png_set_interlace_handling(r->png);
  png_read_update_info(r->png, r->info);
  r->channels = png_get_channels(r->png, r->info);
  r->rowbytes = png_get_rowbytes(r->png, r->info);
  return true;
}

// Row by row (pass by pass when interlaced) into `out`, which holds height x rowbytes bytes.
bool read_rows(PngRead* r, uint8_t* out) {
  if (setjmp(png_jmpbuf(r->png))) return false;
  for (int pass = 0; pass < r->passes; ++pass)
    for (png_uint_32 y = 0; y < r->height; ++y)
      png_read_row(r->png, out + static_cast<size_t>(y) * r->rowbytes, nullptr);
  return true;
}

// Owns the libpng structures.
struct PngHandles {
  PngRead* r;
  ~PngHandles() { png_destroy_read_struct(&r->png, r->info ? &r->info : nullptr, nullptr); }
};

[[noreturn]] void fail(const PngRead& r) {
  throw std::runtime_error(std::string("corrupt or truncated PNG data (libpng: ") + r.message + ")");
}

}  // namespace

Decoded decode_png(const uint8_t* bytes, size_t size, int64_t max_pixels) {
  PngRead r;
  r.data = bytes;
  r.size = size;
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_png_error, on_png_warning);
  if (!r.png) throw std::runtime_error("libpng cannot start (out of memory)");
  PngHandles handles{&r};
  r.info = png_create_info_struct(r.png);
  if (!r.info) throw std::runtime_error("libpng cannot start (out of memory)");
  png_set_read_fn(r.png, &r, on_png_read);
  if (!read_header(&r)) fail(r);

  // The fewest bytes any PNG of this size can hold: the raw rows (a filter byte each, then the packed samples)
  // compressed at deflate's best ratio.
  const int samples = png_get_channels(r.png, r.info);  // in the file: 1 for a palette
  const double row_bytes = 1.0 + std::ceil(static_cast<double>(r.width) * samples * r.bit_depth / 8.0);
  const double pixels_per_byte = kMaxDeflateRatio * static_cast<double>(r.width) / row_bytes;
  const std::string problem = dimension_problem(r.width, r.height, max_pixels, size, pixels_per_byte);
  if (!problem.empty()) throw std::runtime_error(problem);

  if (!set_transforms(&r)) fail(r);
  if (r.channels < 1 || r.channels > 4 || r.rowbytes != static_cast<size_t>(r.width) * r.channels)
    throw std::runtime_error("unexpected PNG layout after conversion to 8 bits (" + std::to_string(r.channels) +
                             " channels, " + std::to_string(r.rowbytes) + " bytes per row)");
  Decoded d;
  d.width = r.width;
  d.height = r.height;
  d.channels = r.channels;
  d.pixels.resize(static_cast<size_t>(r.height) * r.rowbytes);
  if (!read_rows(&r, d.pixels.data())) fail(r);
  return d;
}

}  // namespace gan::image::detail
