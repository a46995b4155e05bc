// libFuzzer target: the `gan` command line (apps/cli.h run_cli) on arbitrary argument lists: the input is split
// at NUL bytes into argv. It runs with the zoo's models and flags, but a catalog whose datasets never open, in an
// empty temporary folder: every command is parsed and validated as for real, and none can start training or
// find a run to read. `gan eval --samples` (which would train a classifier on a folder of PNGs) is skipped.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "apps/catalog.h"
#include "apps/cli.h"

namespace {

const gan::apps::Catalog& fuzz_catalog() {
  static const gan::apps::Catalog catalog = [] {
    gan::apps::Catalog c = gan::apps::default_catalog();
    c.open_dataset = [](const std::string& name, const gan::data::DatasetOptions&)
        -> std::unique_ptr<gan::data::Dataset> { throw std::runtime_error("fuzzing: no data for '" + name + "'"); };
    return c;
  }();
  return catalog;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char dir[] = "/tmp/gan-fuzz-cli-XXXXXX";
  if (!::mkdtemp(dir) || ::chdir(dir) != 0) std::abort();
  ::setenv("HOME", dir, 1);
  ::setenv("GAN_DATA_DIR", dir, 1);
  ::setenv("GAN_DEVICE", "cpu", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args = {"gan"};
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  if (!current.empty()) args.push_back(current);
  if (args.size() > 32) return 0;
  for (const std::string& a : args)
    if (a.rfind("--samples", 0) == 0) return 0;
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  gan::apps::run_cli(static_cast<int>(argv.size()), argv.data(), fuzz_catalog(),
                     gan::apps::CliStreams{&out, &err, false});
  return 0;
}
