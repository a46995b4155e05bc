#include "apps/progress.h"

#include <cmath>
#include <cstdio>

namespace gan::apps {

Progress::Progress(std::ostream& out, bool terminal, int64_t total_steps, double plain_every_s)
    : out_(out), terminal_(terminal), total_(total_steps), plain_every_s_(plain_every_s) {}

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  const long long t = std::llround(s);
  if (t < 60) std::snprintf(buf, sizeof buf, "%llds", t);
  else if (t < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, (t % 3600) / 60);
  return buf;
}

void Progress::warn_when_longer_than(double seconds, std::string hint) {
  warn_after_s_ = seconds;
  warn_hint_ = std::move(hint);
}

void Progress::update(int64_t step, const models::Metrics& losses, double images_per_s, double seconds_per_step) {
  const auto now = std::chrono::steady_clock::now();
  if (first_step_ < 0) {
    first_step_ = step;
    first_time_ = now;
  }
  const double eta = static_cast<double>(total_ - step) * seconds_per_step;
  if (warn_after_s_ > 0 && !warned_ &&
      (step - first_step_ >= 20 || std::chrono::duration<double>(now - first_time_).count() >= 60)) {
    warned_ = true;
    if (eta > warn_after_s_) {
      char pace[32];
      std::snprintf(pace, sizeof pace, "%.2f", seconds_per_step);
      finish();
      out_ << "warning: at " << pace << " s/step the remaining " << (total_ - step) << " steps take about "
           << format_duration(eta) << ". " << warn_hint_ << std::endl;
    }
  }
  const bool last = step >= total_;
  if (!terminal_ && printed_ && !last &&
      std::chrono::duration<double>(now - last_print_).count() < plain_every_s_)
    return;
  if (terminal_ && printed_ && !last && std::chrono::duration<double>(now - last_print_).count() < 0.1) return;
  last_print_ = now;
  printed_ = true;

  char buf[64];
  std::string line = "step " + std::to_string(step) + "/" + std::to_string(total_);
  for (const auto& [name, value] : losses) {
    std::snprintf(buf, sizeof buf, "  %s %.4f", name.c_str(), value.value());
    line += buf;
  }
  std::snprintf(buf, sizeof buf, "  %.0f img/s", images_per_s);
  line += buf;
  line += "  ETA " + format_duration(eta);
  if (terminal_) {
    out_ << '\r' << line << "\033[K" << std::flush;  // \033[K: clear what a longer previous line left
    line_open_ = true;
  } else {
    out_ << line << std::endl;
  }
}

void Progress::finish() {
  if (line_open_) out_ << std::endl;
  line_open_ = false;
}

}  // namespace gan::apps
