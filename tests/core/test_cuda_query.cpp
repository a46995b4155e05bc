// The CUDA runtime query must agree with the build and must not throw on a machine without a GPU: a CUDA build
// has to fall back to the CPU there.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "kernels/cuda_query.h"

namespace gk = gan::kernels;

TEST(CudaQuery, CompiledMatchesBuild) {
#ifdef GAN_WITH_CUDA
  EXPECT_TRUE(gk::cuda_compiled());
#else
  EXPECT_FALSE(gk::cuda_compiled());
#endif
}

TEST(CudaQuery, DeviceCountNeverThrowsAndIsNonNegative) {
  int count = -1;
  ASSERT_NO_THROW(count = gk::cuda_device_count());
  EXPECT_GE(count, 0);
  if (!gk::cuda_compiled()) {
    EXPECT_EQ(count, 0);
  }
  // Asking twice gives the same answer (a failed first query must not leave a sticky error behind).
  EXPECT_EQ(gk::cuda_device_count(), count);
}

TEST(CudaQuery, DeviceIndexOutOfRangeThrows) {
  const int count = gk::cuda_device_count();
  EXPECT_THROW(gk::cuda_device_name(count), std::out_of_range);
  EXPECT_THROW(gk::cuda_device_name(-1), std::out_of_range);
}

TEST(CudaQuery, DeviceNamesAreNonEmpty) {
  const int count = gk::cuda_device_count();
  if (count == 0)
    GTEST_SKIP() << (gk::cuda_compiled() ? "no usable CUDA device on this machine (CUDA build, no GPU or driver)"
                                         : "built without CUDA (GAN_CUDA=OFF or no toolkit)");
  for (int i = 0; i < count; ++i) {
    std::string name;
    ASSERT_NO_THROW(name = gk::cuda_device_name(i)) << "device " << i;
    EXPECT_FALSE(name.empty()) << "device " << i;
    RecordProperty("cuda_device_" + std::to_string(i), name);
  }
}
