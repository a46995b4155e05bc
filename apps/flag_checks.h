// Validators for the numbers `gan`'s flags take, built on engine/checked.h. Each flag's text is parsed strictly
// and range-checked before CLI11 converts it: "--steps 99999999999999999999" is an error instead of silently
// becoming INT64_MAX, "--batch 1.5" or "--seed -1" is refused, and a range error prints integers
// ("--steps: '0' is out of range: want an integer from 1 to 1000000000000"), never CLI11's 309-digit doubles.
#pragma once

#include <cstdint>

#include <CLI/CLI.hpp>

namespace gan::apps {

CLI::Validator int_flag(int64_t lo, int64_t hi);
CLI::Validator uint_flag();  // any 64-bit unsigned integer (seeds)
CLI::Validator real_flag(double lo, double hi);

}  // namespace gan::apps
