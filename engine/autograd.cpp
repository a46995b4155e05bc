#include "engine/autograd.h"

#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "engine/ops.h"

namespace gan {

// ---- grad mode ----
namespace {
thread_local bool g_grad_enabled = true;
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
GradModeGuard::GradModeGuard(bool enabled) : previous_(g_grad_enabled) { g_grad_enabled = enabled; }
GradModeGuard::~GradModeGuard() { g_grad_enabled = previous_; }

// ---- nodes ----
Node::Node(std::string name, std::vector<Edge> next_edges, std::vector<InputMeta> input_meta)
    : name_(std::move(name)), next_edges_(std::move(next_edges)), input_meta_(std::move(input_meta)) {}

Node::~Node() {
  // Dropping the last reference to a node would otherwise destroy its inputs' nodes recursively (one nested
  // destructor per graph level). Instead, take over the edges of every node we hold the last reference to and free
  // them from a loop. release() first drops what the node's closure captured (its inputs, whose nodes are also
  // its edges), so those captures are never the last reference either.
  std::vector<std::shared_ptr<Node>> pending;
  for (Edge& e : next_edges_)
    if (e.fn) pending.push_back(std::move(e.fn));
  while (!pending.empty()) {
    std::shared_ptr<Node> node = std::move(pending.back());
    pending.pop_back();
    if (node.use_count() != 1) continue;  // still used elsewhere: dropping our reference frees nothing
    node->release();
    for (Edge& e : node->next_edges_)
      if (e.fn) pending.push_back(std::move(e.fn));
  }  // `node` dies here with no edges left, so its destructor does not recurse
}

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> leaf)
    : Node("AccumulateGrad", {}, {}), leaf_(std::move(leaf)) {}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& g) {
  Tensor current(leaf_->grad);
  if (!current.defined()) {
    // A fresh tensor, so later in-place changes to .grad (zeroing) never reach tensors of the graph. Under
    // create_graph the history is kept, so the gradient itself can be differentiated.
    leaf_->grad = (grad_enabled() ? g.clone() : g.detach().clone()).impl_ptr();
  } else {
    leaf_->grad = add(current, g).impl_ptr();
  }
  return {};
}

namespace {

// The node made by record(): a closure plus an optionally saved output.
class FunctionNode : public Node {
 public:
  FunctionNode(std::string name, std::vector<Edge> edges, std::vector<InputMeta> meta, BackwardFn fn,
               RecordOptions options)
      : Node(std::move(name), std::move(edges), std::move(meta)), fn_(std::move(fn)), options_(options) {}

  void save_output(const Tensor& out) {
    // Keep the data and geometry only; the history is re-attached when unpacked, to avoid a reference cycle.
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = out.storage();
    impl->shape = out.shape();
    impl->strides = out.strides();
    impl->offset = out.offset();
    impl->dtype = out.dtype();
    saved_output_ = std::move(impl);
  }

  std::vector<Tensor> apply(const Tensor& grad_output) override {
    if (!fn_)
      throw std::runtime_error(
          "autograd: trying to backward through op '" + name() +
          "' a second time, but its saved tensors were freed after the first backward. Pass retain_graph=true "
          "to the first backward()/grad() call if you need to run backward through the graph more than once.");
    Tensor out;
    if (saved_output_) {
      auto impl = std::make_shared<TensorImpl>(*saved_output_);
      impl->grad_fn = shared_from_this();
      out = Tensor(std::move(impl));
    }
    return fn_(grad_output, out);
  }

  void release() override {
    fn_ = nullptr;
    saved_output_.reset();
  }

  bool supports_double_backward() const override { return options_.supports_double_backward; }

 private:
  BackwardFn fn_;
  RecordOptions options_;
  std::shared_ptr<TensorImpl> saved_output_;
};

// Stands for the gradient of an op whose backward is not differentiable: differentiating through it is an error.
class NotDifferentiableNode : public Node {
 public:
  NotDifferentiableNode(const std::string& op, std::vector<Edge> edges, std::vector<InputMeta> meta)
      : Node(op + "Backward(not differentiable)", std::move(edges), std::move(meta)), op_(op) {}
  std::vector<Tensor> apply(const Tensor&) override {
    throw std::runtime_error("autograd: op '" + op_ +
                             "' does not support double backward: its gradient was computed with create_graph=true "
                             "but cannot be differentiated again");
  }

 private:
  std::string op_;
};

Edge edge_of(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return {impl->grad_fn};
  auto acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return {acc};
}

}  // namespace

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Tensor record(const char* name, const std::vector<Tensor>& inputs, Tensor output, BackwardFn backward,
              RecordOptions options) {
  if (!needs_grad(inputs)) return output;
  if (!is_floating(output.dtype()))
    throw std::logic_error(std::string(name) + ": cannot record a gradient for an output of dtype " +
                           dtype_name(output.dtype()));
  std::vector<Edge> edges;
  std::vector<InputMeta> meta;
  edges.reserve(inputs.size());
  meta.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    edges.push_back(edge_of(t));
    meta.push_back(t.defined() ? InputMeta{t.shape(), t.dtype()} : InputMeta{});
  }
  auto node = std::make_shared<FunctionNode>(name, std::move(edges), std::move(meta), std::move(backward), options);
  if (options.save_output) node->save_output(output);
  // The output may alias an input's storage (views); give it its own impl so the input's metadata is untouched.
  if (output.impl()->grad_fn || output.impl()->requires_grad) {
    auto impl = std::make_shared<TensorImpl>(*output.impl());
    impl->grad = nullptr;
    impl->grad_accumulator.reset();
    output = Tensor(std::move(impl));
  }
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = false;
  return output;
}

// ---- the engine ----
namespace {

struct Root {
  std::shared_ptr<Node> node;
  Tensor grad;
};

std::vector<Root> make_roots(const char* caller, const std::vector<Tensor>& outputs,
                             const std::vector<Tensor>& grad_outputs) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    throw std::invalid_argument(std::string(caller) + ": got " + std::to_string(outputs.size()) + " outputs but " +
                                std::to_string(grad_outputs.size()) + " grad_outputs");
  std::vector<Root> roots;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    if (!out.defined()) throw std::invalid_argument(std::string(caller) + ": output " + std::to_string(i) + " is undefined");
    if (!out.requires_grad())
      throw std::invalid_argument(std::string(caller) + ": output " + std::to_string(i) + " (shape " +
                                  shape_str(out.shape()) +
                                  ") does not require grad and has no grad_fn: nothing to differentiate");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      if (out.numel() != 1)
        throw std::invalid_argument(std::string(caller) + ": grad can be implicitly created only for scalar "
                                    "outputs, but output " + std::to_string(i) + " has shape " +
                                    shape_str(out.shape()) + "; pass a gradient of that shape");
      g = ones_like(out);
    } else if (g.shape() != out.shape()) {
      throw std::invalid_argument(std::string(caller) + ": gradient of shape " + shape_str(g.shape()) +
                                  " does not match output " + std::to_string(i) + " of shape " +
                                  shape_str(out.shape()));
    }
    roots.push_back({edge_of(out).fn, g});
  }
  return roots;
}

class GraphTask {
 public:
  GraphTask(bool keep_graph, bool create_graph) : keep_graph_(keep_graph), create_graph_(create_graph) {}

  // Nodes whose incoming gradient is wanted by grad(); when set, only nodes leading to them run.
  std::unordered_map<Node*, std::vector<size_t>> captures;
  std::vector<Tensor> captured;

  void run(const std::vector<Root>& roots) {
    count_dependencies(roots);
    if (!captures.empty()) mark_needed(roots);
    for (const Root& r : roots) accumulate_into(r.node.get(), r.grad);
    std::vector<Node*> ready;
    for (const Root& r : roots)
      if (dependencies_[r.node.get()] == 0 && !queued_.count(r.node.get())) {
        queued_.insert(r.node.get());
        ready.push_back(r.node.get());
      }
    GradModeGuard mode(create_graph_);
    while (!ready.empty()) {
      Node* node = ready.back();
      ready.pop_back();
      Tensor g = std::move(buffers_[node]);
      buffers_.erase(node);
      if (auto it = captures.find(node); it != captures.end() && g.defined())
        for (size_t slot : it->second) captured[slot] = g;
      const bool run_node = captures.empty() ? true : needed_.count(node) > 0;
      if (run_node && g.defined()) execute(node, g);
      for (const Edge& e : node->next_edges()) {
        if (!e.fn) continue;
        if (--dependencies_[e.fn.get()] == 0) ready.push_back(e.fn.get());
      }
    }
  }

 private:
  void count_dependencies(const std::vector<Root>& roots) {
    std::vector<Node*> stack;
    for (const Root& r : roots)
      if (seen_.insert(r.node.get()).second) stack.push_back(r.node.get());
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (const Edge& e : n->next_edges()) {
        if (!e.fn) continue;
        ++dependencies_[e.fn.get()];
        if (seen_.insert(e.fn.get()).second) stack.push_back(e.fn.get());
      }
    }
  }

  // needed_ = nodes from which some capture target is reachable through at least one edge (they must run).
  void mark_needed(const std::vector<Root>& roots) {
    std::unordered_map<Node*, int> state;  // 0 unvisited, 1 in progress, 2 done
    std::unordered_set<Node*> leads;       // the node is a capture or leads to one
    struct Frame { Node* node; size_t next; };
    std::vector<Frame> stack;
    for (const Root& r : roots) {
      if (state[r.node.get()]) continue;
      stack.push_back({r.node.get(), 0});
      state[r.node.get()] = 1;
      while (!stack.empty()) {
        Frame& f = stack.back();
        const auto& edges = f.node->next_edges();
        if (f.next < edges.size()) {
          Node* child = edges[f.next++].fn.get();
          if (child && state[child] == 0) {
            state[child] = 1;
            stack.push_back({child, 0});
          }
          continue;
        }
        bool need = false;
        for (const Edge& e : edges)
          if (e.fn && leads.count(e.fn.get())) need = true;
        if (need) needed_.insert(f.node);
        if (need || captures.count(f.node)) leads.insert(f.node);
        state[f.node] = 2;
        stack.pop_back();
      }
    }
  }

  void accumulate_into(Node* node, const Tensor& g) {
    Tensor& slot = buffers_[node];
    slot = slot.defined() ? add(slot, g) : g;
  }

  void execute(Node* node, const Tensor& g) {
    std::vector<Tensor> grads;
    const bool differentiable = !create_graph_ || node->supports_double_backward();
    {
      GradModeGuard mode(create_graph_ && differentiable);
      grads = node->apply(g);
    }
    if (!keep_graph_) node->release();
    const auto& edges = node->next_edges();
    if (dynamic_cast<AccumulateGrad*>(node)) return;
    if (grads.size() != edges.size())
      throw std::logic_error("autograd: op '" + node->name() + "' returned " + std::to_string(grads.size()) +
                             " gradients for " + std::to_string(edges.size()) + " inputs");
    for (size_t i = 0; i < edges.size(); ++i) {
      if (!edges[i].fn || !grads[i].defined()) continue;
      const InputMeta& meta = node->input_meta()[i];
      if (grads[i].shape() != meta.shape)
        throw std::logic_error("autograd: op '" + node->name() + "' returned a gradient of shape " +
                               shape_str(grads[i].shape()) + " for input " + std::to_string(i) + " of shape " +
                               shape_str(meta.shape));
      if (!differentiable) grads[i] = mark_not_differentiable(node, g, grads[i]);
      accumulate_into(edges[i].fn.get(), grads[i]);
    }
  }

  // The gradient of an op without double backward depends on the incoming gradient and on the op's inputs;
  // route both through a node that raises if anyone differentiates through it.
  Tensor mark_not_differentiable(Node* node, const Tensor& g, const Tensor& grad) {
    std::vector<Edge> edges = {edge_of(g)};
    std::vector<InputMeta> meta = {{g.shape(), g.dtype()}};
    for (size_t i = 0; i < node->next_edges().size(); ++i) {
      edges.push_back(node->next_edges()[i]);
      meta.push_back(node->input_meta()[i]);
    }
    Tensor out = grad.detach();
    out.impl()->grad_fn = std::make_shared<NotDifferentiableNode>(node->name(), std::move(edges), std::move(meta));
    return out;
  }

  bool keep_graph_;
  bool create_graph_;
  std::unordered_set<Node*> seen_;
  std::unordered_map<Node*, int64_t> dependencies_;
  std::unordered_map<Node*, Tensor> buffers_;
  std::unordered_set<Node*> needed_;
  std::unordered_set<Node*> queued_;
};

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs, bool retain_graph,
              bool create_graph) {
  std::vector<Root> roots = make_roots("backward", outputs, grad_outputs);
  GraphTask task(retain_graph || create_graph, create_graph);
  task.run(roots);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool create_graph, bool allow_unused) {
  return grad(outputs, inputs, grad_outputs, create_graph, create_graph, allow_unused);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph, bool create_graph,
                         bool allow_unused) {
  std::vector<Root> roots = make_roots("grad", outputs, grad_outputs);
  GraphTask task(retain_graph, create_graph);
  std::vector<std::shared_ptr<Node>> keep_alive;  // accumulators created here must outlive the run
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    if (!in.defined() || !in.requires_grad())
      throw std::invalid_argument("grad: input " + std::to_string(i) +
                                  (in.defined() ? " (shape " + shape_str(in.shape()) + ")" : std::string()) +
                                  " does not require grad");
    Edge e = edge_of(in);
    keep_alive.push_back(e.fn);
    task.captures[e.fn.get()].push_back(i);
  }
  task.captured.resize(inputs.size());
  task.run(roots);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!task.captured[i].defined() && !allow_unused)
      throw std::invalid_argument("grad: input " + std::to_string(i) + " (shape " + shape_str(inputs[i].shape()) +
                                  ") was not used to compute the outputs; pass allow_unused=true if that is "
                                  "intended");
  }
  return task.captured;
}

}  // namespace gan
