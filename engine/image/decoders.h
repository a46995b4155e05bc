// The image decoders behind decode_image (engine/image/image.h), one file each: PNG through libpng
// (engine/image/png_decode.cpp), JPEG through libjpeg-turbo's TurboJPEG API (engine/image/jpeg_decode.cpp). Both
// libraries are fuzzed continuously upstream and are what Pillow and torchvision decode with. stb_image is not
// used for decoding: Debian's 2.27 is not memory-safe on hostile JPEGs and reads past short PNM/GIF data.
//
// Each decoder reads the header first and refuses, before allocating anything for the pixels, an image of more
// than max_pixels pixels or one the file is too short to encode (a lower bound on the compressed bytes any valid
// file of those dimensions needs), so a small file cannot make it allocate much.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gan::image::detail {

// 8-bit pixels, row-major, channels interleaved: 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
struct Decoded {
  int64_t width = 0;
  int64_t height = 0;
  int64_t channels = 0;
  std::vector<uint8_t> pixels;
};

// Both throw std::runtime_error with the reason only (decode_image adds the file's name).
Decoded decode_png(const uint8_t* bytes, size_t size, int64_t max_pixels);
Decoded decode_jpeg(const uint8_t* bytes, size_t size, int64_t max_pixels);

// The reason an image of width x height is refused before decoding, or "" when it may be decoded:
// more than max_pixels pixels, or more than a file of file_size bytes can encode at `pixels_per_byte` at most.
std::string dimension_problem(int64_t width, int64_t height, int64_t max_pixels, size_t file_size,
                              double max_pixels_per_byte);

}  // namespace gan::image::detail
