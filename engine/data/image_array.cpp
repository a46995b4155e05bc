// ImageArrayDataset and the data root; see engine/data/builtin.h.
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "engine/data/builtin.h"
#include "engine/image/image.h"

namespace gan::data::builtin {

std::string data_root() {
  if (const char* d = std::getenv("GAN_DATA_DIR"); d && *d) return d;
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/gan-engine";
  return "/tmp/gan-engine";
}

ImageArrayDataset::ImageArrayDataset(std::string name, std::vector<uint8_t> pixels, std::vector<int64_t> labels,
                                     int64_t count, int64_t native_size, int64_t pad_up_to, DataSpec spec,
                                     std::string source)
    : name_(std::move(name)),
      pixels_(std::move(pixels)),
      labels_(std::move(labels)),
      count_(count),
      native_(native_size),
      pad_up_to_(pad_up_to),
      spec_(std::move(spec)),
      source_(std::move(source)) {
  if (static_cast<int64_t>(pixels_.size()) != count_ * spec_.channels * native_ * native_ ||
      (!labels_.empty() && static_cast<int64_t>(labels_.size()) != count_) || spec_.image_size < 1)
    throw std::logic_error(name_ + ": inconsistent image array");
}

int64_t ImageArrayDataset::get(int64_t i, float* out) const {
  if (i < 0 || i >= count_)
    throw std::out_of_range(name_ + ": example " + std::to_string(i) + " out of range [0, " + std::to_string(count_) + ")");
  const int64_t C = spec_.channels, N = native_, S = spec_.image_size;
  const uint8_t* src = pixels_.data() + i * C * N * N;
  auto to_unit = [](uint8_t v) { return static_cast<float>(v) / 127.5f - 1.f; };
  if (S == N) {
    for (int64_t k = 0; k < C * N * N; ++k) out[k] = to_unit(src[k]);
  } else if (S > N && S <= pad_up_to_) {
    const int64_t off = (S - N) / 2;
    for (int64_t k = 0; k < C * S * S; ++k) out[k] = -1.f;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < N; ++y)
        for (int64_t x = 0; x < N; ++x) out[(c * S + y + off) * S + x + off] = to_unit(src[(c * N + y) * N + x]);
  } else {
    std::vector<float> native(static_cast<size_t>(C * N * N));
    for (size_t k = 0; k < native.size(); ++k) native[k] = to_unit(src[k]);
    image::resize_chw(native.data(), C, N, N, out, S, S);
  }
  return labels_.empty() ? -1 : labels_[static_cast<size_t>(i)];
}

std::string ImageArrayDataset::describe() const {
  std::string shape = std::to_string(spec_.channels) + "x" + std::to_string(spec_.image_size) + "x" +
                      std::to_string(spec_.image_size);
  std::string how;
  if (spec_.image_size != native_)
    how = spec_.image_size > native_ && spec_.image_size <= pad_up_to_ ? " (padded from " : " (resized from ";
  if (!how.empty()) how += std::to_string(native_) + "x" + std::to_string(native_) + ")";
  return name_ + ": " + std::to_string(count_) + " images " + shape + how +
         (spec_.num_classes ? ", " + std::to_string(spec_.num_classes) + " classes" : std::string()) + ", from " +
         source_;
}

}  // namespace gan::data::builtin
