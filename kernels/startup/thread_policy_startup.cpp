// The constructor that sets up the process-wide threading and OpenBLAS settings before main(); see
// kernels/thread_policy.h (what and why) and kernels/blas_core.h (OPENBLAS_CORETYPE).
//
// It lives in its own static library, gan_startup, linked into executables only (the gan::kernels target adds
// -Wl,--undefined=gan_engine_adopt_thread_policy to executables that link it, which pulls this object out of the
// archive), so a shared gan-engine loaded with dlopen() never re-executes its host. It uses nothing of
// gan_kernels, so it links wherever the archive lands on the link line.
#include <cblas.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "kernels/blas_core.h"
#include "kernels/thread_policy.h"

namespace gan::kernels {
namespace {

bool is_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The CPU quota of this process's cgroup in whole CPUs: v2's cpu.max (in the process's own cgroup folder, or at
// the root inside a cgroup namespace), else v1's cpu.cfs_quota_us / cpu.cfs_period_us.
std::optional<int64_t> cgroup_cpu_quota() {
  std::istringstream lines(read_file("/proc/self/cgroup"));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("0::", 0) != 0) continue;
    if (auto q = cpu_quota_from_cgroup_text(read_file("/sys/fs/cgroup" + line.substr(3) + "/cpu.max"))) return q;
    if (auto q = cpu_quota_from_cgroup_text(read_file("/sys/fs/cgroup/cpu.max"))) return q;
  }
  return cpu_quota_from_cgroup_text(read_file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") + " " +
                                    read_file("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
}

// CPUs in this process's affinity mask (what libgomp starts threads for).
int64_t affinity_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  return CPU_COUNT(&set);
}

// What the environment lacks, as (name, value) pairs.
std::vector<std::pair<std::string, std::string>> missing_settings() {
  std::vector<std::pair<std::string, std::string>> add;
  if (!is_set("OMP_WAIT_POLICY") && !is_set("GOMP_SPINCOUNT")) add.emplace_back("OMP_WAIT_POLICY", "PASSIVE");
  if (!is_set("OMP_NUM_THREADS")) {
    const auto quota = cgroup_cpu_quota();
    if (quota && *quota < affinity_cpus()) add.emplace_back("OMP_NUM_THREADS", std::to_string(*quota));
  }
  if (const std::string core = blas_core_override(); !core.empty()) add.emplace_back("OPENBLAS_CORETYPE", core);
  return add;
}

}  // namespace

std::string blas_core_override() {
  if (is_set("OPENBLAS_CORETYPE")) return "";
  // OpenBLAS's fallbacks for a CPU it cannot place (its driver/others/dynamic.c).
  const char* name = openblas_get_corename();
  const std::string core = name != nullptr ? name : "unknown";
  if (core != "Prescott" && core != "Core2" && core != "Nehalem" && core != "Unknown" && core != "unknown")
    return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

std::optional<int64_t> cpu_quota_from_cgroup_text(std::string_view text) {
  auto number = [&](std::string_view& s) -> std::optional<int64_t> {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || v <= 0) return std::nullopt;
    s.remove_prefix(static_cast<size_t>(end - s.data()));
    return v;
  };
  std::string_view s = text;
  const auto quota = number(s);  // "max" and -1 (no limit) stop here
  const auto period = number(s);
  if (!quota || !period) return std::nullopt;
  return std::max<int64_t>(1, (*quota + *period - 1) / *period);
}

}  // namespace gan::kernels

// Runs before main() (priority 101: before the program's own constructors, so none of them runs twice). glibc
// passes init functions (argc, argv, envp). GAN_REEXEC_ADDED names what an earlier run added; a variable named
// there is never added again, so the program re-executes at most once even when something between the runs
// removed it (a child started with a trimmed environment just runs without it).
extern "C" __attribute__((constructor(101), used, visibility("default"))) void gan_engine_adopt_thread_policy(
    int /*argc*/, char** argv, char** /*envp*/) {
  using namespace gan::kernels;
  if (argv == nullptr || argv[0] == nullptr) return;
  if (const char* r = std::getenv("GAN_REEXEC"); r != nullptr && std::string(r) == "0") return;
  const char* before = std::getenv("GAN_REEXEC_ADDED");
  const std::string added_before = before != nullptr ? before : "";
  auto listed = [&](const std::string& name) {
    std::istringstream in(added_before);
    for (std::string item; std::getline(in, item, ',');)
      if (item == name) return true;
    return false;
  };
  std::vector<std::pair<std::string, std::string>> add;
  for (auto& entry : missing_settings())
    if (!listed(entry.first)) add.push_back(std::move(entry));
  if (add.empty()) return;
  std::string names = added_before;
  for (const auto& [name, value] : add) {
    if (::setenv(name.c_str(), value.c_str(), 1) != 0) return;
    names += (names.empty() ? "" : ",") + name;
  }
  ::setenv("GAN_REEXEC_ADDED", names.c_str(), 1);
  ::execv("/proc/self/exe", argv);
  // Still here (no /proc, say): go on as we are, with the environment as it was.
  for (const auto& entry : add) ::unsetenv(entry.first.c_str());
  if (before != nullptr) ::setenv("GAN_REEXEC_ADDED", added_before.c_str(), 1);
  else ::unsetenv("GAN_REEXEC_ADDED");
}
