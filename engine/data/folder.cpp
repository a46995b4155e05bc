// Image folders ("folder:PATH") and the fetched Pokémon set, which is one.
//
// Every .png/.jpg/.jpeg/.bmp/.gif under PATH (recursively, sorted by path so the order never depends on the file
// system; hidden files skipped) is decoded once at open time on a few threads, alpha composited over white, the
// largest centred square kept (the usual Resize+CenterCrop of GAN data pipelines) and resized to the model's size
// (area down, bilinear up), then held in memory as bytes. Gray when every image is gray (R = G = B everywhere),
// else RGB. Unreadable files are skipped with one warning on stderr giving the count and the first error; none
// readable is an error.
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

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".gif";
}

std::vector<std::string> list_images(const fs::path& dir) {
  std::vector<std::string> files;
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
    if (is_image_name(p) && it->is_regular_file(ec)) files.push_back(p.string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// name: what errors and describe() call the set; channels: 0 to detect, 3 to force RGB.
std::unique_ptr<Dataset> open_images(const std::string& name, const fs::path& dir, int64_t size, int64_t channels,
                                     const std::string& when_empty) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error(name + ": '" + dir.string() + "' is not a folder" +
                             (when_empty.empty() ? "" : "; " + when_empty));
  const std::vector<std::string> files = list_images(dir);
  if (files.empty())
    throw std::runtime_error(name + ": no PNG, JPEG, BMP or GIF files under '" + dir.string() + "'" +
                             (when_empty.empty() ? "" : "; " + when_empty));

  std::vector<image::Image8> images(files.size());
  std::vector<std::string> errors(files.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < files.size();) {
      try {
        images[i] = image::resize(image::center_crop_square(image::load_image(files[i])), size, size);
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
