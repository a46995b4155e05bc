#include "apps/flag_checks.h"

#include <string>

#include "engine/checked.h"

namespace gan::apps {

CLI::Validator int_flag(int64_t lo, int64_t hi) {
  return CLI::Validator([lo, hi](std::string& text) { return int_problem(text, lo, hi); }, "");
}

CLI::Validator uint_flag() {
  return CLI::Validator([](std::string& text) { return uint_problem(text, UINT64_MAX); }, "");
}

CLI::Validator real_flag(double lo, double hi) {
  return CLI::Validator([lo, hi](std::string& text) { return real_problem(text, lo, hi); }, "");
}

}  // namespace gan::apps
