// What the built `gan` program loads at start: not cuBLAS (kernels/cuda/cublas_api.h loads it at the first GEMM on
// a GPU). Linked, its 600 MB (libcublas + libcublasLt) cost every start about 0.8 CPU-seconds, seconds of wall
// time with a cold page cache, on machines that never use it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace gan {
namespace {

TEST(StartupLibraries, GanStartsWithoutLoadingCublas) {
  if (!std::filesystem::exists(GAN_PROGRAM))
    GTEST_SKIP() << "the gan program is not at " << GAN_PROGRAM << " (test binary moved?)";
  const std::string out = (std::filesystem::temp_directory_path() /
                           ("gan-startup-libs-" + std::to_string(::getpid()) + ".txt")).string();
  // LD_DEBUG=files: the dynamic loader names every library it loads ("file=libX.so [0];  needed by ...").
  const std::string cmd = "LD_DEBUG=files '" + std::string(GAN_PROGRAM) + "' --help > '" + out + "' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  std::filesystem::remove(out);
  const std::string log = ss.str();
  ASSERT_NE(log.find("file=libc.so"), std::string::npos) << "LD_DEBUG printed nothing to check:\n" << log;
  EXPECT_EQ(log.find("libcublas"), std::string::npos) << log;
}

}  // namespace
}  // namespace gan
