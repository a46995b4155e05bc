// report.html: one page per run, built from the run directory alone (so `gan report --run RUN` can rebuild it at
// any time), that works offline with no external scripts or files:
//   - a header with the status, progress, training time, throughput and ETA;
//   - the sample grids under a step slider, beside a grid of real training images (RUN/real.png), each opening
//     full size on click;
//   - charts drawn by inline JavaScript as SVG: the losses overlaid, D(x) and D(G(z)) on one [0, 1] chart,
//     model-specific series (Wasserstein estimate, gradient penalty, ...), the Frechet distance over training
//     (RUN/fd.jsonl, from `gan train --eval-every N`), images/s and training time; raw curves faint behind an
//     EMA whose weight a slider sets, round ticks, every value inside the axes (outliers are shown, or with
//     "ignore outliers" marked on the frame), resumes marked, hover read-outs, step or training-time x axis;
//   - the latest `gan eval` figures and the run's settings.
// Images are embedded as data: URIs, so the file can be mailed or moved alone. To bound the size of long runs,
// embedding stops at kReportEmbedBudget bytes of PNG: the real grid, the latest and the first grid come first,
// then grids evenly spread over the run; the others are linked by relative path (samples/step_NNNNNN.png), which
// works while report.html stays in its run directory. The page says which grids are linked.
#pragma once

#include <cstdint>
#include <string>

#include "apps/run_dir.h"

namespace gan::apps {

constexpr int64_t kReportEmbedBudget = 12 << 20;  // bytes of PNG embedded (about 16 MiB of HTML)

struct ReportStatus {
  std::string text;      // "training: step 1200 of 5000", "finished", "interrupted at step 1234", ...
  bool running = false;  // the page reloads itself every 30 s while the run goes on
};

// Renders the report for the run at `paths` (reads config.json, metrics.jsonl, fd.jsonl, eval.json, samples/ and
// real.png). `embed_budget` bounds the bytes of PNG embedded (tests use small budgets).
std::string render_report(const RunPaths& paths, const ReportStatus& status,
                          int64_t embed_budget = kReportEmbedBudget);
// Renders and writes it atomically to paths.report().
void write_report(const RunPaths& paths, const ReportStatus& status);

}  // namespace gan::apps
