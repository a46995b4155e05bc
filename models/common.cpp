#include "models/common.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "engine/nn/init.h"

namespace gan::models {

namespace F = nn::functional;

// ---- flags ----
namespace {
const nlohmann::json& cfg_get(const nlohmann::json& cfg, const std::string& key) {
  if (!cfg.is_object() || !cfg.contains(key))
    throw std::invalid_argument("model config: flag '" + key + "' is missing (resolve_config fills every flag)");
  return cfg.at(key);
}
[[noreturn]] void bad_type(const std::string& key, const char* want, const nlohmann::json& v) {
  throw std::invalid_argument("model config: flag '" + key + "' must be " + want + ", got " + v.dump());
}
}  // namespace

double cfg_num(const nlohmann::json& cfg, const std::string& key) {
  const auto& v = cfg_get(cfg, key);
  if (!v.is_number()) bad_type(key, "a number", v);
  return v.get<double>();
}

int64_t cfg_int(const nlohmann::json& cfg, const std::string& key) {
  const auto& v = cfg_get(cfg, key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()) return static_cast<int64_t>(v.get<double>());
  bad_type(key, "an integer", v);
}

bool cfg_bool(const nlohmann::json& cfg, const std::string& key) {
  const auto& v = cfg_get(cfg, key);
  if (!v.is_boolean()) bad_type(key, "true or false", v);
  return v.get<bool>();
}

std::string cfg_str(const nlohmann::json& cfg, const std::string& key) {
  const auto& v = cfg_get(cfg, key);
  if (!v.is_string()) bad_type(key, "a string", v);
  return v.get<std::string>();
}

// ---- data checks ----
std::string check_images(const std::string& model, const data::DataSpec& spec) {
  if (spec.kind != data::ExampleKind::Image)
    return model + " works on images, and this dataset holds " + std::to_string(spec.point_dim) +
           "-D points (for point data use gan, wgan, wgan-gp, unrolled, lsgan, cgan, vae or ae)";
  if (spec.image_size != 28 && spec.image_size != 32 && spec.image_size != 64)
    return model + " builds networks for 28, 32 or 64-pixel images, and this dataset gives " +
           std::to_string(spec.image_size) + "x" + std::to_string(spec.image_size) +
           " (ask the data for --image-size 32 or 64)";
  if (spec.channels <= 0) return model + ": the dataset reports " + std::to_string(spec.channels) + " channels";
  return "";
}

std::string check_images_or_points(const std::string& model, const data::DataSpec& spec) {
  if (spec.kind == data::ExampleKind::Points) {
    if (spec.point_dim <= 0) return model + ": the dataset reports points of dimension " + std::to_string(spec.point_dim);
    return "";
  }
  return check_images(model, spec);
}

// ---- modules ----
std::string SeededDropout::describe() const { return "Dropout(p=" + std::to_string(p_) + ")"; }

Tensor NetGroup::forward(const Tensor&) {
  throw std::logic_error(name_ + ": a group of networks is called through its members, not as a whole");
}

Norm parse_norm(const std::string& text, const std::string& flag) {
  if (text == "none") return Norm::None;
  if (text == "batch") return Norm::Batch;
  if (text == "layer") return Norm::Layer;
  throw std::invalid_argument("flag '" + flag + "': unknown normalization '" + text +
                              "' (expected none, batch or layer)");
}

// ---- builders ----
namespace {
void add_act(nn::Sequential& net, Act act) {
  if (act == Act::ReLU) net.add(std::make_shared<nn::ReLU>());
  else net.add(std::make_shared<nn::LeakyReLU>(0.2));
}

F::ActivationArgs act_args(Act act) {
  return act == Act::ReLU ? F::ActivationArgs{F::Activation::ReLU} : F::ActivationArgs{F::Activation::LeakyReLU, 0.2};
}

// Normalization + activation after a layer with `ch` outputs; `chw` is the feature shape for layer norm.
void norm_act(nn::Sequential& net, Norm norm, Act act, int64_t ch, const Shape& chw, bool fuse, DType dtype) {
  if (norm == Norm::Batch) {
    const bool conv = chw.size() == 3;
    if (fuse) {
      if (conv) net.add(std::make_shared<nn::BatchNorm2d>(ch, 1e-5, 0.1, true, true, act_args(act), dtype));
      else net.add(std::make_shared<nn::BatchNorm1d>(ch, 1e-5, 0.1, true, true, act_args(act), dtype));
      net.add(std::make_shared<FusedActivation>(act == Act::ReLU ? "ReLU" : "LeakyReLU(0.2)"));
      return;
    }
    if (conv) net.add(std::make_shared<nn::BatchNorm2d>(ch, 1e-5, 0.1, true, true, F::ActivationArgs{}, dtype));
    else net.add(std::make_shared<nn::BatchNorm1d>(ch, 1e-5, 0.1, true, true, F::ActivationArgs{}, dtype));
  } else if (norm == Norm::Layer) {
    net.add(std::make_shared<nn::LayerNorm>(chw, 1e-5, true, dtype));
  }
  add_act(net, act);
}

void check_size(const char* what, int64_t image_size) {
  if (image_size != 28 && image_size != 32 && image_size != 64)
    throw std::invalid_argument(std::string(what) + ": image_size must be 28, 32 or 64, got " +
                                std::to_string(image_size));
}

int64_t base_size(int64_t image_size) { return image_size == 28 ? 7 : 4; }
}  // namespace

std::shared_ptr<SequentialNet> mlp(const MlpOptions& o, const std::string& name) {
  if (o.in <= 0 || o.out <= 0 || o.hidden <= 0 || o.layers < 0)
    throw std::invalid_argument(name + ": MLP sizes must be positive (in " + std::to_string(o.in) + ", hidden " +
                                std::to_string(o.hidden) + ", layers " + std::to_string(o.layers) + ", out " +
                                std::to_string(o.out) + ")");
  if (!(o.dropout >= 0.0 && o.dropout < 1.0))  // checked here, not at the first forward pass mid-training
    throw std::invalid_argument(name + ": dropout must be in [0, 1), got " + std::to_string(o.dropout));
  auto m = std::make_shared<SequentialNet>(name);
  nn::Sequential& net = *m->net;
  if (o.flatten_input) net.add(std::make_shared<nn::Flatten>());
  int64_t width = o.in;
  for (int64_t i = 0; i < o.layers; ++i) {
    net.add(std::make_shared<nn::Linear>(width, o.hidden, o.norm != Norm::Batch));
    norm_act(net, o.norm, o.act, o.hidden, {o.hidden}, true, DType::Float32);
    if (o.dropout > 0) net.add(std::make_shared<SeededDropout>(o.dropout, o.gen));
    width = o.hidden;
  }
  net.add(std::make_shared<nn::Linear>(width, o.out));
  if (o.tanh_out) net.add(std::make_shared<nn::Tanh>());
  if (!o.out_shape.empty()) net.add(std::make_shared<nn::Unflatten>(o.out_shape));
  return m;
}

std::shared_ptr<SequentialNet> conv_generator(int64_t in_dim, int64_t channels, int64_t image_size, int64_t ngf,
                                              Norm norm, bool tanh_out, bool fuse, DType dtype) {
  check_size("conv generator", image_size);
  auto g = std::make_shared<SequentialNet>("DCGAN generator");
  nn::Sequential& net = *g->net;
  const int64_t base = base_size(image_size);
  int64_t mids = 0;  // doubling layers between the base and the last layer
  for (int64_t s = base; s * 2 < image_size; s *= 2) ++mids;
  int64_t width = ngf << mids;
  net.add(std::make_shared<nn::ConvTranspose2d>(in_dim, width, base, 1, 0, 0, false, dtype));
  norm_act(net, norm, Act::ReLU, width, {width, base, base}, fuse, dtype);
  int64_t size = base;
  for (int64_t i = 0; i < mids; ++i) {
    net.add(std::make_shared<nn::ConvTranspose2d>(width, width / 2, 4, 2, 1, 0, false, dtype));
    size *= 2;
    norm_act(net, norm, Act::ReLU, width / 2, {width / 2, size, size}, fuse, dtype);
    width /= 2;
  }
  net.add(std::make_shared<nn::ConvTranspose2d>(width, channels, 4, 2, 1, 0, false, dtype));
  if (tanh_out) net.add(std::make_shared<nn::Tanh>());
  return g;
}

int64_t conv_feature_size(int64_t image_size) { return base_size(image_size); }

int64_t conv_feature_channels(int64_t image_size, int64_t ndf) {
  int64_t width = ndf;
  for (int64_t size = image_size / 2; size > base_size(image_size); size /= 2) width *= 2;
  return width;
}

std::shared_ptr<SequentialNet> conv_discriminator(int64_t channels, int64_t image_size, int64_t ndf, Norm norm,
                                                  bool head, bool fuse, DType dtype) {
  check_size("conv discriminator", image_size);
  auto d = std::make_shared<SequentialNet>("DCGAN discriminator");
  nn::Sequential& net = *d->net;
  const int64_t base = base_size(image_size);
  int64_t width = ndf;
  net.add(std::make_shared<nn::Conv2d>(channels, width, 4, 2, 1, false, dtype));
  net.add(std::make_shared<nn::LeakyReLU>(0.2));
  for (int64_t size = image_size / 2; size > base; size /= 2) {
    net.add(std::make_shared<nn::Conv2d>(width, width * 2, 4, 2, 1, false, dtype));
    norm_act(net, norm, Act::LeakyReLU, width * 2, {width * 2, size / 2, size / 2}, fuse, dtype);
    width *= 2;
  }
  if (head) {
    net.add(std::make_shared<nn::Conv2d>(width, 1, base, 1, 0, false, dtype));
    net.add(std::make_shared<nn::Flatten>());
  }
  return d;
}

// ---- functional evaluation at given parameters ----
namespace {
Tensor run_with(nn::Module& m, const Tensor& x, const std::vector<Tensor>& p, size_t& i) {
  auto take = [&](const Tensor& slot) -> Tensor {
    if (!slot.defined()) return Tensor();
    if (i >= p.size())
      throw std::invalid_argument("forward_with_params: " + std::to_string(p.size()) +
                                  " parameters given, the network has more");
    return p[i++];
  };
  if (auto* s = dynamic_cast<SequentialNet*>(&m)) return run_with(*s->net, x, p, i);
  if (auto* s = dynamic_cast<nn::Sequential*>(&m)) {
    Tensor h = x;
    for (size_t k = 0; k < s->size(); ++k) h = run_with((*s)[k], h, p, i);
    return h;
  }
  if (auto* l = dynamic_cast<nn::Linear*>(&m)) {
    Tensor w = take(l->weight);
    return F::linear(x, w, take(l->bias));
  }
  if (auto* c = dynamic_cast<nn::Conv2d*>(&m)) {
    Tensor w = take(c->weight);
    return F::conv2d(x, w, take(c->bias), c->args);
  }
  if (auto* c = dynamic_cast<nn::ConvTranspose2d*>(&m)) {
    Tensor w = take(c->weight);
    return F::conv_transpose2d(x, w, take(c->bias), c->args);
  }
  if (auto* ln = dynamic_cast<nn::LayerNorm*>(&m)) {
    Tensor w = take(ln->weight);
    return F::layer_norm(x, ln->normalized_shape, w, take(ln->bias), ln->eps);
  }
  if (dynamic_cast<nn::BatchNorm*>(&m) || dynamic_cast<nn::Dropout*>(&m) || dynamic_cast<SeededDropout*>(&m) ||
      !m.named_parameters().empty() || !m.children().empty())
    throw std::invalid_argument("forward_with_params: cannot evaluate " + m.describe() +
                                " at substituted parameters (only linear, conv, layer norm and activations)");
  return m.forward(x);  // parameterless: activations, Flatten, Unflatten
}
}  // namespace

Tensor forward_with_params(nn::Module& net, const Tensor& x, const std::vector<Tensor>& params) {
  size_t i = 0;
  Tensor out = run_with(net, x, params, i);
  if (i != params.size())
    throw std::invalid_argument("forward_with_params: " + std::to_string(params.size()) +
                                " parameters given, the network used " + std::to_string(i));
  return out;
}

// ---- initialization, devices ----
void init_weights(nn::Module& m, Init init, Generator& gen) {
  const bool dc = init == Init::Dcgan;
  auto weight_bias = [&](const Tensor& w, const Tensor& b) {
    if (dc) nn::init::normal_(w, 0.0, 0.02, &gen);
    else nn::init::default_weight_(w, &gen);
    if (b.defined()) {
      if (dc) nn::init::constant_(b, 0.0);
      else nn::init::default_bias_(b, nn::init::fan_in(w), &gen);
    }
  };
  if (auto* l = dynamic_cast<nn::Linear*>(&m)) weight_bias(l->weight, l->bias);
  if (auto* c = dynamic_cast<nn::Conv2d*>(&m)) weight_bias(c->weight, c->bias);
  if (auto* c = dynamic_cast<nn::ConvTranspose2d*>(&m)) weight_bias(c->weight, c->bias);
  if (auto* e = dynamic_cast<nn::Embedding*>(&m)) nn::init::normal_(e->weight, 0.0, 1.0, &gen);
  if (auto* bn = dynamic_cast<nn::BatchNorm*>(&m); bn && bn->weight.defined()) {
    if (dc) nn::init::normal_(bn->weight, 1.0, 0.02, &gen);
    else nn::init::constant_(bn->weight, 1.0);
    nn::init::constant_(bn->bias, 0.0);
  }
  for (auto& [name, child] : m.children()) init_weights(*child, init, gen);
}

void module_to(nn::Module& m, Device device) {
  NoGradGuard no_grad;
  for (auto& [name, t] : m.state_dict()) {
    if (t.device() == device) continue;
    // The layer and the module registry hold the same TensorImpl: repointing its storage moves both.
    Tensor moved = t.detach().to(device).contiguous();
    TensorImpl* impl = t.impl();
    impl->storage = moved.storage();
    impl->strides = moved.strides();
    impl->offset = moved.offset();
  }
}

// ---- noise and tricks ----
// Drawn on the device itself: the Philox numbers are the same on every device (engine/rng.h), so this costs no
// host-to-device copy per step and changes no result.
Tensor normal_noise(const Shape& shape, Generator& gen, Device device) {
  return randn(shape, DType::Float32, &gen, 0.0, 1.0, device);
}

Tensor uniform_noise(const Shape& shape, Generator& gen, Device device, double lo, double hi) {
  return rand(shape, DType::Float32, &gen, lo, hi, device);
}

Tensor random_labels(int64_t n, int64_t k, Generator& gen, Device device) {
  // floor(u k) for u ~ U[0, 1) in float32, capped at k - 1 (u k can round up to k): the same numbers on every
  // device, drawn where they are used.
  const Tensor u = rand({n}, DType::Float32, &gen, 0.0, 1.0, device);
  return clamp(mul(u, static_cast<double>(k)), 0.0, static_cast<double>(k - 1)).to(DType::Int64);
}

Tensor one_hot_labels(const std::string& model, const Tensor& labels, int64_t k) {
  if (labels.dtype() != DType::Int64 || labels.dim() != 1)
    throw std::invalid_argument(model + ": labels must be int64 [N], got " + std::string(dtype_name(labels.dtype())) +
                                " " + shape_str(labels.shape()));
  if (labels.device().is_cpu())
    for (int64_t v : labels.to_vector<int64_t>())
      if (v < 0 || v >= k)
        throw std::invalid_argument(model + ": label " + std::to_string(v) + " is outside [0, " + std::to_string(k) +
                                    ") (unlabeled data gives -1: this model needs a labeled dataset)");
  return F::one_hot(labels, k, DType::Float32);
}

Tensor join_condition(const Tensor& x, const Tensor& cond) {
  if (cond.dim() != 2 || cond.shape()[0] != x.shape()[0])
    throw std::invalid_argument("join_condition: conditioning " + shape_str(cond.shape()) + " does not fit inputs " +
                                shape_str(x.shape()));
  if (x.dim() == 2) return concat({x, cond}, 1);
  if (x.dim() != 4)
    throw std::invalid_argument("join_condition: expected images [N, C, S, S] or points [N, d], got " +
                                shape_str(x.shape()));
  const int64_t n = x.shape()[0], k = cond.shape()[1];
  const Tensor maps = expand(reshape(cond, {n, k, 1, 1}), {n, k, x.shape()[2], x.shape()[3]});
  return concat({x, maps}, 1);
}

double instance_noise_sigma(double sigma, int64_t anneal_steps, int64_t step) {
  if (sigma <= 0) return 0.0;
  if (anneal_steps <= 0) return sigma;
  return sigma * std::max(0.0, 1.0 - static_cast<double>(step) / static_cast<double>(anneal_steps));
}

Tensor add_instance_noise(const Tensor& x, double sigma, Generator& gen) {
  if (sigma <= 0) return x;
  return x + normal_noise(x.shape(), gen, x.device()) * sigma;
}

Tensor real_targets(const Tensor& logits, double smoothing) { return full_like(logits, 1.0 - smoothing); }

Tensor bce_with_logits_differentiable(const Tensor& logits, const Tensor& targets) {
  return mean(softplus(logits) - logits * targets);
}

// ---- EMA ----
Ema::Ema(const nn::Module& live, std::shared_ptr<nn::Module> avg, double decay)
    : live_(live), avg_(std::move(avg)), decay_(decay) {
  if (!(decay > 0 && decay < 1))
    throw std::invalid_argument("ema: decay must be in (0, 1), got " + std::to_string(decay));
  avg_->load_state_dict(live_.state_dict());
}

void Ema::update() {
  NoGradGuard no_grad;
  const NamedTensors live = live_.named_parameters(), avg = avg_->named_parameters();
  for (size_t i = 0; i < live.size(); ++i)
    copy_(avg[i].second, avg[i].second * decay_ + live[i].second.detach() * (1.0 - decay_));
  const NamedTensors live_b = live_.named_buffers(), avg_b = avg_->named_buffers();
  for (size_t i = 0; i < live_b.size(); ++i) copy_(avg_b[i].second, live_b[i].second);
}

// ---- EvalScope ----
EvalScope::EvalScope(std::vector<nn::Module*> modules) {
  for (nn::Module* m : modules) {
    if (!m) continue;
    saved_.emplace_back(m, m->is_training());
    m->eval();
  }
}

EvalScope::~EvalScope() {
  for (auto& [m, training] : saved_) m->train(training);
}

// ---- grids ----
std::pair<int64_t, int64_t> grid_shape(int64_t n) {
  n = std::max<int64_t>(n, 1);
  int64_t cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  int64_t rows = (n + cols - 1) / cols;
  return {rows, cols};
}

Tensor lerp_rows(const Tensor& a, const Tensor& b, int64_t steps) {
  if (a.dim() != 2 || a.shape() != b.shape())
    throw std::invalid_argument("lerp_rows: expected two [rows, d] tensors of one shape, got " + shape_str(a.shape()) +
                                " and " + shape_str(b.shape()));
  if (steps < 1) throw std::invalid_argument("lerp_rows: steps must be >= 1, got " + std::to_string(steps));
  std::vector<float> t(static_cast<size_t>(steps));
  for (int64_t s = 0; s < steps; ++s) t[s] = steps == 1 ? 0.0f : static_cast<float>(s) / static_cast<float>(steps - 1);
  Tensor w = from_vector(t, {1, steps, 1});
  if (!a.device().is_cpu()) w = w.to(a.device());
  Tensor out = unsqueeze(a, 1) + w * unsqueeze(b - a, 1);  // [rows, steps, d]
  return reshape(out, {a.shape()[0] * steps, a.shape()[1]});
}

// ---- ZooModel ----
ZooModel::ZooModel(std::string name, const ModelContext& ctx)
    : name_(std::move(name)), spec_(ctx.data), device_(ctx.device), cfg_(ctx.config), rng_(ctx.seed, 0) {
  gens_.emplace_back("rng", &rng_);
}

void ZooModel::add_net(const std::string& prefix, nn::Module* net, bool counted) {
  nets_.emplace_back(prefix, net);
  counted_.push_back(counted);
}

void ZooModel::add_optimizer(const std::string& prefix, optim::Optimizer* opt) { opts_.emplace_back(prefix, opt); }

void ZooModel::add_generator(const std::string& prefix, Generator* gen) { gens_.emplace_back(prefix, gen); }

namespace {
Tensor int_scalar(uint64_t v) { return from_vector(std::vector<int64_t>{static_cast<int64_t>(v)}, {}); }

uint64_t scalar_u64(const Tensor& t, const std::string& name) {
  if (t.dtype() != DType::Int64 || t.numel() != 1)
    throw std::invalid_argument("load_state: '" + name + "' must be one int64 value, got " +
                                std::string(dtype_name(t.dtype())) + " " + shape_str(t.shape()));
  return static_cast<uint64_t>(t.contiguous().to(Device::cpu()).data<int64_t>()[0]);
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

std::string join_list(const std::vector<std::string>& names) {
  std::string out;
  const size_t shown = std::min<size_t>(names.size(), 12);
  for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > shown) out += " and " + std::to_string(names.size() - shown) + " more";
  return out;
}
}  // namespace

NamedTensors ZooModel::state() const {
  NamedTensors out;
  out.emplace_back("model." + name_, int_scalar(1));
  for (const auto& [prefix, net] : nets_)
    for (const auto& [n, t] : net->state_dict()) out.emplace_back(prefix + "." + n, t.detach().clone());
  for (const auto& [prefix, opt] : opts_)
    for (const auto& [n, t] : opt->state()) out.emplace_back(prefix + "." + n, t.detach().clone());
  for (const auto& [prefix, gen] : gens_) {
    const Generator::State s = gen->state();
    out.emplace_back(prefix + ".seed", int_scalar(s.seed));
    out.emplace_back(prefix + ".offset", int_scalar(s.offset));
    out.emplace_back(prefix + ".stream", int_scalar(s.stream));
  }
  return out;
}

void ZooModel::load_state(const NamedTensors& state) {
  const std::string me = name_ + ": load_state: ";
  // Whose state is it?
  for (const auto& [n, t] : state)
    if (starts_with(n, "model.") && n != "model." + name_)
      throw std::invalid_argument(me + "this state belongs to model '" + n.substr(6) + "', not '" + name_ + "'");

  std::map<std::string, Tensor> given;
  for (const auto& [n, t] : state)
    if (!given.emplace(n, t).second) throw std::invalid_argument(me + "entry '" + n + "' appears twice");

  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> used;
  auto expect = [&](const std::string& n) {
    auto it = given.find(n);
    if (it == given.end()) missing.push_back(n);
    else used.insert(n);
    return it;
  };
  expect("model." + name_);
  std::vector<NamedTensors> net_states(nets_.size());
  for (size_t k = 0; k < nets_.size(); ++k) {
    const auto& [prefix, net] = nets_[k];
    for (const auto& [n, t] : net->state_dict()) {
      auto it = expect(prefix + "." + n);
      if (it == given.end()) continue;
      if (it->second.shape() != t.shape())
        mismatched.push_back(it->first + " (state " + shape_str(it->second.shape()) + ", model " +
                             shape_str(t.shape()) + ")");
      else net_states[k].emplace_back(n, it->second);
    }
  }
  std::vector<NamedTensors> opt_states(opts_.size());
  for (const auto& [n, t] : given) {
    for (size_t k = 0; k < opts_.size(); ++k)
      if (starts_with(n, opts_[k].first + ".")) {
        opt_states[k].emplace_back(n.substr(opts_[k].first.size() + 1), t);
        used.insert(n);
      }
  }
  std::vector<Generator::State> gen_states(gens_.size());
  for (size_t k = 0; k < gens_.size(); ++k) {
    for (const char* part : {"seed", "offset", "stream"}) {
      const std::string key = gens_[k].first + "." + part;
      auto it = expect(key);
      if (it == given.end()) continue;
      const uint64_t v = scalar_u64(it->second, key);
      if (std::string(part) == "seed") gen_states[k].seed = v;
      else if (std::string(part) == "offset") gen_states[k].offset = v;
      else gen_states[k].stream = v;
    }
  }
  for (const auto& [n, t] : given)
    if (!used.count(n)) unexpected.push_back(n);

  std::string problems;
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    problems += std::string(problems.empty() ? "" : "; ") + what + " (" + std::to_string(names.size()) +
                "): " + join_list(names);
  };
  list("missing", missing);
  list("unexpected", unexpected);
  list("shape mismatch", mismatched);
  if (!problems.empty()) throw std::invalid_argument(me + problems);

  // Everything the model checks is fine; the optimizers check their own entries as they load.
  for (size_t k = 0; k < opts_.size(); ++k) {
    try {
      opts_[k].second->load_state(opt_states[k]);
    } catch (const std::exception& e) {
      throw std::invalid_argument(me + opts_[k].first + ": " + e.what());
    }
  }
  for (size_t k = 0; k < nets_.size(); ++k) nets_[k].second->load_state_dict(net_states[k]);
  for (size_t k = 0; k < gens_.size(); ++k) gens_[k].second->set_state(gen_states[k]);
}

Metrics ZooModel::parameter_counts() const {
  Metrics out;
  for (size_t k = 0; k < nets_.size(); ++k)
    if (counted_[k]) out.emplace_back(nets_[k].first, static_cast<double>(nets_[k].second->parameter_count()));
  return out;
}

}  // namespace gan::models
