// The run directory: where one training run keeps everything it made, and the small file helpers that write it
// so that a crash or a full disk never leaves a torn file behind.
//
//   RUN/config.json                        resolved settings, command lines, version (atomic rewrite)
//   RUN/metrics.jsonl                      one JSON object per logged step (appended, flushed per line)
//   RUN/samples/step_NNNNNN.png            sample grids (or scatter plots) from fixed noise
//   RUN/real.png                           a grid of real training images, for comparison (image data)
//   RUN/fd.jsonl                           Frechet distance over training (`gan train --eval-every N`)
//   RUN/checkpoints/latest.safetensors     the newest checkpoint; step_NNNNNN.safetensors kept every N steps
//   RUN/report.html                        loss curves, samples, settings (atomic rewrite)
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace gan::apps {

namespace fs = std::filesystem;

// A mistake the user can fix (unknown name, bad value, missing run...): the CLI prints it on one line and exits 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RunPaths {
  fs::path root;

  fs::path config() const { return root / "config.json"; }
  fs::path metrics() const { return root / "metrics.jsonl"; }
  fs::path report() const { return root / "report.html"; }
  fs::path eval() const { return root / "eval.json"; }  // written by `gan eval`
  fs::path fd_log() const { return root / "fd.jsonl"; }   // `gan train --eval-every N`
  fs::path real_grid() const { return root / "real.png"; }
  fs::path samples_dir() const { return root / "samples"; }
  fs::path checkpoints_dir() const { return root / "checkpoints"; }
  fs::path latest_checkpoint() const { return checkpoints_dir() / "latest.safetensors"; }
  fs::path sample(int64_t step) const { return samples_dir() / ("step_" + step_tag(step) + ".png"); }
  fs::path checkpoint(int64_t step) const { return checkpoints_dir() / ("step_" + step_tag(step) + ".safetensors"); }

  static std::string step_tag(int64_t step);  // zero-padded to 6 digits
  // The step of a "step_NNNNNN.<ext>" file name, or -1.
  static int64_t step_of(const fs::path& file);
};

// Writes `contents` to a temporary file beside `path` ("path.tmp.PID"), fsyncs it and renames it over `path`.
// Throws std::runtime_error naming the path and the system error (the temporary file is removed).
void write_file_atomic(const fs::path& path, const std::string& contents);
// The whole file (up to 64 MB); a FIFO, directory or other non-regular file is refused before it is opened.
std::string read_text_file(const fs::path& path);
// Parses a JSON file (nesting up to 64 levels); throws std::runtime_error naming the file on I/O or syntax errors.
nlohmann::json read_json_file(const fs::path& path);

// The metrics lines of a run in file order, keys in written order. A torn last line (a crash mid-write), a line
// without a non-negative integer "step" and values that are not numbers are skipped.
std::vector<nlohmann::ordered_json> read_metrics(const fs::path& path);
// Keeps only the lines a run that never stopped would have written up to `step`: those before it, and the one at
// it when it is on the schedule (step % log_every == 0). A run that stops logs its last step off schedule; the
// resumed run redoes everything after `step`, so nothing is lost or written twice.
void truncate_metrics(const fs::path& path, int64_t step, int64_t log_every);

// Appends JSON lines, flushed one by one so a reader (the report, `tail -f`) sees whole lines.
class MetricsWriter {
 public:
  explicit MetricsWriter(const fs::path& path);
  void write(const nlohmann::ordered_json& line);

 private:
  fs::path path_;
  std::ofstream out_;
};

// Creates `dir` (and parents), then checks a file can be created in it. Throws UsageError saying what to do.
void make_writable_dir(const fs::path& dir);

// Removes the temporaries a killed `gan` left in the run directory (RUN, RUN/checkpoints, RUN/samples):
// "*.tmp.PID" and ".write-test.PID" files whose process is gone (or is this one, which is not writing any now).
// Returns what it removed.
std::vector<fs::path> remove_stale_temporaries(const RunPaths& paths);

}  // namespace gan::apps
