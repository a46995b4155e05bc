// Resampling and PNG writing; see engine/image/image.h. Decoding is in decode.cpp. stb_image_write comes
// compiled in Debian's libstb (libstb-dev), so this file includes only its declarations.
#include "engine/image/image.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <stb/stb_image_write.h>

namespace gan::image {

Image8::Image8(int64_t w, int64_t h, int64_t c, uint8_t fill) : width(w), height(h), channels(c) {
  if (w < 1 || h < 1 || (c != 1 && c != 3))
    throw std::invalid_argument("Image8: bad size " + std::to_string(w) + "x" + std::to_string(h) + "x" +
                                std::to_string(c) + " (want width, height >= 1 and 1 or 3 channels)");
  pixels.assign(static_cast<size_t>(w * h * c), fill);
}

namespace {

uint8_t clamp_round(float v) {
  if (!(v > 0.f)) return 0;  // also NaN
  if (v >= 255.f) return 255;
  return static_cast<uint8_t>(v + 0.5f);
}

// One output coordinate's contributions: source indices first..first+weights.size()-1 with those weights.
struct Taps {
  int64_t first = 0;
  std::vector<float> weights;
};

// Area weights when shrinking (each output pixel averages the source interval it covers), bilinear when growing.
std::vector<Taps> axis_taps(int64_t src, int64_t dst) {
  std::vector<Taps> taps(static_cast<size_t>(dst));
  if (dst < src) {
    const double scale = static_cast<double>(src) / static_cast<double>(dst);
    for (int64_t o = 0; o < dst; ++o) {
      const double lo = o * scale, hi = (o + 1) * scale;
      const int64_t first = static_cast<int64_t>(std::floor(lo));
      const int64_t last = std::min<int64_t>(src - 1, static_cast<int64_t>(std::ceil(hi)) - 1);
      Taps& t = taps[static_cast<size_t>(o)];
      t.first = first;
      for (int64_t i = first; i <= last; ++i) {
        const double cover = std::min<double>(hi, static_cast<double>(i + 1)) - std::max<double>(lo, static_cast<double>(i));
        t.weights.push_back(static_cast<float>(std::max(0.0, cover) / scale));
      }
    }
  } else {
    const double scale = static_cast<double>(src) / static_cast<double>(dst);
    for (int64_t o = 0; o < dst; ++o) {
      const double x = std::clamp((o + 0.5) * scale - 0.5, 0.0, static_cast<double>(src - 1));
      const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(x)), src - 1);
      const double f = x - static_cast<double>(i0);
      Taps& t = taps[static_cast<size_t>(o)];
      t.first = i0;
      t.weights.push_back(static_cast<float>(1.0 - f));
      if (i0 + 1 < src) t.weights.push_back(static_cast<float>(f));
    }
  }
  return taps;
}

}  // namespace

bool is_gray(const Image8& img) {
  if (img.channels == 1) return true;
  for (size_t p = 0; p + 2 < img.pixels.size(); p += 3)
    if (img.pixels[p] != img.pixels[p + 1] || img.pixels[p] != img.pixels[p + 2]) return false;
  return true;
}

Image8 to_gray(const Image8& img) {
  if (img.channels == 1) return img;
  Image8 out(img.width, img.height, 1);
  for (size_t p = 0; p < out.pixels.size(); ++p) {
    const uint8_t* s = img.pixels.data() + 3 * p;
    out.pixels[p] = static_cast<uint8_t>((299 * s[0] + 587 * s[1] + 114 * s[2] + 500) / 1000);
  }
  return out;
}

Image8 to_rgb(const Image8& img) {
  if (img.channels == 3) return img;
  Image8 out(img.width, img.height, 3);
  for (size_t p = 0; p < img.pixels.size(); ++p) std::memset(out.pixels.data() + 3 * p, img.pixels[p], 3);
  return out;
}

Image8 center_crop_square(const Image8& img) {
  const int64_t side = std::min(img.width, img.height);
  if (img.width == img.height) return img;
  const int64_t x0 = (img.width - side) / 2, y0 = (img.height - side) / 2;
  Image8 out(side, side, img.channels);
  for (int64_t y = 0; y < side; ++y)
    std::memcpy(out.at(0, y), img.at(x0, y0 + y), static_cast<size_t>(side * img.channels));
  return out;
}

namespace {

// One channel through both passes: along x, reading source row y's pixel i as at(y, i), into `rows` (src_h x
// dst_w), then along y, handing output pixel (x, y) to put(y, x, value). Both resize paths share it, so they
// agree bit for bit.
template <class At, class Put>
void resample_plane(const std::vector<Taps>& tx, const std::vector<Taps>& ty, int64_t src_h, std::vector<float>& rows,
                    At at, Put put) {
  const int64_t dst_w = static_cast<int64_t>(tx.size()), dst_h = static_cast<int64_t>(ty.size());
  for (int64_t y = 0; y < src_h; ++y)
    for (int64_t x = 0; x < dst_w; ++x) {
      const Taps& t = tx[static_cast<size_t>(x)];
      float acc = 0.f;
      for (size_t k = 0; k < t.weights.size(); ++k) acc += t.weights[k] * at(y, t.first + static_cast<int64_t>(k));
      rows[static_cast<size_t>(y * dst_w + x)] = acc;
    }
  for (int64_t y = 0; y < dst_h; ++y) {
    const Taps& t = ty[static_cast<size_t>(y)];
    for (int64_t x = 0; x < dst_w; ++x) {
      float acc = 0.f;
      for (size_t k = 0; k < t.weights.size(); ++k)
        acc += t.weights[k] * rows[static_cast<size_t>((t.first + static_cast<int64_t>(k)) * dst_w + x)];
      put(y, x, acc);
    }
  }
}

// Resamples the w x h window at (x0, y0) of img to dst_w x dst_h, straight from the bytes: the memory it needs is
// the window's height x dst_w floats, whatever the image's size.
Image8 resample_window(const Image8& img, int64_t x0, int64_t y0, int64_t w, int64_t h, int64_t dst_w,
                       int64_t dst_h) {
  const int64_t C = img.channels;
  const std::vector<Taps> tx = axis_taps(w, dst_w), ty = axis_taps(h, dst_h);
  std::vector<float> rows(static_cast<size_t>(h * dst_w));
  Image8 out(dst_w, dst_h, C);
  for (int64_t c = 0; c < C; ++c) {
    const uint8_t* src = img.pixels.data() + (y0 * img.width + x0) * C + c;
    uint8_t* dst = out.pixels.data() + c;
    resample_plane(
        tx, ty, h, rows, [&](int64_t y, int64_t i) { return static_cast<float>(src[(y * img.width + i) * C]); },
        [&](int64_t y, int64_t x, float v) { dst[(y * dst_w + x) * C] = clamp_round(v); });
  }
  return out;
}

}  // namespace

void resize_chw(const float* src, int64_t channels, int64_t src_h, int64_t src_w, float* dst, int64_t dst_h,
                int64_t dst_w) {
  if (channels < 1 || src_h < 1 || src_w < 1 || dst_h < 1 || dst_w < 1)
    throw std::invalid_argument("resize: bad sizes [" + std::to_string(channels) + ", " + std::to_string(src_h) +
                                ", " + std::to_string(src_w) + "] -> [" + std::to_string(dst_h) + ", " +
                                std::to_string(dst_w) + "]");
  const std::vector<Taps> tx = axis_taps(src_w, dst_w), ty = axis_taps(src_h, dst_h);
  std::vector<float> rows(static_cast<size_t>(src_h * dst_w));  // one channel resampled along x
  for (int64_t c = 0; c < channels; ++c) {
    const float* s = src + c * src_h * src_w;
    float* d = dst + c * dst_h * dst_w;
    resample_plane(
        tx, ty, src_h, rows, [&](int64_t y, int64_t i) { return s[y * src_w + i]; },
        [&](int64_t y, int64_t x, float v) { d[y * dst_w + x] = v; });
  }
}

Image8 resize(const Image8& img, int64_t width, int64_t height) {
  if (width < 1 || height < 1)
    throw std::invalid_argument("resize: target size " + std::to_string(width) + "x" + std::to_string(height) +
                                " (want >= 1x1)");
  if (width == img.width && height == img.height) return img;
  return resample_window(img, 0, 0, img.width, img.height, width, height);
}

Image8 crop_resize_square(const Image8& img, int64_t size) {
  if (size < 1) throw std::invalid_argument("crop_resize_square: size " + std::to_string(size) + " (want >= 1)");
  const int64_t side = std::min(img.width, img.height);
  if (side == size) return center_crop_square(img);
  return resample_window(img, (img.width - side) / 2, (img.height - side) / 2, side, side, size, size);
}

std::vector<uint8_t> encode_png(const Image8& img) {
  if (img.width < 1 || img.height < 1 || (img.channels != 1 && img.channels != 3) ||
      img.pixels.size() != static_cast<size_t>(img.width * img.height * img.channels))
    throw std::invalid_argument("encode_png: inconsistent image " + std::to_string(img.width) + "x" +
                                std::to_string(img.height) + "x" + std::to_string(img.channels) + " with " +
                                std::to_string(img.pixels.size()) + " bytes");
  std::vector<uint8_t> bytes;
  auto sink = [](void* ctx, void* data, int size) {
    auto* v = static_cast<std::vector<uint8_t>*>(ctx);
    v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  if (!stbi_write_png_to_func(sink, &bytes, static_cast<int>(img.width), static_cast<int>(img.height),
                              static_cast<int>(img.channels), img.pixels.data(),
                              static_cast<int>(img.width * img.channels)))
    throw std::runtime_error("encode_png: stb_image_write failed for a " + std::to_string(img.width) + "x" +
                             std::to_string(img.height) + " image");
  return bytes;
}

void save_png(const std::string& path, const Image8& img) {
  const std::vector<uint8_t> bytes = encode_png(img);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  auto fail = [&](const std::string& what, int err, int fd) {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw std::runtime_error("save_png: " + what + " '" + path + "': " + std::strerror(err));
  };
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    throw std::runtime_error("save_png: cannot create '" + tmp + "' (for '" + path + "'): " + std::strerror(err) +
                             (err == ENOENT ? " (does the folder exist?)" : ""));
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", errno, fd);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) fail("cannot close", errno, -1);
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename the temporary file onto", errno, -1);
}

}  // namespace gan::image
