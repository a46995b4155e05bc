// `gan export`: the generator's weights alone (a DCGAN-64 checkpoint holds G, D and both optimizers' moments; the
// generator is a quarter of it), as a safetensors file that PyTorch loads without gan-engine:
//   tensors    the generator's state_dict with PyTorch's names for a torch.nn.Sequential ("0.weight",
//              "1.running_mean", "1.num_batches_tracked", ...), float32 (int64 for the batch counters);
//   metadata   format "gan-engine-generator"; torch_layers, a JSON list of [class name in torch.nn, args, kwargs]
//              that rebuilds the Sequential; input_shape (one sample's input, e.g. [100, 1, 1]); input (what
//              goes in it); output (the range, and any transform sample() applies after the net); model, step,
//              model_config, data_spec, gan_version.
// The README's snippet loads it with plain torch; tests/apps/test_export_torch.cpp runs that snippet.
#include <CLI/CLI.hpp>

#include "apps/commands.h"
#include "apps/run_dir.h"
#include "apps/trained_run.h"
#include "engine/nn/layers.h"
#include "engine/safetensors.h"
#include "models/dcgan.h"

namespace gan::apps {

namespace {

using nlohmann::json;

// The layers of a generator as torch.nn constructor calls. The engine's layers keep PyTorch's names and
// arguments, so each maps one to one; an activation fused into the batch norm before it (models/dcgan.h's
// FusedActivation) becomes the separate activation PyTorch has at that index.
// A per-axis size as torch.nn takes it: one int when both axes agree, else [h, w].
json torch_size(const nn::functional::Size2& s) {
  return s.h == s.w ? json(s.h) : json::array({s.h, s.w});
}

json torch_layers(const nn::Sequential& seq, const std::string& model) {
  json layers = json::array();
  const nn::BatchNorm* last_bn = nullptr;
  for (const auto& [name, child] : seq.children()) {
    const nn::Module* m = child.get();
    if (const auto* l = dynamic_cast<const nn::Linear*>(m)) {
      layers.push_back({"Linear", {l->in_features, l->out_features}, {{"bias", l->bias.defined()}}});
    } else if (const auto* c = dynamic_cast<const nn::ConvTranspose2d*>(m)) {
      layers.push_back({"ConvTranspose2d", {c->in_channels, c->out_channels, torch_size(c->kernel_size)},
                        {{"stride", torch_size(c->args.stride)}, {"padding", torch_size(c->args.padding)},
                         {"output_padding", torch_size(c->args.output_padding)}, {"groups", c->args.groups},
                         {"dilation", torch_size(c->args.dilation)}, {"bias", c->bias.defined()}}});
    } else if (const auto* c = dynamic_cast<const nn::Conv2d*>(m)) {
      layers.push_back({"Conv2d", {c->in_channels, c->out_channels, torch_size(c->kernel_size)},
                        {{"stride", torch_size(c->args.stride)}, {"padding", torch_size(c->args.padding)},
                         {"dilation", torch_size(c->args.dilation)}, {"groups", c->args.groups},
                         {"bias", c->bias.defined()}}});
    } else if (const auto* b = dynamic_cast<const nn::BatchNorm*>(m)) {
      layers.push_back({b->expected_dims == 2 ? "BatchNorm1d" : "BatchNorm2d", {b->num_features},
                        {{"eps", b->eps}, {"momentum", b->momentum}}});
      last_bn = b;
      continue;
    } else if (const auto* n = dynamic_cast<const nn::LayerNorm*>(m)) {
      layers.push_back({"LayerNorm", {n->normalized_shape}, {{"eps", n->eps}}});
    } else if (dynamic_cast<const models::FusedActivation*>(m) && last_bn) {
      const auto& act = last_bn->activation;
      if (act.kind == nn::functional::Activation::ReLU) layers.push_back({"ReLU", json::array(), json::object()});
      else layers.push_back({"LeakyReLU", {act.negative_slope}, json::object()});
    } else if (dynamic_cast<const nn::ReLU*>(m)) {
      layers.push_back({"ReLU", json::array(), json::object()});
    } else if (const auto* r = dynamic_cast<const nn::LeakyReLU*>(m)) {
      layers.push_back({"LeakyReLU", {r->negative_slope}, json::object()});
    } else if (dynamic_cast<const nn::Tanh*>(m)) {
      layers.push_back({"Tanh", json::array(), json::object()});
    } else if (dynamic_cast<const nn::Sigmoid*>(m)) {
      layers.push_back({"Sigmoid", json::array(), json::object()});
    } else if (dynamic_cast<const nn::Flatten*>(m)) {
      layers.push_back({"Flatten", json::array(), json::object()});
    } else if (const auto* u = dynamic_cast<const nn::Unflatten*>(m)) {
      layers.push_back({"Unflatten", {1, u->shape}, json::object()});
    } else if (const auto* d = dynamic_cast<const nn::Dropout*>(m)) {
      layers.push_back({"Dropout", {d->p}, json::object()});
    } else {
      throw UsageError("cannot export model " + model + ": generator layer " + name + " (" + m->describe() +
                       ") has no torch.nn equivalent here");
    }
    last_bn = nullptr;
  }
  return layers;
}

// What goes into the generator, per model.
std::string input_text(const std::string& model, const json& cfg, int64_t in_dim) {
  const int64_t nz = cfg.value("nz", in_dim);
  std::string s = std::to_string(nz) + " values of noise z ~ N(0, 1)";
  if (model == "cgan") s += ", then a one-hot class (" + std::to_string(in_dim - nz) + " values)";
  if (model == "infogan")
    s += ", then a one-hot categorical code (" + std::to_string(cfg.value("n_cat", int64_t{0})) +
         " values), then continuous codes ~ U(-1, 1) (" + std::to_string(cfg.value("n_cont", int64_t{0})) + ")";
  return s;
}

}  // namespace

CLI::App* add_export_subcommand(CLI::App& app, ExportArgs& a) {
  CLI::App* cmd = app.add_subcommand(
      "export", "Write the generator's weights alone as safetensors with PyTorch names (README: loading it in torch)");
  cmd->add_option("--run", a.run, "Run directory")->required();
  cmd->add_option("--out", a.out, "File to write (.safetensors)")->required();
  cmd->add_option("--checkpoint", a.checkpoint, "Checkpoint file")->default_str("RUN/checkpoints/latest.safetensors");
  return cmd;
}

int export_command(const ExportArgs& a, const Catalog& catalog, const CliStreams& io) {
  const fs::path out(a.out);
  if (out.extension() != ".safetensors")
    throw UsageError("--out must name a .safetensors file, got '" + a.out + "'");
  const TrainedRun run = load_trained_run(a.run, a.checkpoint, catalog, Device::cpu());
  const RunConfig& c = run.config;
  const models::GeneratorNet g = run.model->generator_net();
  if (!g.net) throw UsageError("model " + c.model + " has no generator network to export");

  // The zoo's generators are a SequentialNet ("net" holding an nn::Sequential): export the Sequential itself, so
  // its names are those of a plain torch.nn.Sequential.
  const nn::Module* body = g.net;
  while (!dynamic_cast<const nn::Sequential*>(body) && body->children().size() == 1 &&
         body->named_parameters().size() == body->children().front().second->named_parameters().size()) {
    body = body->children().front().second.get();
  }
  const auto* seq = dynamic_cast<const nn::Sequential*>(body);
  if (!seq) throw UsageError("cannot export model " + c.model + ": its generator is not a sequence of layers");
  const json layers = torch_layers(*seq, c.model);

  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& [name, t] : seq->state_dict()) tensors.emplace_back(name, t.to(Device::cpu()).contiguous());
  if (tensors.empty()) throw UsageError("model " + c.model + "'s generator has no weights to export");

  // One sample's input: [in, 1, 1] for a conv generator (it starts with a transposed conv), [in] for an MLP.
  json input_shape;
  int64_t in_dim = 0;
  const nn::Module* first = seq->children().front().second.get();
  if (const auto* ct = dynamic_cast<const nn::ConvTranspose2d*>(first)) {
    in_dim = ct->in_channels;
    input_shape = {in_dim, 1, 1};
  } else if (const auto* l = dynamic_cast<const nn::Linear*>(first)) {
    in_dim = l->in_features;
    input_shape = {in_dim};
  } else {
    throw UsageError("cannot export model " + c.model + ": its generator starts with " + first->describe());
  }
  const std::string side = std::to_string(c.spec.image_size);
  std::string output =
      c.spec.kind == data::ExampleKind::Image
          ? "images [N, " + std::to_string(c.spec.channels) + ", " + side + ", " + side + "] in [-1, 1]"
          : "points [N, " + std::to_string(c.spec.point_dim) + "]";
  if (!g.output.empty()) output = "y = the net's output; " + g.output + " gives " + output;

  const std::map<std::string, std::string> meta = {
      {"format", "gan-engine-generator"},
      {"model", c.model},
      {"step", std::to_string(run.info.step)},
      {"torch_layers", layers.dump()},
      {"input_shape", input_shape.dump()},
      {"input", input_text(c.model, c.model_config, in_dim)},
      {"output", output},
      {"model_config", c.model_config.dump()},
      {"data_spec", spec_to_json(c.spec).dump()},
      {"gan_version", gan_version()}};
  make_writable_dir(out.has_parent_path() ? out.parent_path() : fs::path("."));
  save_safetensors(out.string(), tensors, meta);
  int64_t params = 0;
  for (const auto& [name, t] : tensors) params += t.numel();
  *io.out << "wrote " << out.string() << ": " << c.model << " generator (" << tensors.size() << " tensors, " << params
          << " values) from step " << run.info.step << " of " << a.run << std::endl;
  return kExitOk;
}

}  // namespace gan::apps
