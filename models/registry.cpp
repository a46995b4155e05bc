// The zoo's registry, flag resolution and the image-size choice (models/model.h).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/checked.h"
#include "models/model.h"

namespace gan::models {

const std::vector<ModelEntry>& model_registry() {
  static const std::vector<ModelEntry> entries = {gan_entry(),     dcgan_entry(),    cgan_entry(),     wgan_entry(),
                                                  wgan_gp_entry(), lsgan_entry(),    infogan_entry(),  unrolled_entry(),
                                                  sngan_entry(),   vae_entry(),      ae_entry()};
  return entries;
}

const ModelEntry* find_model(const std::string& name) {
  for (const ModelEntry& e : model_registry())
    if (e.name == name) return &e;
  return nullptr;
}

namespace {

std::string flag_names(const ModelEntry& entry) {
  std::string out;
  for (const FlagSpec& f : entry.flags) out += (out.empty() ? "" : ", ") + f.name;
  return out;
}

const char* type_name(const nlohmann::json& v) {
  if (v.is_boolean()) return "true or false";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  return "a JSON value";
}

// `value` converted to the type of `def`, or an error naming the flag. Numbers, given as JSON or as text, are
// parsed strictly by engine/checked.h: an integer flag takes a whole number in [-kMaxIntFlag, kMaxIntFlag] ("1.5",
// "1e300" and 3.0 are not), a real flag a finite number within +-kMaxRealFlag.
nlohmann::json convert(const ModelEntry& entry, const FlagSpec& flag, const nlohmann::json& value) {
  const nlohmann::json& def = flag.default_value;
  auto fail = [&]() -> nlohmann::json {
    throw std::invalid_argument("model '" + entry.name + "': flag '" + flag.name + "' takes " + type_name(def) +
                                ", got " + value.dump());
  };
  if (def.is_string()) return value.is_string() ? value : fail();
  if (def.is_boolean()) {
    if (value.is_boolean()) return value;
    const std::string text = value.is_string() ? value.get<std::string>() : "";
    if (text == "true" || text == "1") return true;
    if (text == "false" || text == "0") return false;
    return fail();
  }
  // A number's text: as given, or as the JSON holds it (a JSON infinity reads back as null and is refused).
  if (!value.is_string() && (!value.is_number() || value.is_boolean())) return fail();
  const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  const std::string what = "model '" + entry.name + "': flag '" + flag.name + "'";
  if (def.is_number_integer()) return parse_int(text, what, -kMaxIntFlag, kMaxIntFlag);
  return parse_real(text, what, -kMaxRealFlag, kMaxRealFlag);
}

}  // namespace

nlohmann::json resolve_config(const ModelEntry& entry, const nlohmann::json& overrides) {
  nlohmann::json cfg = nlohmann::json::object();
  for (const FlagSpec& f : entry.flags) cfg[f.name] = f.default_value;
  if (overrides.is_null()) return cfg;
  if (!overrides.is_object())
    throw std::invalid_argument("model '" + entry.name + "': flag overrides must be a JSON object, got " +
                                overrides.dump());
  for (const auto& [key, value] : overrides.items()) {
    std::string name = key;
    std::replace(name.begin(), name.end(), '-', '_');
    auto it = std::find_if(entry.flags.begin(), entry.flags.end(), [&](const FlagSpec& f) { return f.name == name; });
    if (it == entry.flags.end())
      throw std::invalid_argument("model '" + entry.name + "' has no flag '" + key + "' (its flags: " +
                                  flag_names(entry) + ")");
    cfg[name] = convert(entry, *it, value);
  }
  return cfg;
}

std::unique_ptr<GanModel> create_zoo_model(const std::string& name, const data::DataSpec& data, Device device,
                                           uint64_t seed, const nlohmann::json& flags) {
  const ModelEntry* entry = find_model(name);
  if (entry == nullptr) throw std::invalid_argument("the zoo has no model named '" + name + "'");
  ModelContext ctx;
  ctx.data = data;
  ctx.device = device;
  ctx.seed = seed;
  ctx.config = resolve_config(*entry, flags);
  if (const std::string bad = entry->check_data(data); !bad.empty())
    throw std::invalid_argument(bad);  // the entries' reasons name the model
  return entry->create(ctx);
}

int64_t preferred_image_size(int64_t native_size) {
  if (native_size == 28 || native_size == 32 || native_size == 64) return native_size;
  return native_size < 32 ? 32 : 64;
}

}  // namespace gan::models
