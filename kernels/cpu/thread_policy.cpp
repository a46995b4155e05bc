// What the process-wide threading settings are; kernels/startup/thread_policy_startup.cpp sets them.
#include "kernels/thread_policy.h"

#include <omp.h>

#include <cstdlib>
#include <sstream>
#include <string>

namespace gan::kernels {
namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

// Whether the startup constructor put `name` in the environment (GAN_REEXEC_ADDED lists those).
bool added_by_gan_engine(const std::string& name) {
  const char* list = env("GAN_REEXEC_ADDED");
  if (list == nullptr) return false;
  std::istringstream in(list);
  for (std::string item; std::getline(in, item, ',');)
    if (item == name) return true;
  return false;
}

std::string describe(const char* name) {
  return std::string(name) + "=" + env(name) + (added_by_gan_engine(name) ? " (set by gan-engine)" : " (yours)");
}

}  // namespace

std::string thread_policy_summary() {
  std::string out = std::to_string(omp_get_max_threads()) + " OpenMP threads";
  if (env("OMP_NUM_THREADS") != nullptr) out += " (" + describe("OMP_NUM_THREADS") + ")";
  if (env("OMP_WAIT_POLICY") != nullptr) return out + ", " + describe("OMP_WAIT_POLICY");
  if (env("GOMP_SPINCOUNT") != nullptr) return out + ", " + describe("GOMP_SPINCOUNT");
  const char* reexec = env("GAN_REEXEC");
  return out + ", libgomp's default wait policy (spins" + (reexec != nullptr ? std::string("; GAN_REEXEC=") + reexec : "") +
         ")";
}

void use_one_thread_here() { omp_set_num_threads(1); }

}  // namespace gan::kernels
