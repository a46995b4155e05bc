// The dataset registry: names -> the builtin sets (engine/data/builtin.h).
#include <stdexcept>

#include "engine/checked.h"
#include "engine/data/builtin.h"
#include "engine/data/dataset.h"

namespace gan::data {

const std::vector<DatasetInfo>& list_datasets() {
  static const std::vector<DatasetInfo> list = {
      {"fashion-mnist",
       "Fashion-MNIST: 60000 train / 10000 test gray 28x28 clothing images, 10 classes (32 pads, 64 resizes); "
       "install: apt-get install dataset-fashion-mnist"},
      {"pokemon",
       "Pokemon: 1524 RGB 64x64 official artworks and Gen-V sprites on white, unlabeled; fetch: scripts/fetch-pokemon.sh "
       "(into $GAN_DATA_DIR/pokemon, default ~/.cache/gan-engine/pokemon)"},
      {"folder:PATH",
       "every PNG/JPEG under PATH, centre-cropped square and resized to the model's size; gray if all "
       "images are gray, else RGB; unlabeled"},
      {"ring8", "8 2-D Gaussians on a circle of radius 2, std 0.02 (Unrolled GAN); 100000 points from the seed"},
      {"grid25", "25 2-D Gaussians on a 5x5 grid with spacing 2, std 0.05; 100000 points from the seed"},
      {"synthetic", "256 gray 16x16 images of 3 shapes (square, disc, triangle) from the seed; for tests"},
  };
  return list;
}

std::unique_ptr<Dataset> open_dataset(const std::string& name, const DatasetOptions& options) {
  check_range(options.image_size, "open_dataset('" + name + "'): image_size", 0, kMaxImageSize);
  check_range(options.size, "open_dataset('" + name + "'): size", 0, kMaxGeneratedSize);
  if (name == "fashion-mnist") return builtin::open_fashion_mnist(options);
  if (name == "pokemon") return builtin::open_pokemon(options);
  if (name.starts_with("folder:")) return builtin::open_folder(name.substr(7), options);
  if (name == "ring8" || name == "grid25") return builtin::open_mixture(name, options);
  if (name == "synthetic") return builtin::open_synthetic(options);
  std::string known;
  for (const DatasetInfo& d : list_datasets()) known += (known.empty() ? "" : ", ") + d.name;
  throw std::runtime_error("unknown dataset '" + name + "'; known: " + known);
}

}  // namespace gan::data
