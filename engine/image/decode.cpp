// Image files to Image8: format sniffing, the pixel cap, alpha over white; see engine/image/image.h. The
// decoders themselves are in png_decode.cpp and jpeg_decode.cpp (engine/image/decoders.h).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "engine/checked.h"
#include "engine/image/decoders.h"
#include "engine/image/image.h"
#include "engine/regular_file.h"

namespace gan::image {

namespace detail {

std::string dimension_problem(int64_t width, int64_t height, int64_t max_pixels, size_t file_size,
                              double max_pixels_per_byte) {
  const std::string dims = std::to_string(width) + " x " + std::to_string(height);
  if (width < 1 || height < 1) return "its header gives an empty size " + dims;
  const int64_t pixels = checked_mul(width, height, "image size");  // below 2^62 for PNG and JPEG headers
  if (pixels > max_pixels)
    return "its header says " + dims + " = " + std::to_string(pixels) + " pixels, more than the limit of " +
           std::to_string(max_pixels) + " (set GAN_MAX_IMAGE_PIXELS to allow larger images)";
  const double most = std::ceil(static_cast<double>(file_size) * max_pixels_per_byte) + 64.0;
  if (static_cast<double>(pixels) > most)
    return "its header says " + dims + " pixels, more than a " + std::to_string(file_size) +
           "-byte file can hold: truncated or corrupt";
  return "";
}

}  // namespace detail

namespace {

constexpr int64_t kDefaultMaxPixels = int64_t{4096} * 4096;

uint8_t over_white(int value, int alpha) {
  return static_cast<uint8_t>((value * alpha + 255 * (255 - alpha) + 127) / 255);
}

bool starts_with(const uint8_t* b, size_t n, const char* magic, size_t m) {
  return n >= m && std::memcmp(b, magic, m) == 0;
}

// What a file that is neither PNG nor JPEG looks like, for the error.
std::string other_format(const uint8_t* b, size_t n) {
  if (starts_with(b, n, "GIF8", 4)) return "a GIF image";
  if (starts_with(b, n, "BM", 2)) return "a BMP image";
  if (n >= 12 && starts_with(b, n, "RIFF", 4) && std::memcmp(b + 8, "WEBP", 4) == 0) return "a WebP image";
  if (starts_with(b, n, "II*\0", 4) || starts_with(b, n, "MM\0*", 4)) return "a TIFF image";
  if (n >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7') return "a PNM/PGM/PPM image";
  return "";
}

// The decoder's output as Image8: gray and RGB as they are, alpha composited over white in place.
Image8 to_image8(detail::Decoded d) {
  const size_t count = static_cast<size_t>(d.width) * static_cast<size_t>(d.height);
  uint8_t* p = d.pixels.data();
  if (d.channels == 2) {
    for (size_t i = 0; i < count; ++i) p[i] = over_white(p[2 * i], p[2 * i + 1]);
  } else if (d.channels == 4) {
    for (size_t i = 0; i < count; ++i)
      for (int c = 0; c < 3; ++c) p[3 * i + c] = over_white(p[4 * i + c], p[4 * i + 3]);
  }
  Image8 img;
  img.width = d.width;
  img.height = d.height;
  img.channels = d.channels <= 2 ? 1 : 3;
  d.pixels.resize(count * static_cast<size_t>(img.channels));
  img.pixels = std::move(d.pixels);
  return img;
}

}  // namespace

int64_t max_image_pixels() {
  const char* env = std::getenv("GAN_MAX_IMAGE_PIXELS");
  if (!env || !*env) return kDefaultMaxPixels;
  return parse_int(env, "GAN_MAX_IMAGE_PIXELS", 1, int64_t{1} << 40);
}

Image8 decode_image(const void* data, size_t size, const std::string& name, int64_t max_pixels) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  try {
    if (size == 0) throw std::runtime_error("the file is empty");
    if (starts_with(bytes, size, "\x89PNG\r\n\x1a\n", 8)) return to_image8(detail::decode_png(bytes, size, max_pixels));
    if (starts_with(bytes, size, "\xff\xd8\xff", 3)) return to_image8(detail::decode_jpeg(bytes, size, max_pixels));
    const std::string other = other_format(bytes, size);
    if (other.empty()) throw std::runtime_error("not a PNG or JPEG file");
    throw std::runtime_error("it is " + other + "; only PNG and JPEG files are read (convert it to PNG, e.g. with "
                             "ImageMagick: mogrify -format png FILE)");
  } catch (const std::bad_alloc&) {
    throw std::runtime_error("cannot decode image '" + name + "': out of memory");
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot decode image '" + name + "': " + e.what());
  }
}

Image8 load_image(const std::string& path, int64_t max_pixels) {
  // A file far larger than the largest image allowed could encode is not read whole.
  const uint64_t max_bytes = static_cast<uint64_t>(max_pixels) * 8 + (uint64_t{1} << 20);
  const std::string bytes = read_regular_file(path, "cannot read image", max_bytes);
  return decode_image(bytes.data(), bytes.size(), path, max_pixels);
}

Image8 load_square(const std::string& path, int64_t size, int64_t max_pixels) {
  return crop_resize_square(load_image(path, max_pixels), size);
}

}  // namespace gan::image
