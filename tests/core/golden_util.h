// Reading the golden data PyTorch wrote (tests/golden/make_golden.py -> tests/golden/data/) and comparing the
// engine's tensors with it, shared by the golden tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/safetensors.h"
#include "engine/tensor.h"

#ifndef GAN_TEST_DATA_DIR
#error "GAN_TEST_DATA_DIR (the tests/ source folder) must be defined by the build"
#endif

namespace gan::testing {

// The tests/ folder: the build's GAN_TEST_DATA_DIR, unless the environment variable of that name points elsewhere
// (a test binary run away from its source tree, e.g. from the GPU check bundle, scripts/gpu-bundle.sh).
inline std::string golden_data_path(const std::string& file) {
  const char* env = std::getenv("GAN_TEST_DATA_DIR");
  const std::string dir = env != nullptr && env[0] != '\0' ? env : GAN_TEST_DATA_DIR;
  return dir + "/golden/data/" + file;
}

// The tensors of one golden file, read once per process.
inline const NamedTensors& golden(const std::string& file) {
  static std::map<std::string, NamedTensors> cache;
  auto it = cache.find(file);
  if (it == cache.end()) it = cache.emplace(file, load_safetensors(golden_data_path(file))).first;
  return it->second;
}

// A fresh leaf copy of a golden tensor that requires grad.
inline Tensor golden_leaf(const Tensor& t) {
  Tensor c = t.clone();
  c.requires_grad_(true);
  return c;
}

inline std::string golden_index_str(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  std::string s = "[";
  for (size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + std::to_string(idx[i]);
  return s + "]";
}

inline bool golden_verbose() {
  const char* v = std::getenv("GAN_GOLDEN_VERBOSE");
  return v != nullptr && v[0] != '\0' && v[0] != '0';
}

// Passes when max |got - want| <= tol (1 + max |want|); NaN or Inf in `got` always fails.
inline ::testing::AssertionResult golden_close(const std::string& name, const Tensor& got, const Tensor& want,
                                               double tol) {
  if (!got.defined()) return ::testing::AssertionFailure() << name << ": the engine's tensor is undefined";
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << name << ": shape " << shape_str(got.shape()) << ", PyTorch's "
                                         << shape_str(want.shape());
  const std::vector<double> g = got.to_vector<double>(), w = want.to_vector<double>();
  double max_ref = 0.0, max_diff = 0.0;
  int64_t worst = -1;
  for (size_t i = 0; i < g.size(); ++i) {
    max_ref = std::max(max_ref, std::abs(w[i]));
    const double d = std::abs(g[i] - w[i]);
    if (!std::isfinite(g[i])) {
      return ::testing::AssertionFailure() << name << ": non-finite value " << g[i] << " at "
                                           << golden_index_str(static_cast<int64_t>(i), want.shape())
                                           << " (PyTorch " << w[i] << ")";
    }
    if (d > max_diff || worst < 0) {
      max_diff = d;
      worst = static_cast<int64_t>(i);
    }
  }
  const double bound = tol * (1.0 + max_ref);
  std::ostringstream msg;
  msg.precision(9);
  msg << name << ": max |diff| " << max_diff << " (bound " << bound << " = " << tol << " (1 + max|ref| "
      << max_ref << "))";
  if (worst >= 0)
    msg << " at " << golden_index_str(worst, want.shape()) << ": engine " << g[worst] << ", PyTorch " << w[worst];
  if (golden_verbose()) std::cout << "  [golden] " << msg.str() << "\n";
  if (max_diff <= bound) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << msg.str();
}

// The entries "<prefix><name>" of a golden file, with the prefix stripped (e.g. a module's state dict).
inline nn::NamedTensors golden_with_prefix(const NamedTensors& f, const std::string& prefix) {
  nn::NamedTensors out;
  for (const auto& [name, t] : f.tensors)
    if (name.rfind(prefix, 0) == 0) out.emplace_back(name.substr(prefix.size()), t);
  return out;
}

}  // namespace gan::testing

#define EXPECT_GOLDEN(name, got, want, tol) EXPECT_TRUE(::gan::testing::golden_close(name, got, want, tol))
