// libFuzzer target: the IDX reader (engine/data/idx.h) on arbitrary files, gzip'd or plain.
#include <cstdint>
#include <exception>

#include "engine/data/idx.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    gan::data::read_idx(gan::fuzz::input_file(data, size));
  } catch (const std::exception&) {
  }
  return 0;
}
