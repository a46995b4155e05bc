// Op-table entries for DiffAugment (engine/nn/diffaugment.h): each augmentation and all three together, on an odd,
// non-square shape. The function draws its random parameters from a generator created inside it, so every
// evaluation (finite differences, CPU and GPU) sees the same augmentation.
#include <string>
#include <vector>

#include "engine/nn/diffaugment.h"
#include "op_table.h"

namespace gan::testing {
namespace {

const OpCaseRegistrar diffaugment_cases([](std::vector<OpCase>& t) {
  const std::vector<std::pair<std::string, std::string>> policies = {
      {"color", "color"}, {"translation", "translation"}, {"cutout", "cutout"}, {"all", "color,translation,cutout"}};
  for (const auto& [label, policy] : policies) {
    t.push_back({"diff_augment/" + label,
                 [](Generator& g) { return std::vector<Tensor>{uniform_input(g, {3, 2, 9, 8})}; },
                 [policy = policy](const std::vector<Tensor>& in) {
                   Generator aug(17, 3);
                   return nn::diff_augment(in[0], nn::parse_diffaugment(policy), aug);
                 }});
  }
});

}  // namespace
}  // namespace gan::testing
