#include "apps/run_config.h"

#include <stdexcept>

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

data::DataSpec spec_from_json(const nlohmann::json& j) {
  data::DataSpec s;
  const std::string kind = j.at("kind").get<std::string>();
  if (kind != "image" && kind != "points") throw std::runtime_error("data_spec.kind must be image or points");
  s.kind = kind == "image" ? data::ExampleKind::Image : data::ExampleKind::Points;
  s.channels = j.at("channels").get<int64_t>();
  s.image_size = j.at("image_size").get<int64_t>();
  s.point_dim = j.at("point_dim").get<int64_t>();
  s.num_classes = j.at("num_classes").get<int64_t>();
  s.class_names = j.at("class_names").get<std::vector<std::string>>();
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
          {"image_size", image_size},
          {"data_size", data_size},
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
  try {
    c.model = j.at("model").get<std::string>();
    c.data = j.at("data").get<std::string>();
    c.model_config = j.at("model_config");
    c.steps = j.at("steps").get<int64_t>();
    c.epochs = j.at("epochs").get<int64_t>();
    c.batch = j.at("batch").get<int64_t>();
    c.seed = j.at("seed").get<uint64_t>();
    c.device = j.at("device").get<std::string>();
    c.image_size = j.at("image_size").get<int64_t>();
    c.data_size = j.at("data_size").get<int64_t>();
    c.log_every = j.at("log_every").get<int64_t>();
    c.sample_every = j.at("sample_every").get<int64_t>();
    c.checkpoint_every = j.at("checkpoint_every").get<int64_t>();
    c.sample_n = j.at("sample_n").get<int64_t>();
    c.eval_every = j.value("eval_every", int64_t{0});  // absent in runs made before --eval-every existed
    c.eval_n = j.value("eval_n", int64_t{1000});
    c.classifier = j.value("classifier", std::string());
    c.spec = spec_from_json(j.at("data_spec"));
    c.data_description = j.value("data_description", "");
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("settings are incomplete or mistyped: ") + e.what());
  }
  if (!c.model_config.is_object()) throw std::runtime_error("settings: model_config is not an object");
  return c;
}

}  // namespace gan::apps
