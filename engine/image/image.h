// 8-bit images: decoding (PNG, JPEG, BMP, GIF's first frame... everything stb_image reads), resampling, and PNG
// files written atomically. Datasets (engine/data) decode through here; sample grids and scatter plots
// (engine/image/plots.h) encode through here.
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

// Decodes a file (PNG, JPEG, BMP, GIF: the first frame, TGA, PNM, PSD, HDR: whatever stb_image reads). Gray and
// gray+alpha come back gray, everything else RGB; alpha is composited over white. Throws std::runtime_error
// naming the file and stb_image's reason ("can't fopen", "unknown image type", "bad huffman code", ...).
Image8 load_image(const std::string& path);
// The same from bytes in memory; `name` is what errors call them.
Image8 decode_image(const void* bytes, size_t size, const std::string& name);

// True when every pixel has R == G == B (or the image has one channel).
bool is_gray(const Image8& img);
Image8 to_gray(const Image8& img);  // ITU-R BT.601 luma, rounded
Image8 to_rgb(const Image8& img);   // gray replicated
// The largest centred square (the longer side is cropped evenly, an odd pixel going to the far side).
Image8 center_crop_square(const Image8& img);
// Resamples to width x height (area when an axis shrinks, bilinear when it grows); throws std::invalid_argument
// for a size < 1.
Image8 resize(const Image8& img, int64_t width, int64_t height);

// The same resampling on float planes: src [channels, src_h, src_w] -> dst [channels, dst_h, dst_w], both CHW.
void resize_chw(const float* src, int64_t channels, int64_t src_h, int64_t src_w, float* dst, int64_t dst_h,
                int64_t dst_w);

// PNG encoding (8-bit gray or RGB). Throws std::invalid_argument for an empty or inconsistent image.
std::vector<uint8_t> encode_png(const Image8& img);
// Writes the PNG to `path + ".tmp.<pid>"`, then renames it over `path`, so readers never see half a file. The
// folder must exist. Throws std::runtime_error naming the path and strerror on failure (the temporary is removed).
void save_png(const std::string& path, const Image8& img);

}  // namespace gan::image
