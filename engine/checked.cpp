// Strict number parsing and overflow-checked arithmetic; see engine/checked.h.
#include "engine/checked.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gan {

namespace {

std::string range_text(int64_t lo, int64_t hi) {
  if (lo == kInt64Min && hi == kInt64Max) return "a 64-bit integer";
  if (hi == kInt64Max) return "an integer of at least " + std::to_string(lo);
  return "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
}

std::string real_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string real_range_text(double lo, double hi) { return "a number from " + real_text(lo) + " to " + real_text(hi); }

void throw_if(std::string_view what, const std::string& problem) {
  if (!problem.empty()) throw RangeError(std::string(what) + ": " + problem);
}

// The text quoted for a one-line message: '...', shortened to about 40 characters, control characters as '?'.
std::string quote_value(std::string_view text) {
  constexpr size_t kShown = 40;
  std::string out = "'";
  for (char c : text.substr(0, kShown)) out += std::iscntrl(static_cast<unsigned char>(c)) ? '?' : c;
  return out + (text.size() > kShown ? "...'" : "'");
}

}  // namespace

std::string int_problem(std::string_view text, int64_t lo, int64_t hi) {
  int64_t v = 0;
  const char* end = text.data() + text.size();
  const bool has_digit = !text.empty() && !(text[0] == '-' && text.size() == 1);
  const auto [p, ec] = std::from_chars(text.data(), end, v);  // decimal only: no '+', spaces or "0x"
  if (!has_digit || ec == std::errc::invalid_argument || p != end)
    return quote_value(text) + " is not " + range_text(lo, hi);
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    return quote_value(text) + " is out of range: want " + range_text(lo, hi);
  return "";
}

std::string uint_problem(std::string_view text, uint64_t hi) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  const std::string want = "an integer from 0 to " + std::to_string(hi);
  if (text.empty() || text[0] == '-' || ec == std::errc::invalid_argument || p != end)
    return quote_value(text) + " is not " + want;
  if (ec == std::errc::result_out_of_range || v > hi) return quote_value(text) + " is out of range: want " + want;
  return "";
}

std::string real_problem(std::string_view text, double lo, double hi) {
  const std::string s(text);  // strtod needs a terminated string
  char* end = nullptr;
  const bool blank = s.empty() || std::isspace(static_cast<unsigned char>(s[0]));
  const double v = blank ? 0.0 : std::strtod(s.c_str(), &end);
  if (blank || end != s.c_str() + s.size()) return quote_value(text) + " is not " + real_range_text(lo, hi);
  if (!std::isfinite(v) || v < lo || v > hi)
    return quote_value(text) + " is out of range: want " + real_range_text(lo, hi);
  return "";
}

int64_t parse_int(std::string_view text, std::string_view what, int64_t lo, int64_t hi) {
  throw_if(what, int_problem(text, lo, hi));
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

uint64_t parse_uint(std::string_view text, std::string_view what, uint64_t hi) {
  throw_if(what, uint_problem(text, hi));
  uint64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

double parse_real(std::string_view text, std::string_view what, double lo, double hi) {
  throw_if(what, real_problem(text, lo, hi));
  return std::strtod(std::string(text).c_str(), nullptr);
}

int64_t check_range(int64_t v, std::string_view what, int64_t lo, int64_t hi) {
  if (v < lo || v > hi) throw_if(what, std::to_string(v) + " is out of range: want " + range_text(lo, hi));
  return v;
}

int64_t checked_mul(int64_t a, int64_t b, std::string_view what, int64_t hi) {
  int64_t r = 0;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r) || r > hi)
    throw_if(what, std::to_string(a) + " x " + std::to_string(b) + " is too large (the limit is " +
                       std::to_string(hi) + ")");
  return r;
}

}  // namespace gan
