// Runs every op-table entry through gradcheck, gradgradcheck and the accumulation check.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/gradcheck.h"
#include "op_table.h"

namespace gan::testing {
namespace {

class OpTable : public ::testing::TestWithParam<OpCase> {
 protected:
  std::vector<Tensor> inputs() const {
    Generator gen(std::hash<std::string>{}(GetParam().name));
    return GetParam().make_inputs(gen);
  }
};

TEST_P(OpTable, Gradcheck) {
  const OpCase& c = GetParam();
  const GradcheckResult r = gradcheck(c.fn, inputs());
  EXPECT_TRUE(r.ok) << c.name << ": " << r.message;
}

TEST_P(OpTable, GradgradcheckOrRefusal) {
  const OpCase& c = GetParam();
  if (c.double_backward) {
    const GradcheckResult r = gradgradcheck(c.fn, inputs());
    EXPECT_TRUE(r.ok) << c.name << ": " << r.message;
    return;
  }
  // An op without double backward must refuse loudly, naming itself, instead of returning a wrong second derivative.
  const std::string op = c.name.substr(0, c.name.find('/'));
  try {
    (void)gradgradcheck(c.fn, inputs());
    ADD_FAILURE() << c.name << ": double backward through an op without double-backward support did not throw";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("does not support double backward"), std::string::npos) << c.name << ": " << what;
    EXPECT_NE(what.find(op), std::string::npos) << c.name << ": the error does not name the op: " << what;
  }
}

// backward() adds into a prefilled .grad: afterwards .grad == prefill + d<v, f>/dx.
TEST_P(OpTable, AccumulatesIntoPrefilledGrad) {
  const OpCase& c = GetParam();
  std::vector<Tensor> xs = inputs();
  Generator gen(7);
  Tensor out = c.fn(xs);
  Tensor v = randn(out.shape(), DType::Float64, &gen);
  std::vector<Tensor> diff;
  for (const Tensor& x : xs)
    if (x.requires_grad()) diff.push_back(x);
  const std::vector<Tensor> expected = grad({out}, diff, {v}, /*retain_graph=*/true, false, /*allow_unused=*/true);
  std::vector<Tensor> prefill;
  for (const Tensor& x : diff) {
    prefill.push_back(randn(x.shape(), DType::Float64, &gen));
    x.set_grad(prefill.back().clone());
  }
  out.backward(v);
  for (size_t i = 0; i < diff.size(); ++i) {
    const std::vector<double> got = diff[i].grad().to_vector<double>();
    const std::vector<double> base = prefill[i].to_vector<double>();
    const std::vector<double> add =
        expected[i].defined() ? expected[i].to_vector<double>() : std::vector<double>(base.size(), 0.0);
    ASSERT_EQ(got.size(), base.size());
    for (size_t e = 0; e < got.size(); ++e)
      ASSERT_NEAR(got[e], base[e] + add[e], 1e-12) << c.name << ": input " << i << " element " << e;
  }
}

std::string case_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string n = info.param.name;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpTable, ::testing::ValuesIn(op_table()), case_name);

// The table itself must cover every op the engine core exposes; a missing entry is a test failure.
TEST(OpTableCoverage, EveryCoreOpHasAnEntry) {
  const std::vector<std::string> required = {
      "add", "sub", "mul", "div", "maximum", "minimum", "where", "add_scalar", "mul_scalar", "rsub_scalar",
      "div_scalar", "rdiv_scalar", "neg", "exp", "log", "sqrt", "pow", "abs", "clamp", "relu", "leaky_relu",
      "leaky_relu_backward", "abs_backward",
      "tanh", "sigmoid", "softplus", "sum", "mean", "var", "max", "matmul", "reshape", "flatten", "narrow",
      "slice", "permute", "transpose", "unsqueeze", "squeeze", "expand", "contiguous", "clone", "concat",
      "stack", "gather_along", "scatter_along"};
  for (const std::string& op : required) {
    bool found = false;
    for (const OpCase& c : op_table()) found |= c.name == op || c.name.rfind(op + "/", 0) == 0;
    EXPECT_TRUE(found) << "op '" << op << "' has no entry in tests/gradcheck/op_table.cpp";
  }
}

}  // namespace
}  // namespace gan::testing
