// Training progress on the console: one line rewritten in place on a terminal, plain lines every few seconds
// otherwise (logs, CI), so a log file does not fill with carriage returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

#include "models/model.h"

namespace gan::apps {

class Progress {
 public:
  Progress(std::ostream& out, bool terminal, int64_t total_steps, double plain_every_s = 10.0);
  // After each step: the step just finished, its losses, the images/s and seconds per step of this session.
  void update(int64_t step, const models::Metrics& losses, double images_per_s, double seconds_per_step);
  // Ends the updating line (before other output and at the end).
  void finish();
  // Once the pace is known (after 20 steps or 60 s), a run whose ETA exceeds `seconds` gets one warning line
  // ending with `hint` (what would make it quicker), so nobody waits hours for a run they meant as a try.
  void warn_when_longer_than(double seconds, std::string hint);

  static std::string format_duration(double seconds);  // "42s", "3m05s", "2h07m"

 private:
  std::ostream& out_;
  bool terminal_;
  int64_t total_;
  double plain_every_s_;
  bool line_open_ = false;
  std::chrono::steady_clock::time_point last_print_{};
  bool printed_ = false;
  double warn_after_s_ = 0;  // 0: no warning
  std::string warn_hint_;
  int64_t first_step_ = -1;
  std::chrono::steady_clock::time_point first_time_{};
  bool warned_ = false;
};

}  // namespace gan::apps
