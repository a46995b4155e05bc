// The datasets open_dataset knows, one file each (fashion_mnist.cpp, folder.cpp, mixtures.cpp, synthetic.cpp), and
// what they share: an in-memory array of 8-bit images handed out as float CHW in [-1, 1].
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/data/dataset.h"

namespace gan::data::builtin {

// Where fetched data lives: $GAN_DATA_DIR when set, else ~/.cache/gan-engine (/tmp/gan-engine without a HOME).
std::string data_root();

std::unique_ptr<Dataset> open_fashion_mnist(const DatasetOptions& options);
std::unique_ptr<Dataset> open_pokemon(const DatasetOptions& options);
std::unique_ptr<Dataset> open_folder(const std::string& path, const DatasetOptions& options);
std::unique_ptr<Dataset> open_mixture(const std::string& name, const DatasetOptions& options);  // ring8, grid25
std::unique_ptr<Dataset> open_synthetic(const DatasetOptions& options);

// N images of C x H x H bytes (CHW, 0 = black), handed out at spec.image_size: unchanged when equal, else
// centred with a border of black (-1) when native <= image_size <= pad_up_to, else resampled (area down,
// bilinear up; engine/image/image.h).
class ImageArrayDataset : public Dataset {
 public:
  ImageArrayDataset(std::string name, std::vector<uint8_t> pixels, std::vector<int64_t> labels, int64_t count,
                    int64_t native_size, int64_t pad_up_to, DataSpec spec, std::string source);
  int64_t size() const override { return count_; }
  const DataSpec& spec() const override { return spec_; }
  int64_t get(int64_t i, float* out) const override;
  std::string describe() const override;

 private:
  std::string name_;
  std::vector<uint8_t> pixels_;
  std::vector<int64_t> labels_;  // empty: unlabeled
  int64_t count_;
  int64_t native_;
  int64_t pad_up_to_;
  DataSpec spec_;
  std::string source_;
};

}  // namespace gan::data::builtin
