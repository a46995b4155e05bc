#include "apps/catalog.h"

namespace gan::apps {

const models::ModelEntry* Catalog::find_model(const std::string& name) const {
  for (const auto& m : models)
    if (m.name == name) return &m;
  return nullptr;
}

std::string Catalog::model_names() const {
  std::string out;
  for (const auto& m : models) out += (out.empty() ? "" : ", ") + m.name;
  return out;
}

}  // namespace gan::apps
