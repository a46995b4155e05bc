// report.html: one self-contained page per run (no scripts, no external files besides the run's own sample PNGs,
// referenced by relative path) with the loss curves as inline SVG, the latest and earlier sample grids and the
// settings. Built from the run directory alone, so it can be regenerated at any time (`gan report RUN`).
#pragma once

#include <string>

#include "apps/run_dir.h"

namespace gan::apps {

struct ReportStatus {
  std::string text;      // "training: step 1200 of 5000", "finished", "interrupted at step 1234", ...
  bool running = false;  // the page reloads itself every 30 s while the run goes on
};

// Renders the report for the run at `paths` (reads config.json, metrics.jsonl and samples/).
std::string render_report(const RunPaths& paths, const ReportStatus& status);
// Renders and writes it atomically to paths.report().
void write_report(const RunPaths& paths, const ReportStatus& status);

}  // namespace gan::apps
