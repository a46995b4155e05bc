// What the `gan` program can train on: the zoo's models and the data layer's datasets, gathered in one value so
// the command line works on whatever catalog it is handed (tests hand it a tiny model and dataset).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/data/dataset.h"
#include "models/model.h"

namespace gan::apps {

struct Catalog {
  std::vector<models::ModelEntry> models;
  std::vector<data::DatasetInfo> datasets;
  // Opens a dataset by name; throws std::runtime_error saying what is wrong and how to fix it.
  std::function<std::unique_ptr<data::Dataset>(const std::string&, const data::DatasetOptions&)> open_dataset;

  // nullptr when unknown.
  const models::ModelEntry* find_model(const std::string& name) const;
  // "dcgan, wgan, ..." for error messages.
  std::string model_names() const;
};

// The zoo's registry and the data layer's datasets.
const Catalog& default_catalog();

}  // namespace gan::apps
