// The process-wide threading settings (kernels/thread_policy.h): the built `gan` program run as a child with
// controlled environments, checking what libgomp itself read (OMP_DISPLAY_ENV) and what `gan info` reports; the
// cgroup quota parser; the loader thread's one-thread setting.
#include <gtest/gtest.h>

#include <omp.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "kernels/thread_policy.h"

namespace gan::kernels {
namespace {

// The built program. A test binary copied elsewhere (the GPU bundle) does not have it: those tests then skip.
bool have_program() { return std::filesystem::exists(GAN_PROGRAM); }
#define REQUIRE_PROGRAM() \
  if (!have_program()) GTEST_SKIP() << "the gan program is not at " << GAN_PROGRAM << " (test binary moved?)"

// Runs `gan info` under `env -u` of every variable the policy reads, plus `settings`; stdout and stderr together.
std::string gan_info_with(const std::string& settings) {
  const std::string out = (std::filesystem::temp_directory_path() /
                           ("gan-thread-policy-" + std::to_string(::getpid()) + ".txt")).string();
  const std::string cmd = "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u OMP_NUM_THREADS -u GAN_REEXEC -u "
                          "GAN_REEXEC_ADDED -u OMP_DISPLAY_ENV OMP_DISPLAY_ENV=verbose " + settings + " '" +
                          GAN_PROGRAM + "' info > '" + out + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  std::filesystem::remove(out);
  return ss.str();
}

// libgomp prints its settings (OMP_DISPLAY_ENV) when it loads, once per process; the last block is the process
// that ran main().
std::string last_spin_count(const std::string& output) {
  const std::string key = "GOMP_SPINCOUNT = '";
  const size_t at = output.rfind(key);
  if (at == std::string::npos) return "(not printed)";
  return output.substr(at + key.size(), output.find('\'', at + key.size()) - at - key.size());
}

TEST(ThreadPolicy, GanSleepsWhileWaitingWithNoVariableSet) {
  REQUIRE_PROGRAM();
  const std::string out = gan_info_with("");
  EXPECT_EQ(last_spin_count(out), "0") << out;  // PASSIVE: no spinning at all
  EXPECT_NE(out.find("OMP_WAIT_POLICY=PASSIVE (set by gan-engine)"), std::string::npos) << out;
}

TEST(ThreadPolicy, UserSettingsWin) {
  REQUIRE_PROGRAM();
  std::string out = gan_info_with("OMP_WAIT_POLICY=ACTIVE");
  EXPECT_NE(last_spin_count(out), "0") << out;
  EXPECT_NE(out.find("OMP_WAIT_POLICY=ACTIVE (yours)"), std::string::npos) << out;

  out = gan_info_with("GOMP_SPINCOUNT=1000");
  EXPECT_EQ(last_spin_count(out), "1000") << out;
  EXPECT_NE(out.find("GOMP_SPINCOUNT=1000 (yours)"), std::string::npos) << out;

  out = gan_info_with("OMP_NUM_THREADS=1");
  EXPECT_NE(out.find("cpu threads: 1 OpenMP threads (OMP_NUM_THREADS=1 (yours))"), std::string::npos) << out;
}

TEST(ThreadPolicy, ReexecCanBeTurnedOff) {
  REQUIRE_PROGRAM();
  const std::string out = gan_info_with("GAN_REEXEC=0");
  EXPECT_EQ(last_spin_count(out), "300000") << out;  // libgomp's own default
  EXPECT_NE(out.find("libgomp's default wait policy (spins; GAN_REEXEC=0)"), std::string::npos) << out;
}

TEST(ThreadPolicy, NeverAddsTheSameVariableTwice) {
  REQUIRE_PROGRAM();
  // A child whose environment lost the variable an earlier run added runs without it rather than re-executing.
  const std::string out = gan_info_with("GAN_REEXEC_ADDED=OMP_WAIT_POLICY");
  EXPECT_EQ(last_spin_count(out), "300000") << out;
  EXPECT_NE(out.find("cpu threads: "), std::string::npos) << out;
}

TEST(ThreadPolicy, CgroupQuotaText) {
  EXPECT_EQ(cpu_quota_from_cgroup_text("max 100000\n"), std::nullopt);
  EXPECT_EQ(cpu_quota_from_cgroup_text("200000 100000\n"), 2);
  EXPECT_EQ(cpu_quota_from_cgroup_text("150000 100000"), 2);  // 1.5 CPUs: 2 threads
  EXPECT_EQ(cpu_quota_from_cgroup_text("20000 100000"), 1);
  EXPECT_EQ(cpu_quota_from_cgroup_text("-1\n 100000\n"), std::nullopt);  // v1: no limit
  EXPECT_EQ(cpu_quota_from_cgroup_text("400000\n 100000\n"), 4);
  EXPECT_EQ(cpu_quota_from_cgroup_text(""), std::nullopt);
  EXPECT_EQ(cpu_quota_from_cgroup_text("banana"), std::nullopt);
}

TEST(ThreadPolicy, HelperThreadRunsAlone) {
  const int before = omp_get_max_threads();
  int inside = -1;
  std::thread([&] {
    use_one_thread_here();
    inside = omp_get_max_threads();
  }).join();
  EXPECT_EQ(inside, 1);
  EXPECT_EQ(omp_get_max_threads(), before);  // the calling thread's setting is its own
}

}  // namespace
}  // namespace gan::kernels
