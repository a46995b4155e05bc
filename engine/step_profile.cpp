#include "engine/step_profile.h"

#include <algorithm>
#include <cstdio>

#include "kernels/cuda/allocator.h"
#include "kernels/cuda/launch_count.h"
#include "kernels/cuda/sync_count.h"

namespace gan {

namespace {

namespace kc = kernels::cuda;

void add_to(std::vector<std::pair<std::string, uint64_t>>& into, const std::string& key, uint64_t n) {
  auto it = std::find_if(into.begin(), into.end(), [&](const auto& r) { return r.first == key; });
  if (it == into.end()) into.emplace_back(key, n);
  else it->second += n;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

void StepProfile::begin() {
  kc::reset_launch_counts();
  kc::reset_sync_counts();
  kc::reset_device_mallocs();
}

void StepProfile::end() {
  ++iterations_;
  launches_ += kc::launch_count();
  syncs_ += kc::sync_count();
  const kc::DeviceMallocs m = kc::device_mallocs();
  malloc_calls_ += m.calls;
  malloc_bytes_ += m.bytes;
  bytes_each_.push_back(m.bytes);
  for (const kc::KernelLaunches& k : kc::launch_counts()) add_to(kernels_, k.kernel, k.launches);
  for (const kc::HostSyncs& s : kc::sync_counts()) add_to(sync_reasons_, s.reason, s.syncs);
}

std::string StepProfile::summary(size_t top_kernels) const {
  std::string s = fmt("%.1f", launches_per_iteration()) + " kernel launches, " + fmt("%.1f", syncs_per_iteration()) +
                  " host syncs, " + fmt("%.0f", new_device_bytes_per_iteration()) + " bytes newly allocated (" +
                  fmt("%.1f", cuda_mallocs_per_iteration()) + " cudaMalloc calls) per iteration, over " +
                  std::to_string(iterations_) + " iteration(s)";
  if (malloc_bytes_ > 0 && iterations_ > 1) {  // warm-up that was too short shows as bytes in the first ones
    s += "; new bytes by iteration:";
    for (size_t i = 0; i < std::min<size_t>(bytes_each_.size(), 8); ++i) {
      s += ' ';  // two appends, not " " + to_string(...): GCC 12 warns (-Wrestrict) on that temporary's insert
      s += std::to_string(bytes_each_[i]);
    }
  }
  s += "\n";
  auto sorted = [](std::vector<std::pair<std::string, uint64_t>> v) {
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    return v;
  };
  for (const auto& [reason, n] : sorted(sync_reasons_))
    s += "  host syncs " + fmt("%8.1f", per(n)) + "  " + reason + "\n";
  const auto kernels = sorted(kernels_);
  const size_t shown = std::min(kernels.size(), top_kernels);
  for (size_t i = 0; i < shown; ++i)
    s += "  launches " + fmt("%10.1f", per(kernels[i].second)) + "  " + kernels[i].first + "\n";
  if (kernels.size() > shown) s += "  ... and " + std::to_string(kernels.size() - shown) + " more kernels\n";
  return s;
}

}  // namespace gan
