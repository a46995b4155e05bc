// JPEG decoding through libjpeg-turbo's TurboJPEG API; see engine/image/decoders.h.
//
// Strict: a libjpeg warning (premature end of data, corrupt entropy data...) is an error here, where libjpeg
// alone would fill the rest with gray; progressive files with an absurd number of scans (a known way to make a
// small file decode for minutes) are refused; CMYK files are refused (they need colour management to look right).
#include <turbojpeg.h>

#include <stdexcept>
#include <string>

#include "engine/image/decoders.h"

namespace gan::image::detail {

namespace {

// Every Huffman-coded JPEG codes each 8x8 block of its largest component with at least one bit in its first DC
// scan, so it holds at least width x height / 512 bytes.
constexpr double kMaxPixelsPerByte = 512.0;

struct Handle {
  tjhandle h = tjInitDecompress();
  ~Handle() {
    if (h) tjDestroy(h);
  }
  std::string error() const { return h ? tjGetErrorStr2(h) : tjGetErrorStr2(nullptr); }
};

[[noreturn]] void fail(const Handle& t) {
  throw std::runtime_error("corrupt or truncated JPEG data (libjpeg-turbo: " + t.error() + ")");
}

}  // namespace

Decoded decode_jpeg(const uint8_t* bytes, size_t size, int64_t max_pixels) {
  Handle t;
  if (!t.h) throw std::runtime_error("libjpeg-turbo cannot start: " + t.error());
  int width = 0, height = 0, subsampling = 0, colorspace = 0;
  if (tjDecompressHeader3(t.h, bytes, static_cast<unsigned long>(size), &width, &height, &subsampling,
                          &colorspace) != 0)
    fail(t);
  const std::string problem = dimension_problem(width, height, max_pixels, size, kMaxPixelsPerByte);
  if (!problem.empty()) throw std::runtime_error(problem);
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK)
    throw std::runtime_error("CMYK JPEGs are not read; convert the image to RGB (e.g. with ImageMagick: convert "
                             "in.jpg -colorspace sRGB out.png)");

  Decoded d;
  d.width = width;
  d.height = height;
  d.channels = colorspace == TJCS_GRAY ? 1 : 3;
  d.pixels.resize(static_cast<size_t>(width) * static_cast<size_t>(height) * static_cast<size_t>(d.channels));
  if (tjDecompress2(t.h, bytes, static_cast<unsigned long>(size), d.pixels.data(), width, 0, height,
                    d.channels == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS) != 0)
    fail(t);
  return d;
}

}  // namespace gan::image::detail
