#include <algorithm>
#include <cstring>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/cli.h"
#include "apps/commands.h"
#include "apps/flag_checks.h"
#include "apps/run_config.h"
#include "apps/run_dir.h"
#include "apps/suggest.h"
#include "apps/trainer.h"
#include "kernels/blas_core.h"
#include "kernels/cuda_query.h"
#include "kernels/thread_policy.h"

namespace gan::apps {

namespace {

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@")
                        == std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string join_command_line(int argc, const char* const* argv) {
  std::string out = "gan";
  for (int i = 1; i < argc; ++i) out += " " + shell_quote(argv[i]);
  return out;
}

// `--model M` / `--model=M` after `train`: the model's flags must be known before parsing.
std::string prescan_model(int argc, const char* const* argv) {
  if (argc < 2 || std::strcmp(argv[1], "train") != 0) return "";
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--model" && i + 1 < argc) return argv[i + 1];
    if (a.rfind("--model=", 0) == 0) return a.substr(8);
  }
  return "";
}

// Registers one option per model flag, typed from its default (integer, real, bool, string). Names keep the
// flag's spelling and also accept dashes for underscores (--image-size == --image_size).
void add_model_flags(CLI::App& train, const models::ModelEntry& entry, nlohmann::json& out) {
  for (const auto& flag : entry.flags) {
    // Dashed like every other option (--lr-g); the model's own underscored key (--lr_g) stays as an alias.
    const std::string dashed = dashed_flag(flag.name);
    const std::string names = "--" + dashed + (dashed != flag.name ? ",--" + flag.name : "");
    const std::string& help = flag.help;
    const std::string key = flag.name;
    const nlohmann::json& d = flag.default_value;
    CLI::Option* opt = nullptr;
    try {
      if (d.is_boolean()) {
        // --flag alone means true; --flag=false (or 0/off) turns a default-on flag off.
        opt = train.add_flag_function(
            names, [&out, key](int64_t count) { out[key] = count > 0; }, help);
      } else if (d.is_number_integer()) {
        opt = train.add_option_function<int64_t>(names, [&out, key](const int64_t& v) { out[key] = v; }, help)
                  ->check(int_flag(-models::kMaxIntFlag, models::kMaxIntFlag));
      } else if (d.is_number()) {
        opt = train.add_option_function<double>(names, [&out, key](const double& v) { out[key] = v; }, help)
                  ->check(real_flag(-models::kMaxRealFlag, models::kMaxRealFlag));
      } else {
        opt = train.add_option_function<std::string>(
            names, [&out, key](const std::string& v) { out[key] = v; }, help);
      }
    } catch (const CLI::OptionAlreadyAdded&) {
      continue;  // a model flag spelled like a trainer option: the trainer's wins
    }
    opt->default_str(d.is_string() ? d.get<std::string>() : d.dump());
    opt->group("Flags of model " + entry.name);
  }
}

// One line per row: the name padded to the longest one, then the description.
void print_table(std::ostream& out, const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.first.size());
  for (const auto& [name, text] : rows) out << name << std::string(width + 2 - name.size(), ' ') << text << '\n';
}

const std::vector<std::string> kCommands = {"train", "sample", "eval", "export", "report", "models", "datasets",
                                            "info"};

// The long option names of a (sub)command, dashed spellings first (--lr-g before --lr_g), old spellings last.
std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> out, underscored, hidden;
  for (const CLI::Option* o : app.get_options())
    for (const auto& n : o->get_lnames())
      (o->get_group().empty() ? hidden : n.find('_') != std::string::npos ? underscored : out).push_back("--" + n);
  out.insert(out.end(), underscored.begin(), underscored.end());
  out.insert(out.end(), hidden.begin(), hidden.end());
  return out;
}

// Old spellings (hidden aliases, described as "old name of --new") -> the new names.
std::map<std::string, std::string> renamed_options(const CLI::App& app) {
  std::map<std::string, std::string> out;
  const std::string tag = "old name of ";
  for (const CLI::Option* o : app.get_options())
    if (o->get_group().empty() && o->get_description().rfind(tag, 0) == 0)
      for (const auto& n : o->get_lnames()) out["--" + n] = o->get_description().substr(tag.size());
  return out;
}

// The first left-over argument of a subcommand that takes no positional ones: an unknown option (with the closest
// known names) or a stray word.
void refuse_extras(const CLI::App& app, const std::string& hint) {
  const auto rest = app.remaining();
  if (rest.empty()) return;
  for (const auto& r : rest)
    if (r.rfind("-", 0) == 0) {
      const std::string name = r.substr(0, r.find('='));
      throw UsageError("unknown option " + name + did_you_mean(name, option_names(app), renamed_options(app)) + hint);
    }
  throw UsageError("unexpected argument '" + rest.front() + "'" + hint);
}

// Where an option changed its name, the old spelling stays as a hidden alias writing to the same variable.
template <typename T>
CLI::Option* add_alias(CLI::App& app, const std::string& old_name, T& variable, const CLI::Option* current,
                       const CLI::Validator& check) {
  // CLI11 leaves a hidden option's name out of its errors, so the check names the spelling itself.
  const CLI::Validator named([old_name, check](std::string& text) {
    const std::string error = check(text);
    return error.empty() ? error : old_name + ": " + error;
  }, "");
  return app.add_option(old_name, variable, "old name of " + current->get_name())->group("")->check(named);
}

const char* kFooter =
    "Exit codes: 0 done, 1 the run failed, 2 usage error, 130 interrupted (resume with gan train --resume RUN).";

}  // namespace

int run_cli(int argc, const char* const* argv, const Catalog& catalog, const CliStreams& io) {
  std::ostream& err = *io.err;
  CLI::App app{"gan: train generative adversarial networks and sample from them (gan-engine " + gan_version() +
                   ")",
               "gan"};
  app.set_version_flag("--version", "gan-engine " + gan_version());
  app.footer(kFooter);
  app.require_subcommand(1);

  const std::string sub = argc > 1 ? argv[1] : "";
  const bool known_sub = std::find(kCommands.begin(), kCommands.end(), sub) != kCommands.end();
  const std::string hint = "; see gan " + (known_sub ? sub + " " : std::string()) + "--help";

  // ---- train ----
  TrainArgs targs;
  CLI::App* train = app.add_subcommand("train", "Train a model; writes a run directory (see --out)");
  train->add_option("--model", targs.model, "Model to train (gan models lists them)");
  train->add_option("--data", targs.data, "Dataset (gan datasets lists them)");
  train->add_option("--out", targs.out, "Run directory to create (default: runs/MODEL-DATA[-N])");
  train->add_option("--resume", targs.resume, "Continue the run in this directory from its latest checkpoint");
  auto* steps = train->add_option("--steps", targs.steps, "Training iterations in all")
                    ->check(int_flag(1, kMaxSteps))
                    ->default_str(std::to_string(kDefaultSteps));
  auto* epochs = train->add_option("--epochs", targs.epochs, "Train for this many passes over the data")
                     ->check(int_flag(1, kMaxSteps));
  steps->excludes(epochs);
  train->add_option("--batch", targs.batch, "Batch size")
      ->check(int_flag(1, kMaxBatch))
      ->default_str(std::to_string(kDefaultBatch));
  train->add_option("--device", targs.device, kDeviceHelp);
  train->add_option("--precision", targs.precision,
                    "Float32 math of convolutions and GEMMs: tf32 (CUDA tensor cores, operands rounded to a 10-bit "
                    "mantissa, FP32 accumulation; PyTorch's default for convolutions; strict on the CPU), bf16 "
                    "(operands rounded to bfloat16, FP32 accumulation: BF16 tensor cores on CUDA, the same "
                    "rounding on the CPU; weights, optimizer state and losses stay FP32) or fp32 (strict) "
                    "[default: tf32 with CUDA, else fp32; GAN_PRECISION or GAN_TF32=0 change it]")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
  train->add_option("--seed", targs.seed, "Seed for weights, noise and data order")->check(uint_flag())->default_str("0");
  train->add_option("--image-size", targs.image_size,
                    "Resize (or pad) images to S x S; models take 28, 32 or 64 [default: native, else the nearest of "
                    "those]")
      ->check(int_flag(1, data::kMaxImageSize));
  train->add_option("--data-size", targs.data_size, "Generated datasets: number of examples [default: the set's]")
      ->check(int_flag(1, data::kMaxGeneratedSize));
  train->add_option("--data-limit", targs.data_limit,
                    "Train on the first N examples of the data set, in its file order (e.g. 6000: 10% of "
                    "Fashion-MNIST) [default: all]")
      ->check(int_flag(1, kMaxDataLimit));
  train->add_option("--log-every", targs.log_every, "Write a metrics.jsonl line every N steps")
      ->check(int_flag(1, kMaxSteps))
      ->default_str(std::to_string(RunConfig{}.log_every));
  train->add_option("--sample-every", targs.sample_every, "Write a sample grid every N steps")
      ->check(int_flag(1, kMaxSteps))
      ->default_str(std::to_string(RunConfig{}.sample_every));
  train->add_option("--checkpoint-every", targs.checkpoint_every,
                    "Keep a checkpoint every N steps (latest is also written at the end and on Ctrl-C)")
      ->check(int_flag(1, kMaxSteps))
      ->default_str(std::to_string(RunConfig{}.checkpoint_every));
  auto* sample_n = train->add_option("--sample-n", targs.samples,
                                     "Samples per grid [default: 64; 512 points for 2-D data]")
                       ->check(int_flag(1, kMaxSamples));
  add_alias(*train, "--samples", targs.samples, sample_n, int_flag(1, kMaxSamples));
  train->add_option("--eval-every", targs.eval_every,
                    "Log the Frechet distance of --eval-n samples to RUN/fd.jsonl every N steps (Fashion-MNIST; "
                    "charted in the report) [default: off]")
      ->check(int_flag(1, kMaxSteps));
  train->add_option("--eval-n", targs.eval_n, "Samples per --eval-every measurement")
      ->check(int_flag(10, kMaxEvalSamples))
      ->default_str(std::to_string(RunConfig{}.eval_n));
  train->add_option("--classifier", targs.classifier,
                    "Classifier file for --eval-every, which must exist [default: the cache gan eval uses]");
  train->add_option("--progress-every", targs.progress_every_s,
                    "Seconds between progress lines when stdout is not a terminal")
      ->check(real_flag(0, 1e6))
      ->capture_default_str();
  train->add_flag("--profile", targs.profile,
                  "At the end, print what one training step did on the device after 2 warm-up steps: kernel "
                  "launches (and the most launched kernels), host synchronizations, bytes newly allocated, each "
                  "apart from the log points; and a roofline table of the model's conv layers (FLOPs, minimum "
                  "bytes, time at an H200's spec-sheet peaks). Counts are 0 on the CPU backend");
  train->add_option("--cuda-graph", targs.cuda_graph,
                    "On a CUDA device: after 2 eager steps, capture one training step as a CUDA graph and replay "
                    "it (one launch per step). auto falls back to eager steps, said once in the log, when the "
                    "step cannot be captured (it reads a value on the host, a host-side schedule, a capture "
                    "error) and for batches of another size; on makes such a fallback an error; off never "
                    "captures. The CPU device always runs eagerly")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  train->allow_extras();  // model flags are checked by hand, to name the model's flags in the error
  const std::string prescanned = prescan_model(argc, argv);
  const models::ModelEntry* entry = prescanned.empty() ? nullptr : catalog.find_model(prescanned);
  if (!prescanned.empty() && !entry) {  // before parsing, so `--model foo --help` says so too
    std::vector<std::string> names;
    for (const auto& m : catalog.models) names.push_back(m.name);
    err << "gan train: error: unknown model '" << prescanned << "'" << did_you_mean(prescanned, names)
        << "; known models: " << catalog.model_names() << " (gan models describes them)" << std::endl;
    return kExitUsage;
  }
  if (entry) add_model_flags(*train, *entry, targs.model_flags);
  train->footer(entry ? "" : "Model flags: gan train --model M --help lists the flags of model M.");

  // ---- sample ----
  SampleArgs sargs;
  CLI::App* sample = app.add_subcommand("sample", "Write samples from a run's checkpoint: a grid PNG, or one PNG each");
  sample->add_option("--run", sargs.run, "Run directory")->required();
  sample->add_option("--out", sargs.out, "PNG file to write (--format png-dir: a folder)")->required();
  sample->add_option("--format", sargs.format,
                     "grid: one PNG laid out as the model shows samples; png-dir: one PNG per sample, "
                     "sample_000000.png ... (what gan eval --samples reads)")
      ->capture_default_str()
      ->check(CLI::IsMember({"grid", "png-dir"}));
  sample->add_option("--n", sargs.n, "Number of samples (a grid holds at most " + std::to_string(kMaxSamples) + ")")
      ->capture_default_str()
      ->check(int_flag(1, kMaxEvalSamples));
  sample->add_option("--seed", sargs.seed, "Noise seed")->capture_default_str()->check(uint_flag());
  sample->add_option("--checkpoint", sargs.checkpoint, "Checkpoint file")
      ->default_str("RUN/checkpoints/latest.safetensors");
  sample->add_option("--device", sargs.device, kDeviceHelp);
  auto* interp = sample->add_flag("--interpolate", sargs.interpolate,
                                  "Latent interpolation: each row walks from one noise draw to another");
  auto* recon = sample->add_flag("--reconstruct", sargs.reconstruct,
                                 "Autoencoders (vae, ae): --n real examples over their reconstructions");
  recon->excludes(interp);
  sample->add_option("--rows", sargs.rows, "Interpolation rows")
      ->capture_default_str()
      ->check(int_flag(1, 64))
      ->needs(interp);
  auto* cols = sample->add_option("--cols", sargs.cols, "Images per interpolation row")
                  ->capture_default_str()
                  ->check(int_flag(2, 64))
                  ->needs(interp);
  add_alias(*sample, "--steps", sargs.cols, cols, int_flag(2, 64))->needs(interp);

  // ---- listings, report ----
  CLI::App* models_cmd = app.add_subcommand("models", "List the models, one line each");
  CLI::App* datasets_cmd = app.add_subcommand("datasets", "List the datasets, one line each");
  CLI::App* info = app.add_subcommand(
      "info", "Print the version, the backends compiled in, the devices found and the default one");
  std::string report_run;
  CLI::App* report = app.add_subcommand("report", "Rewrite a run's report.html from its files");
  report->add_option("--run", report_run, "Run directory")->required();
  EvalArgs eargs;
  CLI::App* eval_cmd = add_eval_subcommand(app, eargs);
  ExportArgs xargs;
  CLI::App* export_cmd = add_export_subcommand(app, xargs);
  for (CLI::App* s : app.get_subcommands({})) s->allow_extras();  // unknown options get a suggestion below

  if (!sub.empty() && sub[0] != '-' && !known_sub) {
    err << "gan: error: unknown command '" << sub << "'" << did_you_mean(sub, kCommands)
        << "; gan --help lists the commands" << std::endl;
    return kExitUsage;
  }

  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success& e) {
      return app.exit(e, *io.out, err);
    } catch (const CLI::ParseError& e) {
      if (argc == 1) {
        *io.out << app.help();
        return kExitUsage;
      }
      std::string what = e.what();
      while (!what.empty() && what.back() == '\n') what.pop_back();
      if (what.rfind(": ", 0) == 0) what.erase(0, 2);  // a hidden option's error: CLI11 leaves its name empty
      throw UsageError(what + hint);
    }

    if (*train) {
      targs.command_line = join_command_line(argc, argv);
      const auto rest = train->remaining();
      if (!rest.empty()) {
        std::string bad = rest.front();
        for (const auto& r : rest)
          if (r.rfind("-", 0) == 0) {
            bad = r;
            break;
          }
        if (bad.rfind("-", 0) != 0) throw UsageError("unexpected argument '" + bad + "'" + hint);
        bad = bad.substr(0, bad.find('='));
        const std::string suggestion = did_you_mean(bad, option_names(*train), renamed_options(*train));
        if (!targs.resume.empty())
          throw UsageError("unknown option " + bad + suggestion + " (model flags cannot change when resuming)");
        if (targs.model.empty())
          throw UsageError("unknown option " + bad +
                           (suggestion.empty() ? " (model flags need --model first)" : suggestion + hint));
        if (!entry)
          throw UsageError("unknown model '" + targs.model + "'; known models: " + catalog.model_names());
        throw UsageError("unknown option " + bad + " for model " + entry->name + suggestion + "; its flags are " +
                         flag_list(*entry) + hint);
      }
      return train_command(targs, catalog, io);
    }
    for (CLI::App* s : app.get_subcommands({}))
      if (s != train && s->parsed()) refuse_extras(*s, hint);
    if (*sample) return sample_command(sargs, catalog, io);
    if (*export_cmd) return export_command(xargs, catalog, io);
    if (*models_cmd) {
      std::vector<std::pair<std::string, std::string>> rows;
      for (const auto& m : catalog.models) rows.emplace_back(m.name, m.description);
      print_table(*io.out, rows);
      return kExitOk;
    }
    if (*datasets_cmd) {
      std::vector<std::pair<std::string, std::string>> rows;
      for (const auto& d : catalog.datasets) rows.emplace_back(d.name, d.description);
      print_table(*io.out, rows);
      return kExitOk;
    }
    if (*report) return report_command(report_run, io);
    if (*eval_cmd) return eval_command(eargs, catalog, io);
    if (*info) {
      *io.out << "gan-engine " << gan_version() << "\n";
      *io.out << "backends: "
              << (kernels::cuda_compiled() ? "cpu, cuda"
                                           : "cpu only (cuda not compiled in: rebuild with -DGAN_CUDA=ON and the "
                                             "CUDA toolkit)")
              << "\n";
      *io.out << "devices: cpu";
      try {
        const int count = kernels::cuda_device_count();
        for (int i = 0; i < count; ++i) *io.out << ", cuda:" << i << " (" << kernels::cuda_device_name(i) << ")";
        if (kernels::cuda_compiled() && count == 0) *io.out << "; no usable CUDA device found";
      } catch (const std::exception& e) {
        *io.out << "; CUDA error while looking for devices: " << e.what();
      }
      *io.out << "\n";
      try {
        *io.out << "default device: " << default_device().str() << "\n";
      } catch (const std::exception& e) {
        throw UsageError(std::string("no default device: ") + e.what());
      }
      *io.out << "cpu blas kernels: " << kernels::blas_core_name() << "\n";
      *io.out << "cpu threads: " << kernels::thread_policy_summary() << "\n";
      return kExitOk;
    }
    return kExitUsage;
  } catch (const UsageError& e) {
    err << "gan" << (sub.empty() || sub[0] == '-' ? "" : " " + sub) << ": error: " << e.what() << std::endl;
    return kExitUsage;
  } catch (const std::exception& e) {
    // A bare std::bad_alloc says nothing; tensors throw OutOfMemory, which says how much and for what.
    const bool bare_oom = dynamic_cast<const std::bad_alloc*>(&e) && !dynamic_cast<const OutOfMemory*>(&e);
    err << "gan" << (sub.empty() || sub[0] == '-' ? "" : " " + sub) << ": error: "
        << (bare_oom ? std::string("out of memory (") + e.what() + ")" : std::string(e.what())) << std::endl;
    return kExitFailed;
  }
}

}  // namespace gan::apps
