// 8-bit images: decoding PNG (libpng) and JPEG (libjpeg-turbo), resampling, and PNG files written atomically.
// Datasets (engine/data) decode through here; sample grids and scatter plots (engine/image/plots.h) encode
// through here (stb_image_write).
//
// Decoding trusts no file: a FIFO or other non-regular file is refused before it is opened for good, the format
// is recognised by its first bytes (other formats are named and refused: GIF, BMP, WebP, TIFF, PNM...), and the
// header's width x height is checked against a pixel cap (GAN_MAX_IMAGE_PIXELS, default 4096 x 4096) and against
// what the file's size can encode before any pixel memory is allocated. Corrupt or truncated data is an error,
// never a half-gray image.
//
// Pixels are row-major, channels interleaved (HWC), 1 channel (gray) or 3 (RGB). Alpha never survives decoding:
// it is composited over white, because the transparent sprites and icons people feed a GAN are drawn on white.
//
// Resampling is separable, one axis at a time: an axis that shrinks averages the source pixels each output pixel
// covers (area / box filter, weighted by the covered fraction, so no aliasing); an axis that grows interpolates
// linearly between pixel centres (bilinear, half-pixel centres as PyTorch's align_corners=False, edges clamped).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace gan::image {

struct Image8 {
  int64_t width = 0;
  int64_t height = 0;
  int64_t channels = 0;         // 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;  // height * width * channels bytes, row-major HWC

  Image8() = default;
  Image8(int64_t width, int64_t height, int64_t channels, uint8_t fill = 0);
  uint8_t* at(int64_t x, int64_t y) { return pixels.data() + (y * width + x) * channels; }
  const uint8_t* at(int64_t x, int64_t y) const { return pixels.data() + (y * width + x) * channels; }
};

// The pixel cap: GAN_MAX_IMAGE_PIXELS when set (an integer >= 1; anything else throws), else 4096 x 4096.
int64_t max_image_pixels();

// Decodes a PNG or JPEG file. Gray and gray+alpha come back gray, everything else RGB; alpha is composited over
// white. Throws std::runtime_error naming the file and the reason ("cannot open: No such file or directory",
// "is a FIFO (named pipe), not a regular file", "it is a GIF image; only PNG and JPEG files are read...",
// "its header says 30000 x 30000 = 900000000 pixels, more than the limit...", "corrupt or truncated PNG data
// (libpng: ...)").
Image8 load_image(const std::string& path, int64_t max_pixels = max_image_pixels());
// The same from bytes in memory; `name` is what errors call them.
Image8 decode_image(const void* bytes, size_t size, const std::string& name, int64_t max_pixels = max_image_pixels());
// What image folders load: the file decoded, its largest centred square resampled to size x size
// (crop_resize_square).
Image8 load_square(const std::string& path, int64_t size, int64_t max_pixels = max_image_pixels());

// True when every pixel has R == G == B (or the image has one channel).
bool is_gray(const Image8& img);
Image8 to_gray(const Image8& img);  // ITU-R BT.601 luma, rounded
Image8 to_rgb(const Image8& img);   // gray replicated
// The largest centred square (the longer side is cropped evenly, an odd pixel going to the far side).
Image8 center_crop_square(const Image8& img);
// Resamples to width x height (area when an axis shrinks, bilinear when it grows); throws std::invalid_argument
// for a size < 1. Works from the bytes a row at a time: no float copy of the whole image.
Image8 resize(const Image8& img, int64_t width, int64_t height);
// resize(center_crop_square(img), size, size), bit for bit, without copying the crop.
Image8 crop_resize_square(const Image8& img, int64_t size);

// The same resampling on float planes: src [channels, src_h, src_w] -> dst [channels, dst_h, dst_w], both CHW.
void resize_chw(const float* src, int64_t channels, int64_t src_h, int64_t src_w, float* dst, int64_t dst_h,
                int64_t dst_w);

// PNG encoding (8-bit gray or RGB). Throws std::invalid_argument for an empty or inconsistent image.
std::vector<uint8_t> encode_png(const Image8& img);
// Writes the PNG to `path + ".tmp.<pid>"`, then renames it over `path`, so readers never see half a file. The
// folder must exist. Throws std::runtime_error naming the path and strerror on failure (the temporary is removed).
void save_png(const std::string& path, const Image8& img);

}  // namespace gan::image
