// Numbers that come from outside the program: flags, config.json, checkpoint metadata, dataset and image headers.
// Every such number goes through here: parsed strictly (the whole text, no silent clamping), checked against the
// range the code that uses it can handle, and combined with overflow-checked arithmetic, so that a mistyped or
// hostile value ends as one clear error naming it, never as a wrapped size, a giant allocation or undefined
// behaviour.
//
// Errors are RangeError (a std::runtime_error) with messages such as
//   "--steps: '99999999999999999999' is not an integer from 1 to 1000000000000"
//   "config.json batch: 0 is out of range: want an integer from 1 to 65536"
// Values are quoted as given but shortened, and ranges are printed as integers, never as 309-digit doubles.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gan {

struct RangeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

// A whole decimal integer: an optional '-', then digits; nothing else (no spaces, '+', hex, exponent or fraction).
// Throws RangeError naming `what` when the text is not one or the value is outside [lo, hi].
int64_t parse_int(std::string_view text, std::string_view what, int64_t lo = kInt64Min, int64_t hi = kInt64Max);
// The same for unsigned values (digits only) up to hi.
uint64_t parse_uint(std::string_view text, std::string_view what,
                    uint64_t hi = std::numeric_limits<uint64_t>::max());
// A finite real number (decimal or exponent notation, the whole text) in [lo, hi].
double parse_real(std::string_view text, std::string_view what, double lo, double hi);

// What is wrong with the text as an integer in [lo, hi] ("'0' is out of range: want an integer from 1 to 9"), or ""
// when nothing is: for callers that report errors their own way (command-line validators).
std::string int_problem(std::string_view text, int64_t lo, int64_t hi);
std::string uint_problem(std::string_view text, uint64_t hi);
std::string real_problem(std::string_view text, double lo, double hi);

// v itself when lo <= v <= hi, else a RangeError naming `what`.
int64_t check_range(int64_t v, std::string_view what, int64_t lo, int64_t hi);
// a * b (operands >= 0), or a RangeError naming `what` when the product exceeds hi (or int64).
int64_t checked_mul(int64_t a, int64_t b, std::string_view what, int64_t hi = kInt64Max);

}  // namespace gan
