// libFuzzer target: image files through the path `folder:` datasets take (engine/image/image.h load_square):
// regular-file check, format sniffing, the pixel cap, libpng or libjpeg-turbo, alpha over white, the centred
// crop and the resampling to the model's size. The last byte picks that size (1..64), so both shrinking and
// growing are exercised; the pixel cap is lowered to 2^20 so large valid images do not slow the search.
#include <cstdint>
#include <exception>

#include "engine/image/image.h"
#include "fuzz_input_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int64_t side = size > 0 ? 1 + data[size - 1] % 64 : 8;
  try {
    const gan::image::Image8 img = gan::image::load_square(gan::fuzz::input_file(data, size), side, int64_t{1} << 20);
    if (img.width != side || img.height != side || img.pixels.size() != static_cast<size_t>(side * side * img.channels))
      __builtin_trap();
  } catch (const std::exception&) {
  }
  return 0;
}
