// Shared pieces of the zoo tests: tiny data specs, tiny flag overrides per model, and a deterministic source of
// synthetic batches (images uniform in [-1, 1], points on a ring, random labels).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/ops.h"
#include "engine/rng.h"
#include "models/model.h"

namespace gan::models::testing {

inline data::DataSpec image_spec(int64_t size, int64_t channels = 1, int64_t classes = 10) {
  data::DataSpec s;
  s.kind = data::ExampleKind::Image;
  s.channels = channels;
  s.image_size = size;
  s.num_classes = classes;
  for (int64_t c = 0; c < classes; ++c) {
    std::string name = "c";  // (not "c" + to_string: GCC 12 warns spuriously about that form)
    name += std::to_string(c);
    s.class_names.push_back(name);
  }
  return s;
}

inline data::DataSpec points_spec(int64_t classes = 8) {
  data::DataSpec s;
  s.kind = data::ExampleKind::Points;
  s.point_dim = 2;
  s.num_classes = classes;
  return s;
}

// Small widths and few inner steps so every model trains in milliseconds.
inline nlohmann::json tiny_flags(const std::string& model) {
  nlohmann::json o = nlohmann::json::object();
  if (model == "vae" || model == "ae") return {{"nz", 4}, {"nf", 4}, {"hidden", 16}};
  o["nz"] = 8;
  o["hidden"] = 16;
  if (model != "gan") {
    o["ngf"] = 4;
    o["ndf"] = 4;
  }
  if (model == "wgan" || model == "wgan-gp") o["n_critic"] = 2;
  if (model == "gan") o["k"] = 2;
  if (model == "unrolled") o["unroll_steps"] = 2;
  if (model == "infogan") {
    o["n_cat"] = 3;
    o["q_hidden"] = 8;
  }
  return o;
}

// Batch i is a pure function of (seed, i), so two sources at the same position hand out the same batches.
class BatchSource {
 public:
  BatchSource(data::DataSpec spec, int64_t batch, uint64_t seed) : spec_(std::move(spec)), batch_(batch), seed_(seed) {}

  std::pair<Tensor, Tensor> operator()() {
    Generator gen(seed_, static_cast<uint64_t>(index_++));
    Tensor x;
    if (spec_.kind == data::ExampleKind::Image) {
      x = rand({batch_, spec_.channels, spec_.image_size, spec_.image_size}, DType::Float32, &gen, -1.0, 1.0);
    } else {
      // Points near the unit circle.
      Tensor angle = rand({batch_, 1}, DType::Float32, &gen, 0.0, 6.283185307179586);
      Tensor pts = concat({cos_of(angle), sin_of(angle)}, 1);
      x = pts + randn({batch_, 2}, DType::Float32, &gen, 0.0, 0.05);
    }
    std::vector<int64_t> labels(static_cast<size_t>(batch_));
    std::vector<float> u(labels.size());
    gen.fill_uniform<float>(u.data(), batch_);
    const int64_t k = spec_.num_classes > 0 ? spec_.num_classes : 1;
    for (size_t i = 0; i < labels.size(); ++i)
      labels[i] = spec_.num_classes > 0 ? std::min<int64_t>(k - 1, static_cast<int64_t>(u[i] * k)) : -1;
    return {x, from_vector(labels, {batch_})};
  }

  int64_t index() const { return index_; }
  void set_index(int64_t i) { index_ = i; }
  std::function<std::pair<Tensor, Tensor>()> fn() {
    return [this] { return (*this)(); };
  }

 private:
  // The engine has no sin/cos ops: compute them on the host.
  static Tensor cos_of(const Tensor& a) { return map(a, false); }
  static Tensor sin_of(const Tensor& a) { return map(a, true); }
  static Tensor map(const Tensor& a, bool sine) {
    std::vector<float> v = a.to_vector<float>();
    for (float& x : v) x = sine ? std::sin(x) : std::cos(x);
    return from_vector(v, a.shape());
  }

  data::DataSpec spec_;
  int64_t batch_;
  uint64_t seed_;
  int64_t index_ = 0;
};

// What `f` throws (its what()), or "" when it returns.
inline std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

inline std::unique_ptr<GanModel> create(const std::string& name, const data::DataSpec& spec, uint64_t seed,
                                        nlohmann::json extra = nlohmann::json::object()) {
  nlohmann::json o = tiny_flags(name);
  for (auto& [k, v] : extra.items()) o[k] = v;
  return create_zoo_model(name, spec, Device::cpu(), seed, o);
}

}  // namespace gan::models::testing
