// Turning a model's SampleGrid into a PNG through engine/image: an image grid for image data, a scatter plot for
// point data over the data's reference points (mixture centres, or real examples), so mode collapse shows.
#pragma once

#include <filesystem>

#include "engine/data/dataset.h"
#include "engine/tensor.h"
#include "models/model.h"

namespace gan::apps {

// `reference` ([M, 2] on the CPU) may be undefined. Writes atomically; throws on failure.
void write_sample_png(const std::filesystem::path& path, const models::SampleGrid& grid,
                      const data::DataSpec& spec, const Tensor& reference = Tensor());

// What scatter plots draw behind samples: the dataset's reference_points() (mixture centres) when it has them,
// else up to 1000 real examples; undefined for image data.
Tensor plot_reference(const data::Dataset& dataset);

}  // namespace gan::apps
