// The op test table: one entry per differentiable op (and per interesting shape case of it). Every entry gets
// gradcheck, gradgradcheck (where the op can sit inside a WGAN-GP critic) and an accumulation check from
// test_op_table.cpp. Adding an op adds one entry here.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/ops.h"
#include "engine/rng.h"

namespace gan::testing {

struct OpCase {
  std::string name;                                             // "<op>/<case>", unique
  std::function<std::vector<Tensor>(Generator&)> make_inputs;   // float64; those requiring grad are checked
  std::function<Tensor(const std::vector<Tensor>&)> fn;
  bool double_backward = true;
};

const std::vector<OpCase>& op_table();

// GoogleTest prints parameters in test names; the case name keeps them short and stable.
inline void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

// Other files add their entries with a registrar at namespace scope (the table is built when first used, after
// static initialization, so the order of files does not matter):
//   static const OpCaseRegistrar conv_cases([](std::vector<OpCase>& t) { t.push_back({...}); });
struct OpCaseRegistrar {
  explicit OpCaseRegistrar(std::function<void(std::vector<OpCase>&)> add);
};

// Input generators (float64, requires_grad unless noted) that keep values inside each op's smooth domain.
Tensor uniform_input(Generator& g, const Shape& shape, double lo = -1.0, double hi = 1.0);
Tensor positive_input(Generator& g, const Shape& shape);     // in [0.5, 2]: log, sqrt, pow, div denominators
Tensor away_from_zero(Generator& g, const Shape& shape);     // |x| in [0.1, 1], random sign: abs, relu kinks
Tensor constant_input(Generator& g, const Shape& shape);     // does not require grad

}  // namespace gan::testing
