// CUDA-vs-CPU parity for every entry of the op table (tests/gradcheck/op_table*.cpp): the op runs in float32 on
// the CPU and on the GPU from the same inputs, and both the outputs and the gradients of <v, out> w.r.t. every
// input that requires grad (backward on each device) must agree to a relative error of 1e-5, with no NaN/Inf.
// Entries with double backward are also run the way a gradient penalty runs them: the gradients again with
// create_graph (their backward built from ops, not the fused kernels), then the gradient of <u, gradients> w.r.t.
// the same inputs; both must agree too, so every second-order path the op table checks on the CPU runs on the GPU.
// Device memory is poisoned (NaN), so an output element a kernel never writes fails the comparison.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "gpu_test_util.h"
#include "op_table.h"

namespace gan::testing {
namespace {

struct DeviceRun {
  Tensor out;
  std::vector<Tensor> grads;  // one per input that requires grad; undefined when the output ignores that input
  std::vector<Tensor> graph_grads;  // the same gradients under create_graph (double-backward entries only)
  std::vector<Tensor> second;       // d<u, graph_grads>/d inputs; empty when no gradient depends on an input
};

// The op-table inputs (float64 on the CPU) as float32 leaves on `device`; integer inputs (indices, labels) keep
// their dtype. Inputs that required grad require it again.
std::vector<Tensor> float32_inputs(const std::vector<Tensor>& base, Device device) {
  std::vector<Tensor> xs;
  for (const Tensor& t : base) {
    Tensor x = is_floating(t.dtype()) ? t.detach().to(DType::Float32) : t.detach().clone();
    x = x.to(device).detach();
    if (t.requires_grad()) x.requires_grad_(true);
    xs.push_back(x);
  }
  return xs;
}

// Runs the op on `device`, then backward of <v, out> with v ~ N(0, 1) drawn on the host from a fixed seed, so both
// devices project their output on the same v.
DeviceRun run_on(const OpCase& c, const std::vector<Tensor>& base, Device device) {
  std::vector<Tensor> xs = float32_inputs(base, device);
  DeviceRun r;
  r.out = c.fn(xs);
  std::vector<Tensor> diff;
  for (const Tensor& x : xs)
    if (x.requires_grad()) diff.push_back(x);
  if (!r.out.requires_grad() || diff.empty()) return r;
  Generator vgen(99);
  const Tensor v = randn(r.out.shape(), DType::Float32, &vgen).to(device);
  r.grads = grad({r.out}, diff, {v}, /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
  if (!c.double_backward) return r;

  // Second order, on fresh inputs so the first backward above cannot have left anything behind.
  xs = float32_inputs(base, device);
  diff.clear();
  for (const Tensor& x : xs)
    if (x.requires_grad()) diff.push_back(x);
  const Tensor out = c.fn(xs);
  r.graph_grads = grad({out}, diff, {v}, /*retain_graph=*/true, /*create_graph=*/true, /*allow_unused=*/true);
  // One u per defined gradient, drawn in order whether or not that gradient depends on the inputs, so both
  // devices use the same u for the same gradient.
  Generator ugen(98);
  std::vector<Tensor> outs, us;
  for (const Tensor& g : r.graph_grads) {
    if (!g.defined()) continue;
    const Tensor u = randn(g.shape(), DType::Float32, &ugen).to(device);
    if (g.requires_grad()) outs.push_back(g), us.push_back(u);
  }
  if (!outs.empty()) r.second = grad(outs, diff, us, /*retain_graph=*/false, /*create_graph=*/false, true);
  return r;
}

// Same length, defined on the same inputs, and each defined tensor on cuda:0 and matching the CPU.
void expect_grads_match(const std::vector<Tensor>& gpu, const std::vector<Tensor>& cpu, const std::string& what) {
  ASSERT_EQ(gpu.size(), cpu.size()) << what << ": gradients of different inputs on the two devices";
  for (size_t i = 0; i < gpu.size(); ++i) {
    const std::string which = what + " of input " + std::to_string(i);
    ASSERT_EQ(gpu[i].defined(), cpu[i].defined()) << which << ": defined on one device only";
    if (!gpu[i].defined()) continue;
    EXPECT_EQ(gpu[i].device().str(), "cuda:0") << which;
    EXPECT_TRUE(parity(gpu[i], cpu[i], which));
  }
}

class OpParity : public CudaParamTest<OpCase> {};

TEST_P(OpParity, Float32OutputsAndGradientsMatchCpu) {
  const OpCase& c = GetParam();
  Generator gen(std::hash<std::string>{}(c.name));
  const std::vector<Tensor> base = c.make_inputs(gen);

  const DeviceRun cpu = run_on(c, base, Device::cpu());
  const DeviceRun gpu = run_on(c, base, Device::cuda(0));

  ASSERT_EQ(gpu.out.device().str(), "cuda:0") << c.name << ": the output left the GPU";
  ASSERT_EQ(gpu.out.dtype(), cpu.out.dtype()) << c.name;
  EXPECT_TRUE(parity(gpu.out, cpu.out, c.name + " output"));
  expect_grads_match(gpu.grads, cpu.grads, c.name + " gradient");
  expect_grads_match(gpu.graph_grads, cpu.graph_grads, c.name + " gradient under create_graph");
  expect_grads_match(gpu.second, cpu.second, c.name + " second-order gradient");
}

std::string case_name(const ::testing::TestParamInfo<OpCase>& info) {
  std::string n = info.param.name;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpParity, ::testing::ValuesIn(op_table()), case_name);

}  // namespace
}  // namespace gan::testing
