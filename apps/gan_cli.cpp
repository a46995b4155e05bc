#include <algorithm>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "apps/cli.h"
#include "apps/commands.h"
#include "apps/flag_checks.h"
#include "apps/run_config.h"
#include "apps/run_dir.h"
#include "apps/trainer.h"
#include "kernels/blas_core.h"
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
    std::string names = "--" + flag.name;
    std::string dashed = flag.name;
    for (char& c : dashed)
      if (c == '_') c = '-';
    if (dashed != flag.name) names += ",--" + dashed;
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

  // ---- train ----
  TrainArgs targs;
  CLI::App* train = app.add_subcommand("train", "Train a model; writes a run directory (see --out)");
  train->add_option("--model", targs.model, "Model to train (gan models lists them)");
  train->add_option("--data", targs.data, "Dataset (gan datasets lists them)");
  train->add_option("--out", targs.out, "Run directory to create (default: runs/MODEL-DATA[-N])");
  train->add_option("--resume", targs.resume, "Continue the run in this directory from its latest checkpoint");
  auto* steps = train->add_option("--steps", targs.steps, "Training iterations in all")->check(int_flag(1, kMaxSteps));
  auto* epochs = train->add_option("--epochs", targs.epochs, "Train for this many passes over the data")
                     ->check(int_flag(1, kMaxSteps));
  steps->excludes(epochs);
  train->add_option("--batch", targs.batch, "Batch size [64]")->check(int_flag(1, kMaxBatch));
  train->add_option("--device", targs.device, "cpu, cuda or cuda:N [CUDA when present, else cpu; GAN_DEVICE]");
  train->add_option("--seed", targs.seed, "Seed for weights, noise and data order [0]")->check(uint_flag());
  train->add_option("--image-size", targs.image_size,
                    "Resize (or pad) images to S x S; models take 28, 32 or 64 [native, else the nearest of those]")
      ->check(int_flag(1, data::kMaxImageSize));
  train->add_option("--data-size", targs.data_size, "Generated datasets: number of examples [the set's default]")
      ->check(int_flag(1, data::kMaxGeneratedSize));
  train->add_option("--data-limit", targs.data_limit,
                    "Train on the first N examples of the data set, in its file order (e.g. 6000: 10% of "
                    "Fashion-MNIST) [all]")
      ->check(int_flag(1, kMaxDataLimit));
  train->add_option("--log-every", targs.log_every, "Write a metrics.jsonl line every N steps [10]")
      ->check(int_flag(1, kMaxSteps));
  train->add_option("--sample-every", targs.sample_every, "Write a sample grid every N steps [500]")
      ->check(int_flag(1, kMaxSteps));
  train->add_option("--checkpoint-every", targs.checkpoint_every,
                    "Keep a checkpoint every N steps (latest is also written at the end and on Ctrl-C) [1000]")
      ->check(int_flag(1, kMaxSteps));
  train->add_option("--samples", targs.samples, "Samples per grid [64; 512 points for 2-D data]")
      ->check(int_flag(1, kMaxSamples));
  train->add_option("--progress-every", targs.progress_every_s,
                    "Seconds between progress lines when stdout is not a terminal [10]")
      ->check(real_flag(0, 1e6));
  train->allow_extras();  // model flags are checked by hand, to name the model's flags in the error
  const std::string prescanned = prescan_model(argc, argv);
  const models::ModelEntry* entry = prescanned.empty() ? nullptr : catalog.find_model(prescanned);
  if (entry) add_model_flags(*train, *entry, targs.model_flags);
  train->footer(entry ? "" : "Model flags: gan train --model M --help lists the flags of model M.");

  // ---- sample ----
  SampleArgs sargs;
  CLI::App* sample = app.add_subcommand("sample", "Write a sample grid PNG from a run's checkpoint");
  sample->add_option("--run", sargs.run, "Run directory")->required();
  sample->add_option("--out", sargs.out, "PNG file to write")->required();
  sample->add_option("--n", sargs.n, "Number of samples")->capture_default_str()->check(int_flag(1, kMaxSamples));
  sample->add_option("--seed", sargs.seed, "Noise seed")->capture_default_str()->check(uint_flag());
  sample->add_option("--checkpoint", sargs.checkpoint, "Checkpoint file [RUN/checkpoints/latest.safetensors]");
  sample->add_option("--device", sargs.device, "cpu, cuda or cuda:N");
  auto* interp = sample->add_flag("--interpolate", sargs.interpolate,
                                  "Latent interpolation: each row walks from one noise draw to another");
  auto* recon = sample->add_flag("--reconstruct", sargs.reconstruct,
                                 "Autoencoders (vae, ae): --n real examples over their reconstructions");
  recon->excludes(interp);
  sample->add_option("--rows", sargs.rows, "Interpolation rows")
      ->capture_default_str()
      ->check(int_flag(1, 64))
      ->needs(interp);
  sample->add_option("--steps", sargs.steps, "Images per interpolation row")->capture_default_str()
      ->check(int_flag(2, 64))
      ->needs(interp);

  // ---- listings, report ----
  CLI::App* models_cmd = app.add_subcommand("models", "List the models, one line each");
  CLI::App* datasets_cmd = app.add_subcommand("datasets", "List the datasets, one line each");
  CLI::App* info = app.add_subcommand("info", "Print the version and the device training would use by default");
  std::string report_run;
  CLI::App* report = app.add_subcommand("report", "Rewrite a run's report.html from its files");
  report->add_option("--run", report_run, "Run directory")->required();
  EvalArgs eargs;
  CLI::App* eval_cmd = add_eval_subcommand(app, eargs);

  const std::string sub = argc > 1 ? argv[1] : "";
  const bool known_sub = sub == "train" || sub == "sample" || sub == "models" || sub == "datasets" || sub == "report" ||
                         sub == "info" || sub == "eval";
  const std::string hint = "; see gan " + (known_sub ? sub + " " : std::string()) + "--help";
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
        if (!targs.resume.empty())
          throw UsageError("unknown option " + bad + " (model flags cannot change when resuming)");
        if (targs.model.empty())
          throw UsageError("unknown option " + bad + " (model flags need --model first)");
        if (!entry)
          throw UsageError("unknown model '" + targs.model + "'; known models: " + catalog.model_names());
        throw UsageError("unknown option " + bad + " for model " + entry->name + "; its flags are " +
                         flag_list(*entry) + hint);
      }
      return train_command(targs, catalog, io);
    }
    if (*sample) return sample_command(sargs, catalog, io);
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
