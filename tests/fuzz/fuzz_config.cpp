// libFuzzer target: a run directory's config.json and metrics.jsonl as `gan train --resume`, `gan sample` and
// `gan report` read them: the JSON parse (depth-limited), RunConfig::from_json with its range checks, the model's
// flags resolved against the zoo, and the metrics lines.
#include <cstdint>
#include <exception>

#include "apps/catalog.h"
#include "apps/commands.h"
#include "apps/run_config.h"
#include "apps/run_dir.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gan::apps;
  const std::string& path = gan::fuzz::input_file(data, size);
  try {
    const nlohmann::json config = read_json_file(path);
    RunConfig c = RunConfig::from_json(config.at("settings"));
    if (const auto* entry = default_catalog().find_model(c.model))
      c.model_config = resolve_model_config(*entry, c.model_config);
    (void)c.to_json().dump();
  } catch (const std::exception&) {
  }
  try {
    for (const auto& line : read_metrics(path)) (void)line.dump();
  } catch (const std::exception&) {
  }
  return 0;
}
