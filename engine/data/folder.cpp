// Image folders ("folder:PATH") and the fetched Pokémon set, which is one.
//
// Every .png/.jpg/.jpeg under PATH (recursively, sorted by path so the order never depends on the file system;
// hidden files skipped) is decoded once at open time on a few threads (engine/image/image.h: libpng and
// libjpeg-turbo, a pixel cap per image), alpha composited over white, the largest centred square kept (the usual
// Resize+CenterCrop of GAN data pipelines) and resized to the model's size (area down, bilinear up), then held in
// memory as bytes. Gray when every image is gray (R = G = B everywhere), else RGB. Unreadable files are skipped
// with one warning on stderr giving the count and the first error; none readable is an error. Files in other
// image formats (.gif, .bmp, .webp, ...) are not read: the errors say how many there are and how to convert them.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "engine/data/builtin.h"
#include "engine/image/image.h"

namespace gan::data::builtin {

namespace {

namespace fs = std::filesystem;

constexpr int64_t kDefaultSize = 64;

std::string lower_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool is_image_name(const fs::path& p) {
  const std::string ext = lower_extension(p);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// Image formats people may have in a folder that are not read here.
bool is_other_image_name(const fs::path& p) {
  const std::string ext = lower_extension(p);
  return ext == ".gif" || ext == ".bmp" || ext == ".webp" || ext == ".tif" || ext == ".tiff" || ext == ".ppm" ||
         ext == ".pgm" || ext == ".tga";
}

struct Listing {
  std::vector<std::string> files;  // PNG and JPEG names, sorted
  size_t other_images = 0;         // files named as other image formats
  std::string other_example;

  // "3 files in other image formats are not read, e.g. 'x.gif': convert them to PNG ...", or "".
  std::string other_note() const {
    if (other_images == 0) return "";
    return std::to_string(other_images) + " file" + (other_images == 1 ? "" : "s") + " in other image formats " +
           (other_images == 1 ? "is" : "are") + " not read, e.g. '" + other_example +
           "': convert them to PNG, e.g. with ImageMagick: mogrify -format png FILE...";
  }
};

Listing list_images(const fs::path& dir) {
  Listing listing;
  std::vector<std::string>& files = listing.files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) throw std::runtime_error("cannot list '" + dir.string() + "': " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw std::runtime_error("cannot list '" + dir.string() + "': " + ec.message());
    const fs::path& p = it->path();
    if (p.filename().string().starts_with(".")) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (is_image_name(p) && it->is_regular_file(ec)) {
      files.push_back(p.string());
    } else if (is_other_image_name(p) && it->is_regular_file(ec) && listing.other_images++ == 0) {
      listing.other_example = p.string();
    }
  }
  std::sort(files.begin(), files.end());
  return listing;
}

// name: what errors and describe() call the set; channels: 0 to detect, 3 to force RGB.
std::unique_ptr<Dataset> open_images(const std::string& name, const fs::path& dir, int64_t size, int64_t channels,
                                     const std::string& when_empty) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error(name + ": '" + dir.string() + "' is not a folder" +
                             (when_empty.empty() ? "" : "; " + when_empty));
  const Listing listing = list_images(dir);
  const std::vector<std::string>& files = listing.files;
  if (files.empty())
    throw std::runtime_error(name + ": no PNG or JPEG files under '" + dir.string() + "'" +
                             (listing.other_images ? " (" + listing.other_note() + ")" : "") +
                             (when_empty.empty() ? "" : "; " + when_empty));
  const int64_t max_pixels = image::max_image_pixels();

  std::vector<image::Image8> images(files.size());
  std::vector<std::string> errors(files.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < files.size();) {
      try {
        images[i] = image::load_square(files[i], size, max_pixels);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    }
  };
  const size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), 8);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < std::min(threads, files.size()); ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();

  size_t skipped = 0, first_error = files.size();
  bool all_gray = true;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!errors[i].empty()) {
      if (skipped++ == 0) first_error = i;
    } else if (all_gray && !image::is_gray(images[i])) {
      all_gray = false;
    }
  }
  const size_t count = files.size() - skipped;
  if (count == 0)
    throw std::runtime_error(name + ": none of the " + std::to_string(files.size()) + " image files under '" +
                             dir.string() + "' could be read; the first: " + errors[first_error]);
  if (skipped)
    std::cerr << name << ": warning: skipped " << skipped << " of " << files.size()
              << " image files that could not be read; the first: " << errors[first_error] << "\n";
  if (listing.other_images) std::cerr << name << ": warning: " << listing.other_note() << "\n";
  if (channels == 0) channels = all_gray ? 1 : 3;

  const int64_t plane = size * size;
  std::vector<uint8_t> pixels(count * static_cast<size_t>(channels * plane));
  size_t k = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!errors[i].empty()) continue;
    const image::Image8 img = channels == 1 ? image::to_gray(images[i]) : image::to_rgb(images[i]);
    uint8_t* dst = pixels.data() + k++ * static_cast<size_t>(channels * plane);
    for (int64_t p = 0; p < plane; ++p)
      for (int64_t c = 0; c < channels; ++c) dst[c * plane + p] = img.pixels[static_cast<size_t>(p * channels + c)];
    images[i] = image::Image8();
  }
  DataSpec spec;
  spec.kind = ExampleKind::Image;
  spec.channels = channels;
  spec.image_size = size;
  std::string source = "'";
  source += dir.string();
  source += '\'';
  if (skipped) source += " (" + std::to_string(skipped) + " unreadable files skipped)";
  return std::make_unique<ImageArrayDataset>(name, std::move(pixels), std::vector<int64_t>(),
                                             static_cast<int64_t>(count), size, size, std::move(spec), source);
}

}  // namespace

std::unique_ptr<Dataset> open_folder(const std::string& path, const DatasetOptions& options) {
  if (path.empty())
    throw std::runtime_error("folder:PATH: no folder given; write it after the colon, e.g. folder:/data/faces");
  return open_images("folder:" + path, path, options.image_size > 0 ? options.image_size : kDefaultSize, 0, "");
}

std::unique_ptr<Dataset> open_pokemon(const DatasetOptions& options) {
  const fs::path dir = fs::path(data_root()) / "pokemon";
  return open_images("pokemon", dir, options.image_size > 0 ? options.image_size : kDefaultSize, 3,
                     "run scripts/fetch-pokemon.sh to fetch the images (it writes them to $GAN_DATA_DIR/pokemon, "
                     "default ~/.cache/gan-engine/pokemon)");
}

}  // namespace gan::data::builtin
