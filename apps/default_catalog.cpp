// Kept apart from catalog.cpp so that a test linking the apps library with its own catalog does not pull in the
// zoo registry and the dataset registry.
#include "apps/catalog.h"

namespace gan::apps {

const Catalog& default_catalog() {
  static const Catalog catalog = [] {
    Catalog c;
    c.models = models::model_registry();
    c.datasets = data::list_datasets();
    c.open_dataset = [](const std::string& name, const data::DatasetOptions& options) {
      return data::open_dataset(name, options);
    };
    return c;
  }();
  return catalog;
}

}  // namespace gan::apps

#include <unistd.h>

#include <iostream>

#include "apps/cli.h"

namespace gan::apps {

int run_cli(int argc, const char* const* argv) {
  return run_cli(argc, argv, default_catalog(), CliStreams{&std::cout, &std::cerr, ::isatty(STDOUT_FILENO) == 1});
}

}  // namespace gan::apps
