#include "apps/run_config.h"

#include <stdexcept>

#include "engine/checked.h"
#include "kernels/math_mode.h"

#ifndef GAN_VERSION
#define GAN_VERSION "unknown"
#endif

namespace gan::apps {

std::string gan_version() { return GAN_VERSION; }

nlohmann::json spec_to_json(const data::DataSpec& s) {
  return {{"kind", s.kind == data::ExampleKind::Image ? "image" : "points"},
          {"channels", s.channels},
          {"image_size", s.image_size},
          {"point_dim", s.point_dim},
          {"num_classes", s.num_classes},
          {"class_names", s.class_names}};
}

namespace {

// j[key] as an integer in [lo, hi]; a RangeError naming the field when it is missing, not an integer (1.5, "3",
// 1e300) or out of range. (nlohmann's get<int64_t> would truncate a float and wrap a huge unsigned.)
int64_t json_int(const nlohmann::json& j, const char* key, const std::string& prefix, int64_t lo, int64_t hi) {
  const std::string what = prefix + key;
  const auto it = j.find(key);
  if (it == j.end()) throw RangeError(what + " is missing");
  if (!it->is_number()) throw RangeError(what + " is " + it->type_name() + ", not an integer");
  return parse_int(it->dump(), what, lo, hi);  // a number's JSON text: "1.5" and "1e+300" are not integers
}

uint64_t json_uint(const nlohmann::json& j, const char* key, const std::string& prefix) {
  const auto it = j.find(key);
  if (it == j.end()) throw RangeError(prefix + key + " is missing");
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (!it->is_number()) throw RangeError(prefix + key + " is " + it->type_name() + ", not an integer");
  return parse_uint(it->dump(), prefix + key);
}

}  // namespace

data::DataSpec spec_from_json(const nlohmann::json& j) {
  data::DataSpec s;
  if (!j.is_object()) throw std::runtime_error("data_spec is not an object");
  const std::string kind = j.at("kind").get<std::string>();
  if (kind != "image" && kind != "points") throw std::runtime_error("data_spec.kind must be image or points");
  s.kind = kind == "image" ? data::ExampleKind::Image : data::ExampleKind::Points;
  const bool image = s.kind == data::ExampleKind::Image;
  const std::string p = "data_spec.";
  s.channels = json_int(j, "channels", p, image ? 1 : 0, image ? 3 : kInt64Max);
  if (image && s.channels == 2) throw RangeError("data_spec.channels is 2; images have 1 or 3");
  s.image_size = json_int(j, "image_size", p, image ? 1 : 0, data::kMaxImageSize);
  s.point_dim = json_int(j, "point_dim", p, image ? 0 : 1, image ? kInt64Max : 1024);
  s.num_classes = json_int(j, "num_classes", p, 0, kMaxClasses);
  s.class_names = j.at("class_names").get<std::vector<std::string>>();
  if (!s.class_names.empty() && static_cast<int64_t>(s.class_names.size()) != s.num_classes)
    throw RangeError("data_spec.class_names has " + std::to_string(s.class_names.size()) + " names for " +
                     std::to_string(s.num_classes) + " classes");
  return s;
}

nlohmann::json RunConfig::to_json() const {
  return {{"model", model},
          {"data", data},
          {"model_config", model_config},
          {"steps", steps},
          {"epochs", epochs},
          {"batch", batch},
          {"seed", seed},
          {"device", device},
          {"precision", precision},
          {"image_size", image_size},
          {"data_size", data_size},
          {"data_limit", data_limit},
          {"log_every", log_every},
          {"sample_every", sample_every},
          {"checkpoint_every", checkpoint_every},
          {"sample_n", sample_n},
          {"eval_every", eval_every},
          {"eval_n", eval_n},
          {"classifier", classifier},
          {"data_spec", spec_to_json(spec)},
          {"data_description", data_description}};
}

RunConfig RunConfig::from_json(const nlohmann::json& j) {
  RunConfig c;
  if (!j.is_object()) throw std::runtime_error("settings is not an object");
  // Any integer here; check() below holds each to its range.
  const auto integer = [&](const char* key) { return json_int(j, key, "", kInt64Min, kInt64Max); };
  try {
    c.model = j.at("model").get<std::string>();
    c.data = j.at("data").get<std::string>();
    c.model_config = j.at("model_config");
    c.steps = integer("steps");
    c.epochs = integer("epochs");
    c.batch = integer("batch");
    c.seed = json_uint(j, "seed", "");
    c.device = j.at("device").get<std::string>();
    c.precision = j.contains("precision") ? j.at("precision").get<std::string>() : "";  // absent in older runs
    c.image_size = integer("image_size");
    c.data_size = integer("data_size");
    c.data_limit = j.contains("data_limit") ? integer("data_limit") : 0;  // absent in runs made before --data-limit
    c.log_every = integer("log_every");
    c.sample_every = integer("sample_every");
    c.checkpoint_every = integer("checkpoint_every");
    c.sample_n = integer("sample_n");
    c.eval_every = j.contains("eval_every") ? integer("eval_every") : 0;  // absent in runs made before --eval-every
    c.eval_n = j.contains("eval_n") ? integer("eval_n") : 1000;
    c.classifier = j.value("classifier", std::string());
    c.spec = spec_from_json(j.at("data_spec"));
    const auto d = j.find("data_description");
    c.data_description = d != j.end() && d->is_string() ? d->get<std::string>() : "";
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("settings are incomplete or mistyped: ") + e.what());
  }
  if (!c.model_config.is_object()) throw std::runtime_error("settings: model_config is not an object");
  c.check();
  return c;
}

void RunConfig::check() const {
  check_range(steps, "steps", 1, kMaxSteps);
  check_range(epochs, "epochs", 0, kMaxSteps);
  check_range(batch, "batch", 1, kMaxBatch);
  check_range(image_size, "image_size", 0, data::kMaxImageSize);
  check_range(data_size, "data_size", 0, data::kMaxGeneratedSize);
  check_range(data_limit, "data_limit", 0, kMaxDataLimit);  // 0: the whole data set
  check_range(log_every, "log_every", 1, kMaxSteps);
  check_range(sample_every, "sample_every", 1, kMaxSteps);
  check_range(checkpoint_every, "checkpoint_every", 1, kMaxSteps);
  check_range(sample_n, "sample_n", 1, kMaxSamples);
  check_range(eval_every, "eval_every", 0, kMaxSteps);  // 0: no Frechet distance during training
  check_range(eval_n, "eval_n", 10, kMaxEvalSamples);
  if (!precision.empty() && !kernels::parse_float_math(precision))
    throw RangeError("precision is \"" + precision + "\"; it must be \"fp32\", \"tf32\" or \"bf16\"");
}

}  // namespace gan::apps
