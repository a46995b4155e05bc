// Choosing a device: GAN_DEVICE and parse_device, the errors a missing GPU gives, errors for ops that mix devices,
// and the engine's random numbers being the same on the CPU and the GPU. The parsing and no-GPU checks run on
// every machine (they are what a CUDA build on a GPU-less machine must get right); the rest needs a GPU.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/nn/functional.h"
#include "engine/ops.h"
#include "engine/rng.h"
#include "gpu_test_util.h"
#include "kernels/cuda_query.h"

namespace gan::testing {
namespace {

const Device kGpu = Device::cuda(0);

// ---- parse_device ----
TEST(DeviceParsing, AcceptsCpuAndRejectsUnknownNames) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  for (const char* bad : {"gpu", "CUDA", "cuda:", "cuda:x", "cuda:-1", "cpu:0", "", " cuda"}) {
    try {
      (void)parse_device(bad);
      ADD_FAILURE() << "'" << bad << "' was accepted";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(std::string("'") + bad + "'"), std::string::npos) << what;
      EXPECT_NE(what.find("cpu, cuda or cuda:N"), std::string::npos) << what;
    }
  }
}

TEST(DeviceParsing, CudaNamesAGpuOrSaysWhyThereIsNone) {
  const int count = kernels::cuda_device_count();
  if (count > 0) {
    EXPECT_EQ(parse_device("cuda"), Device::cuda(0));
    EXPECT_EQ(parse_device("cuda:" + std::to_string(count - 1)), Device::cuda(count - 1));
    EXPECT_THROW(parse_device("cuda:" + std::to_string(count)), std::runtime_error);
    return;
  }
  for (const char* text : {"cuda", "cuda:0", "cuda:3"}) {
    try {
      (void)parse_device(text);
      ADD_FAILURE() << "'" << text << "' was accepted on a machine without a usable GPU";
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(text), std::string::npos) << what;
      EXPECT_NE(what.find(kernels::cuda_compiled() ? "none is usable" : "no CUDA backend"), std::string::npos)
          << what;
    }
  }
}

// ---- GAN_DEVICE: read once per process, so each case runs in a child that re-executes this binary ----
class GanDeviceEnv : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// In the child: sets GAN_DEVICE (unsets it for nullptr), asks default_device(), prints the answer or the error on
// stderr, exits 0 for a device and 3 for an exception.
[[noreturn]] void report_default_device(const char* value) {
  if (value) setenv("GAN_DEVICE", value, 1);
  else unsetenv("GAN_DEVICE");
  try {
    std::fprintf(stderr, "device=%s\n", default_device().str().c_str());
    std::exit(0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error=%s\n", e.what());
    std::exit(3);
  }
}

TEST_F(GanDeviceEnv, CpuForcesTheCpu) {
  EXPECT_EXIT(report_default_device("cpu"), ::testing::ExitedWithCode(0), "device=cpu");
}

TEST_F(GanDeviceEnv, UnsetPicksTheGpuWhenThereIsOne) {
  EXPECT_EXIT(report_default_device(nullptr), ::testing::ExitedWithCode(0),
              cuda_available() ? "device=cuda:0" : "device=cpu");
}

TEST_F(GanDeviceEnv, CudaWithoutAGpuIsAnErrorNamingTheVariable) {
  if (cuda_available()) {
    EXPECT_EXIT(report_default_device("cuda"), ::testing::ExitedWithCode(0), "device=cuda:0");
    return;
  }
  EXPECT_EXIT(report_default_device("cuda"), ::testing::ExitedWithCode(3), "error=GAN_DEVICE=cuda: .*CUDA");
}

TEST_F(GanDeviceEnv, UnknownValueIsAnError) {
  EXPECT_EXIT(report_default_device("tpu"), ::testing::ExitedWithCode(3), "error=GAN_DEVICE=tpu: unknown device");
}

// ---- a CUDA tensor where none can exist ----
// In a child process that hides every GPU (CUDA_VISIBLE_DEVICES empty, read when CUDA starts; the emulator reads it
// too), so the check runs on machines with a GPU as well as without.
TEST(NoGpu, CreatingACudaTensorSaysWhy) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("CUDA_VISIBLE_DEVICES", "", 1);
        try {
          (void)zeros({2, 3}, DType::Float32, kGpu);
          std::fprintf(stderr, "a CUDA tensor was created without a usable GPU\n");
          std::exit(1);
        } catch (const std::runtime_error& e) {
          std::fprintf(stderr, "error=%s\n", e.what());
          std::exit(3);
        }
      },
      ::testing::ExitedWithCode(3),
      kernels::cuda_compiled() ? "error=.*cuda:0.*usable CUDA device" : "error=.*cuda:0.*no CUDA backend");
}

// ---- ops that mix devices ----
class MixedDevices : public CudaTest {};

TEST_F(MixedDevices, ErrorNamesTheOpAndBothDevices) {
  const Tensor a = ones({2, 3});
  const Tensor b = ones({2, 3}, DType::Float32, kGpu);
  const Tensor w = ones({3, 2}, DType::Float32, kGpu);
  struct Case {
    const char* op;
    std::function<void()> run;
  };
  const std::vector<Case> cases = {
      {"add", [&] { (void)add(a, b); }},
      {"mul", [&] { (void)mul(b, a); }},
      {"matmul", [&] { (void)matmul(a, w); }},
      {"where", [&] { (void)where(gt(a, 0.0), b, b); }},
      {"concat", [&] { (void)concat({a, b}, 0); }},
  };
  for (const Case& c : cases) {
    try {
      c.run();
      ADD_FAILURE() << c.op << " accepted a CPU and a CUDA tensor";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(c.op), std::string::npos) << what;
      EXPECT_NE(what.find("cpu"), std::string::npos) << what;
      EXPECT_NE(what.find("cuda:0"), std::string::npos) << what;
    }
  }
  // Moving is explicit and differentiable.
  Tensor x = ones({2, 3}).requires_grad_(true);
  sum(mul(x.to(kGpu), b)).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_TRUE(x.grad().device().is_cpu());
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>(6, 1.0));
}

// ---- random numbers: the same bits on both devices ----
class RngParity : public CudaTest {};

template <typename T>
void expect_same_bits(const Tensor& gpu, const Tensor& cpu, const std::string& what) {
  ASSERT_EQ(gpu.numel(), cpu.numel()) << what;
  const std::vector<T> g = gpu.to_vector<T>(), c = cpu.to_vector<T>();
  EXPECT_EQ(std::memcmp(g.data(), c.data(), g.size() * sizeof(T)), 0) << what << ": the values differ";
}

TEST_F(RngParity, UniformAndNormalAreBitIdenticalForTheSameSeedAndOffset) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    // Odd sizes (not a multiple of a Philox block's outputs) and a non-zero starting offset.
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{1001}, int64_t{65537}}) {
      Generator gc(2024, 3), gg(2024, 3);
      (void)rand({5}, dt, &gc);
      (void)rand({5}, dt, &gg, 0.0, 1.0, kGpu);
      const std::string what = std::string(dtype_name(dt)) + " n=" + std::to_string(n);
      const Tensor uc = rand({n}, dt, &gc, -2.0, 3.0), ug = rand({n}, dt, &gg, -2.0, 3.0, kGpu);
      const Tensor nc = randn({n}, dt, &gc, 0.5, 2.0), ng = randn({n}, dt, &gg, 0.5, 2.0, kGpu);
      EXPECT_EQ(gc.state(), gg.state()) << what << ": the generators advanced differently";
      if (dt == DType::Float32) {
        expect_same_bits<float>(ug, uc, "uniform " + what);
        expect_same_bits<float>(ng, nc, "normal " + what);
      } else {
        expect_same_bits<double>(ug, uc, "uniform " + what);
        expect_same_bits<double>(ng, nc, "normal " + what);
      }
    }
  }
}

TEST_F(RngParity, DropoutMaskIsTheSameOnBothDevices) {
  const Tensor x = ones({16, 33});
  Generator gc(5), gg(5);
  const Tensor yc = nn::functional::dropout(x, 0.3, true, &gc);
  const Tensor yg = nn::functional::dropout(x.to(kGpu), 0.3, true, &gg);
  expect_same_bits<float>(yg, yc, "dropout");
}

}  // namespace
}  // namespace gan::testing
