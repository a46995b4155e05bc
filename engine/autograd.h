// Autograd: a dynamic graph recorded as ops run (define-by-run).
//
// Every differentiable op that sees an input requiring grad attaches a Node to its output. A Node's backward is a
// function from the output's gradient to the inputs' gradients, written with engine ops; when the backward pass
// runs with create_graph=true, those ops are themselves recorded, so the gradient can be differentiated again
// (double backward, as WGAN-GP's gradient penalty needs). Leaves that require grad get an AccumulateGrad node
// that adds into their .grad.
//
// The engine counts, for every node reachable from the roots, how many edges point at it, and runs a node once
// all of its incoming gradients have arrived (summed). grad() asks for gradients w.r.t. chosen tensors without
// touching .grad, and runs only the part of the graph that leads to them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gan {

// ---- grad mode ----
bool grad_enabled();
// Inside a NoGradGuard no graph is recorded (inference, optimizer steps, backward without create_graph).
class GradModeGuard {
 public:
  explicit GradModeGuard(bool enabled);
  ~GradModeGuard();
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool previous_;
};
class NoGradGuard : public GradModeGuard {
 public:
  NoGradGuard() : GradModeGuard(false) {}
};

// ---- graph ----
struct Edge {
  std::shared_ptr<Node> fn;  // null when the input does not require grad
};

// What the engine checks a returned gradient against.
struct InputMeta {
  Shape shape;
  DType dtype = DType::Float32;
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  Node(std::string name, std::vector<Edge> next_edges, std::vector<InputMeta> input_meta);
  // Frees the chain of nodes only this one keeps alive iteratively, so a very deep graph cannot overflow the stack.
  virtual ~Node();

  const std::string& name() const { return name_; }
  const std::vector<Edge>& next_edges() const { return next_edges_; }
  const std::vector<InputMeta>& input_meta() const { return input_meta_; }

  // Gradients w.r.t. each input, given the gradient w.r.t. the output; undefined where there is none.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  // Frees saved tensors after a backward pass that did not retain the graph.
  virtual void release() {}
  // False for ops whose backward is not written in differentiable ops: differentiating their gradient again
  // raises an error naming the op.
  virtual bool supports_double_backward() const { return true; }

 private:
  std::string name_;
  std::vector<Edge> next_edges_;
  std::vector<InputMeta> input_meta_;
};

// Accumulates into a leaf's .grad.
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf);
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  const std::shared_ptr<TensorImpl>& leaf() const { return leaf_; }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// backward(grad_output, output) -> one gradient per input. `output` is the op's result (with its history
// re-attached) when the op was recorded with save_output, else undefined.
using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output, const Tensor& output)>;

struct RecordOptions {
  bool save_output = false;            // pass the output to the backward (exp, tanh, sigmoid, sqrt...)
  bool supports_double_backward = true;
};

// Attaches a node named `name` to `output` when grad mode is on and some input requires grad, and returns it.
// The backward closure may capture the inputs it needs; it must not capture `output` (pass save_output instead,
// which avoids a reference cycle between the output and its node).
Tensor record(const char* name, const std::vector<Tensor>& inputs, Tensor output, BackwardFn backward,
              RecordOptions options = {});

// True when an op on these inputs would be recorded.
bool needs_grad(const std::vector<Tensor>& inputs);

// ---- running backward ----
// Backpropagates from `outputs` (seeded with grad_outputs, or ones for scalars) into the .grad of every leaf.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              bool retain_graph = false, bool create_graph = false);

// Returns d(sum_i <grad_outputs[i], outputs[i]>)/d(inputs[j]) for each j, without touching .grad.
// retain_graph defaults to create_graph. With allow_unused, an input the outputs do not depend on gets an
// undefined tensor; without it, that is an error.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool create_graph = false,
                         bool allow_unused = false);
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool create_graph,
                         bool allow_unused);

}  // namespace gan
