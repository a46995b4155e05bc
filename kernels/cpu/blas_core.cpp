#include "kernels/blas_core.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>

namespace gan::kernels {

std::string blas_core_name() {
  const char* name = openblas_get_corename();
  return name != nullptr ? name : "unknown";
}

std::string blas_core_override() {
  const char* set = std::getenv("OPENBLAS_CORETYPE");
  if (set != nullptr && *set != '\0') return "";
  // OpenBLAS's fallbacks for a CPU it cannot place (its driver/others/dynamic.c).
  const std::string core = blas_core_name();
  if (core != "Prescott" && core != "Core2" && core != "Nehalem" && core != "Unknown" && core != "unknown")
    return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

void rerun_with_matching_blas_core(int /*argc*/, char** argv) {
  const std::string core = blas_core_override();
  if (core.empty()) return;
  if (::setenv("OPENBLAS_CORETYPE", core.c_str(), 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  // Still here: the re-execution failed (no /proc, say). Go on with the generic kernels; OPENBLAS_CORETYPE stays
  // set, which affects only child processes.
}

}  // namespace gan::kernels
