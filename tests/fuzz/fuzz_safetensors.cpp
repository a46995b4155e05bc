// libFuzzer target: the safetensors checkpoint loader (engine/safetensors.h) on arbitrary files. Any exception
// is a refusal, which is fine; a crash, a sanitizer report, a leak or a hang is a finding.
#include <cstdint>
#include <exception>

#include "engine/safetensors.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const gan::NamedTensors file = gan::load_safetensors(gan::fuzz::input_file(data, size));
    for (const auto& [name, t] : file.tensors) (void)t.numel();
  } catch (const std::exception&) {
  }
  return 0;
}
