// The `gan` command line: train, sample, eval, export, models, datasets, report, info. Factored out of main() so
// tests run it in process, with their own catalog and output streams.
//
//   gan train --model M --data D [--out RUN] [--steps N | --epochs E] [--batch B] [--device cpu|cuda] [--seed S]
//             [--eval-every N [--eval-n 1000] [--classifier FILE]] [model flags]
//             (gan train --model M --help lists M's flags with their defaults)
//   gan train --resume RUN [--steps N | --epochs E] [--device D]
//   gan sample --run RUN [--n 64] [--seed S] [--interpolate [--rows R] [--cols K]] [--format grid|png-dir] --out PATH
//   gan eval --run RUN | --samples FOLDER [--n 10000] [--classifier FILE] [--json FILE]
//   gan export --run RUN --out FILE.safetensors     (the generator alone, PyTorch names)
//   gan models | gan datasets | gan report --run RUN | gan info (version, backends, devices)
//
// Mistyped commands, options and models get the closest names (apps/suggest.h); renamed options keep their old
// spelling as a hidden alias (train --samples = --sample-n, sample --steps = --cols).
// Exit codes: 0 done; 1 the run failed (non-finite loss, I/O error mid-run); 2 a usage error (one line on stderr
// saying what is wrong and what to do, nothing left behind); 130 interrupted (checkpointed, resumable).
#pragma once

#include <ostream>

#include "apps/catalog.h"

namespace gan::apps {

struct CliStreams {
  std::ostream* out;   // results, progress
  std::ostream* err;   // errors
  bool terminal = false;  // stdout is a terminal: one updating progress line
};

int run_cli(int argc, const char* const* argv, const Catalog& catalog, const CliStreams& streams);
// With the zoo and the datasets, std::cout/std::cerr, and terminal detection on stdout.
int run_cli(int argc, const char* const* argv);

}  // namespace gan::apps
