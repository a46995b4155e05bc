// Batch norm, fused losses and fused optimizers: the CUDA kernels (kernels/cuda/batch_norm.cu, losses.cu, optim.cu)
// against their CPU twins on raw buffers. The same inputs go to kernels::cpu::f on host memory and to
// kernels::cuda::f on device memory; every output buffer on the device starts as NaN, so an element a kernel
// forgets to write fails the finiteness check before any value is compared.
//
// Agreement demanded: ||gpu - cpu|| / ||cpu|| <= 1e-5 in float32 and 1e-12 in float64 for every output (batch
// norm's input gradient in training against the size of the terms it is a difference of: see check_batch_norm).
// Batch norm computes its statistics and sums in double on both sides; the losses' per-element maths is the same
// in T on both sides (libm and CUDA's libdevice may differ by an ulp in exp/log1p/log) and their double sums
// differ only in order; the optimizers round every operation alone in the same order on both sides (bit-identical
// by construction, but the test asks only for the tolerance above). Shapes are odd: C odd, S = 1 and > 1, N = 2 and large, runs that are
// and are not a multiple of the 16-byte vector, arrays offset by one element (leaving the vector path), channels
// long enough to span many blocks, and optimizer lists that need several multi-tensor launches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gpu_test_util.h"

#if defined(GAN_WITH_CUDA) && GAN_WITH_CUDA

#include "engine/nn/functional.h"
#include "engine/optim/optimizers.h"
#include "kernels/batch_norm.h"
#include "kernels/cuda/allocator.h"
#include "kernels/cuda/runtime.h"
#include "kernels/losses.h"
#include "kernels/optim.h"

namespace gan::testing {
namespace {

namespace k = gan::kernels;
namespace kc = gan::kernels::cuda;

// ---- buffers -------------------------------------------------------------------------------------------------

// n device elements at `offset` elements past a fresh allocation (offset 1 misaligns them for 16-byte vectors).
template <typename T>
class DeviceArray {
 public:
  DeviceArray(size_t n, size_t offset = 0) : n_(n), offset_(offset) {
    base_ = static_cast<T*>(kc::device_alloc((n + offset + 1) * sizeof(T)));
    fill_nan();
  }
  DeviceArray(const std::vector<T>& host, size_t offset = 0) : DeviceArray(host.size(), offset) { upload(host); }
  ~DeviceArray() { kc::device_free(base_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() { return base_ + offset_; }
  void upload(const std::vector<T>& host) {
    if (n_) kc::memcpy_h2d(get(), host.data(), n_ * sizeof(T));
  }
  void fill_nan() { upload(std::vector<T>(n_, std::numeric_limits<T>::quiet_NaN())); }
  std::vector<T> download() {
    std::vector<T> host(n_);
    if (n_) kc::memcpy_d2h(host.data(), get(), n_ * sizeof(T));
    return host;
  }

 private:
  size_t n_, offset_;
  T* base_ = nullptr;
};

template <typename T>
std::vector<T> random_values(size_t n, uint32_t seed, double lo, double hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

template <typename T>
constexpr double tolerance() {
  return sizeof(T) == 4 ? 1e-5 : 1e-12;
}

// Every element finite (the NaN prefill is gone) and the relative L2 error within tolerance: ||gpu - cpu|| over
// ||cpu||, or over `scale` when that is larger (an output that is a small difference of larger terms).
template <typename T>
::testing::AssertionResult close(const std::vector<T>& gpu, const std::vector<T>& cpu, const std::string& what,
                                 double scale = 0.0) {
  if (gpu.size() != cpu.size())
    return ::testing::AssertionFailure() << what << ": " << gpu.size() << " vs " << cpu.size() << " elements";
  for (size_t i = 0; i < gpu.size(); ++i)
    if (!std::isfinite(static_cast<double>(gpu[i])) && std::isfinite(static_cast<double>(cpu[i])))
      return ::testing::AssertionFailure() << what << ": element " << i << " of " << gpu.size() << " is "
                                           << gpu[i] << " on the GPU (cpu " << cpu[i]
                                           << "); a NaN here is an unwritten output";
  const std::vector<double> g(gpu.begin(), gpu.end()), c(cpu.begin(), cpu.end());
  double norm = 0.0;
  for (double v : c) norm += v * v;
  const double err = relative_error(g, c) * (scale > std::sqrt(norm) && norm > 0.0 ? std::sqrt(norm) / scale : 1.0);
  if (err <= tolerance<T>()) return ::testing::AssertionSuccess();
  size_t worst = 0;
  for (size_t i = 1; i < g.size(); ++i)
    if (std::abs(g[i] - c[i]) > std::abs(g[worst] - c[worst])) worst = i;
  return ::testing::AssertionFailure() << what << ": relative error " << err << " > " << tolerance<T>()
                                       << "; worst element " << worst << ": " << g[worst] << " vs " << c[worst];
}

template <typename T>
::testing::AssertionResult close_scalar(T gpu, T cpu, const std::string& what) {
  return close(std::vector<T>{gpu}, std::vector<T>{cpu}, what);
}

// Skips without a device; poisons device allocations (gpu_test_util.h).
class BnLossOptimParity : public CudaTest {};

// ---- batch norm ----------------------------------------------------------------------------------------------

struct BnCase {
  int64_t N, C, S;
  size_t offset;  // 1: every array misaligned by one element
  double center;  // added to x: a mean far from zero tests the variance's accuracy
};

const BnCase kBnCases[] = {
    {2, 3, 1, 0, 0.0},      // smallest batch, S = 1 (BatchNorm1d)
    {37, 5, 1, 0, 0.0},     // S = 1, N odd
    {2, 7, 9, 0, 0.0},      // S odd: scalar path
    {4, 5, 16, 0, 0.0},     // S = 4x4: vector path
    {4, 5, 16, 1, 0.0},     // same, misaligned: scalar path
    {3, 3, 64, 0, 50.0},    // |mean| >> std
    {16, 3, 1024, 0, 0.0},  // one channel spans several blocks (4 tiles of 1024 4-vectors)
    {129, 1, 1023, 0, 1.0}, // more than 128 tiles (scalar path): several tiles per block
    {257, 9, 3, 0, 0.0},    // large odd N
};

const k::BnActivationParams kActs[] = {
    {k::BnActivation::Identity, 0.0}, {k::BnActivation::ReLU, 0.0}, {k::BnActivation::LeakyReLU, 0.2}};

const char* act_name(k::BnActivation a) {
  return a == k::BnActivation::Identity ? "identity" : a == k::BnActivation::ReLU ? "relu" : "leaky_relu";
}

template <typename T>
void check_batch_norm(const BnCase& bc, k::BnActivationParams act, bool affine, uint32_t seed) {
  const k::BatchNormShape shape{bc.N, bc.C, bc.S};
  const size_t n = static_cast<size_t>(bc.N * bc.C * bc.S), C = static_cast<size_t>(bc.C);
  const std::vector<T> x = random_values<T>(n, seed, bc.center - 2.0, bc.center + 3.0);
  const std::vector<T> w = random_values<T>(C, seed + 1, 0.5, 1.5), b = random_values<T>(C, seed + 2, -0.5, 0.5);
  const std::vector<T> rm0 = random_values<T>(C, seed + 3, -1.0, 1.0), rv0 = random_values<T>(C, seed + 4, 0.5, 2.0);
  const std::vector<T> gy = random_values<T>(n, seed + 5, -1.0, 1.0);
  const double eps = 1e-5, momentum = 0.1;
  const size_t off = bc.offset;

  // Training forward.
  std::vector<T> y(n), mean(C), inv_std(C), rm = rm0, rv = rv0;
  k::cpu::batch_norm_forward_train<T>(x.data(), shape, affine ? w.data() : nullptr, affine ? b.data() : nullptr, eps,
                                      act, y.data(), mean.data(), inv_std.data(), rm.data(), rv.data(), momentum);
  DeviceArray<T> dx_in(x, off), dw(w, off), db(b, off), dy(n, off), dmean(C, off), dinv(C, off), drm(rm0, off),
      drv(rv0, off);
  kc::batch_norm_forward_train<T>(dx_in.get(), shape, affine ? dw.get() : nullptr, affine ? db.get() : nullptr, eps,
                                  act, dy.get(), dmean.get(), dinv.get(), drm.get(), drv.get(), momentum);
  EXPECT_TRUE(close(dy.download(), y, "train y"));
  EXPECT_TRUE(close(dmean.download(), mean, "save_mean"));
  EXPECT_TRUE(close(dinv.download(), inv_std, "save_inv_std"));
  EXPECT_TRUE(close(drm.download(), rm, "running_mean"));
  EXPECT_TRUE(close(drv.download(), rv, "running_var"));

  // Backward in both modes, from the CPU's forward (same y, so the same activation mask on both sides).
  DeviceArray<T> dy_cpu(y, off), dmean_cpu(mean, off), dinv_cpu(inv_std, off), dgy(gy, off);
  // In training, grad_x = a (gz - mean(gz) - xhat mean(gz xhat)) with a = w inv_std: a difference of terms of size
  // |a gz| that nearly cancel when a channel has few values (N = 2, S = 1: xhat is +-1 up to eps, and grad_x is
  // ~1e-3 of its terms). The two sides round differently (the CPU's last step in T, the GPU's in double; sums in
  // another order), by an amount relative to |a gz|, so grad_x is measured against ||a gz|| when that is larger.
  double gz_scale = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const size_t c = i / static_cast<size_t>(bc.S) % C;
    const double slope = act.kind == k::BnActivation::Identity ? 1.0
                         : y[i] > T(0)                         ? 1.0
                         : act.kind == k::BnActivation::ReLU   ? 0.0
                                                               : act.slope;
    const double a = (affine ? static_cast<double>(w[c]) : 1.0) * static_cast<double>(inv_std[c]);
    gz_scale += std::pow(a * static_cast<double>(gy[i]) * slope, 2);
  }
  gz_scale = std::sqrt(gz_scale);
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "backward, training" : "backward, eval formula");
    std::vector<T> gx(n), gw(C), gb(C);
    k::cpu::batch_norm_backward<T>(gy.data(), x.data(), y.data(), shape, mean.data(), inv_std.data(),
                                   affine ? w.data() : nullptr, training, act, gx.data(), gw.data(), gb.data());
    DeviceArray<T> dgx(n, off), dgw(C, off), dgb(C, off);
    kc::batch_norm_backward<T>(dgy.get(), dx_in.get(), dy_cpu.get(), shape, dmean_cpu.get(), dinv_cpu.get(),
                               affine ? dw.get() : nullptr, training, act, dgx.get(), dgw.get(), dgb.get());
    EXPECT_TRUE(close(dgx.download(), gx, "grad_x", training ? gz_scale : 0.0));
    EXPECT_TRUE(close(dgw.download(), gw, "grad_weight"));
    EXPECT_TRUE(close(dgb.download(), gb, "grad_bias"));
    // Only the parameter gradients wanted (no grad_x): the reduction alone.
    DeviceArray<T> dgw2(C, off), dgb2(C, off);
    kc::batch_norm_backward<T>(dgy.get(), dx_in.get(), dy_cpu.get(), shape, dmean_cpu.get(), dinv_cpu.get(),
                               affine ? dw.get() : nullptr, training, act, nullptr, dgw2.get(), dgb2.get());
    EXPECT_TRUE(close(dgw2.download(), gw, "grad_weight without grad_x"));
    EXPECT_TRUE(close(dgb2.download(), gb, "grad_bias without grad_x"));
  }

  // Eval forward with the running statistics.
  std::vector<T> ye(n), me(C), ie(C);
  k::cpu::batch_norm_forward_eval<T>(x.data(), shape, rm0.data(), rv0.data(), affine ? w.data() : nullptr,
                                     affine ? b.data() : nullptr, eps, act, ye.data(), me.data(), ie.data());
  DeviceArray<T> drm0(rm0, off), drv0(rv0, off), dye(n, off), dme(C, off), die(C, off);
  kc::batch_norm_forward_eval<T>(dx_in.get(), shape, drm0.get(), drv0.get(), affine ? dw.get() : nullptr,
                                 affine ? db.get() : nullptr, eps, act, dye.get(), dme.get(), die.get());
  EXPECT_TRUE(close(dye.download(), ye, "eval y"));
  EXPECT_TRUE(close(dme.download(), me, "eval save_mean"));
  EXPECT_TRUE(close(die.download(), ie, "eval save_inv_std"));
}

template <typename T>
void check_all_batch_norm() {
  uint32_t seed = 100;
  for (const BnCase& bc : kBnCases)
    for (const auto& act : kActs)
      for (bool affine : {true, false}) {
        SCOPED_TRACE("shape [N=" + std::to_string(bc.N) + ", C=" + std::to_string(bc.C) + ", S=" +
                     std::to_string(bc.S) + "] offset " + std::to_string(bc.offset) + " center " +
                     std::to_string(bc.center) + " " + act_name(act.kind) + (affine ? " affine" : " no affine"));
        check_batch_norm<T>(bc, act, affine, seed += 10);
      }
}

TEST_F(BnLossOptimParity, BatchNormFloatMatchesCpu) { check_all_batch_norm<float>(); }
TEST_F(BnLossOptimParity, BatchNormDoubleMatchesCpu) { check_all_batch_norm<double>(); }

// Same inputs, same bits: the reductions' order depends on the shape only.
TEST_F(BnLossOptimParity, BatchNormIsDeterministic) {
  const k::BatchNormShape shape{128, 3, 1024};
  const size_t n = 128 * 3 * 1024;
  const std::vector<float> x = random_values<float>(n, 7, -2.0, 3.0), gy = random_values<float>(n, 8, -1.0, 1.0);
  DeviceArray<float> dx(x), dgy(gy);
  std::vector<std::vector<float>> runs;
  for (int r = 0; r < 2; ++r) {
    DeviceArray<float> y(n), mean(3), inv(3), gx(n), gw(3), gb(3);
    const k::BnActivationParams act{k::BnActivation::ReLU, 0.0};
    kc::batch_norm_forward_train<float>(dx.get(), shape, nullptr, nullptr, 1e-5, act, y.get(), mean.get(), inv.get(),
                                        nullptr, nullptr, 0.1);
    kc::batch_norm_backward<float>(dgy.get(), dx.get(), y.get(), shape, mean.get(), inv.get(), nullptr, true, act,
                                   gx.get(), gw.get(), gb.get());
    std::vector<float> all = y.download();
    for (auto* a : {&mean, &inv, &gx, &gw, &gb}) {
      const std::vector<float> v = a->download();
      all.insert(all.end(), v.begin(), v.end());
    }
    runs.push_back(all);
  }
  EXPECT_TRUE(std::equal(runs[0].begin(), runs[0].end(), runs[1].begin()));
}

// ---- losses --------------------------------------------------------------------------------------------------

const int64_t kLossSizes[] = {1, 7, 1000, 100003};

template <typename T>
void check_losses() {
  uint32_t seed = 500;
  for (int64_t n : kLossSizes) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const size_t un = static_cast<size_t>(n);
    std::vector<T> x = random_values<T>(un, ++seed, -5.0, 5.0);
    if (n > 10) x[3] = T(60), x[5] = T(-60);  // the stable forms at large |x|
    const std::vector<T> t = random_values<T>(un, ++seed, 0.0, 1.0);
    DeviceArray<T> dx(x), dt(t);
    for (bool grads : {true, false}) {
      SCOPED_TRACE(grads ? "with gradients" : "loss only");
      {  // bce_with_logits
        std::vector<T> gx(un), gt(un);
        const T ref = k::cpu::bce_with_logits<T>(x.data(), t.data(), n, gx.data(), gt.data());
        DeviceArray<T> dgx(un), dgt(un);
        const T got = kc::bce_with_logits<T>(dx.get(), dt.get(), n, grads ? dgx.get() : nullptr,
                                             grads ? dgt.get() : nullptr);
        EXPECT_TRUE(close_scalar(got, ref, "bce_with_logits loss"));
        if (grads) {
          EXPECT_TRUE(close(dgx.download(), gx, "bce_with_logits dx"));
          EXPECT_TRUE(close(dgt.download(), gt, "bce_with_logits dt"));
        }
      }
      {  // mse
        std::vector<T> gx(un), gt(un);
        const T ref = k::cpu::mse<T>(x.data(), t.data(), n, gx.data(), gt.data());
        DeviceArray<T> dgx(un), dgt(un);
        const T got = kc::mse<T>(dx.get(), dt.get(), n, grads ? dgx.get() : nullptr, grads ? dgt.get() : nullptr);
        EXPECT_TRUE(close_scalar(got, ref, "mse loss"));
        if (grads) {
          EXPECT_TRUE(close(dgx.download(), gx, "mse dx"));
          EXPECT_TRUE(close(dgt.download(), gt, "mse dt"));
        }
      }
      {  // kl_normal over a batch of min(n, 4) rows
        const int64_t batch = std::min<int64_t>(n, 4);
        const std::vector<T> lv = random_values<T>(un, ++seed, -2.0, 2.0);
        DeviceArray<T> dlv(lv);
        std::vector<T> gm(un), glv(un);
        const T ref = k::cpu::kl_normal<T>(x.data(), lv.data(), n, batch, gm.data(), glv.data());
        DeviceArray<T> dgm(un), dglv(un);
        const T got = kc::kl_normal<T>(dx.get(), dlv.get(), n, batch, grads ? dgm.get() : nullptr,
                                       grads ? dglv.get() : nullptr);
        EXPECT_TRUE(close_scalar(got, ref, "kl_normal loss"));
        if (grads) {
          EXPECT_TRUE(close(dgm.download(), gm, "kl_normal dmu"));
          EXPECT_TRUE(close(dglv.download(), glv, "kl_normal dlogvar"));
        }
      }
      // gaussian_nll: heteroscedastic (group 1), small groups (thread per group), rows of 64 (warp per group).
      for (int64_t group : {int64_t{1}, int64_t{5}, int64_t{64}}) {
        if (n % group != 0) continue;
        for (bool full : {false, true}) {
          SCOPED_TRACE("gaussian_nll group " + std::to_string(group) + (full ? " full" : ""));
          const size_t groups = un / static_cast<size_t>(group);
          std::vector<T> var = random_values<T>(groups, ++seed, 0.1, 2.0);
          var[0] = T(0);  // clamped at eps
          DeviceArray<T> dvar(var);
          std::vector<T> gx(un), gt(un), gv(groups);
          const T ref = k::cpu::gaussian_nll<T>(x.data(), t.data(), var.data(), n, group, full, 1e-6, gx.data(),
                                                gt.data(), gv.data());
          DeviceArray<T> dgx(un), dgt(un), dgv(groups);
          const T got = kc::gaussian_nll<T>(dx.get(), dt.get(), dvar.get(), n, group, full, 1e-6,
                                            grads ? dgx.get() : nullptr, grads ? dgt.get() : nullptr,
                                            grads ? dgv.get() : nullptr);
          EXPECT_TRUE(close_scalar(got, ref, "gaussian_nll loss"));
          if (grads) {
            EXPECT_TRUE(close(dgx.download(), gx, "gaussian_nll dx"));
            EXPECT_TRUE(close(dgt.download(), gt, "gaussian_nll dt"));
            EXPECT_TRUE(close(dgv.download(), gv, "gaussian_nll dvar"));
          }
        }
      }
    }
    // wasserstein: both arrays (different sizes), and each alone.
    const int64_t nr = std::max<int64_t>(1, n / 2 + 1);
    EXPECT_TRUE(close_scalar(kc::wasserstein<T>(dt.get(), nr, dx.get(), n),
                             k::cpu::wasserstein<T>(t.data(), nr, x.data(), n), "wasserstein(real, fake)"));
    EXPECT_TRUE(close_scalar(kc::wasserstein<T>(dx.get(), n, nullptr, 0),
                             k::cpu::wasserstein<T>(x.data(), n, nullptr, 0), "wasserstein(fake, null)"));
    EXPECT_TRUE(close_scalar(kc::wasserstein<T>(nullptr, 0, dx.get(), n),
                             k::cpu::wasserstein<T>(nullptr, 0, x.data(), n), "wasserstein(null, fake)"));
  }
}

TEST_F(BnLossOptimParity, LossesFloatMatchCpu) { check_losses<float>(); }
TEST_F(BnLossOptimParity, LossesDoubleMatchCpu) { check_losses<double>(); }

// ---- optimizers ----------------------------------------------------------------------------------------------

// Parameter sizes: odd, one vector, one chunk plus one, and (in the big list) enough slots and chunks to need
// several multi-tensor launches with a parameter carried over between two of them.
std::vector<int64_t> small_sizes() { return {1, 7, 4, 8193, 20000}; }
std::vector<int64_t> big_sizes() {
  std::vector<int64_t> s;
  for (int i = 0; i < 45; ++i) s.push_back(1 + 997 * i);
  s.push_back(3'000'001);
  return s;
}

// One parameter's arrays on both sides: index 0 param, 1 grad, then up to three state arrays.
template <typename T>
struct OptimParam {
  std::vector<std::vector<T>> host;
  std::vector<std::unique_ptr<DeviceArray<T>>> dev;
};

template <typename T>
std::vector<OptimParam<T>> make_params(const std::vector<int64_t>& sizes, int arrays, uint32_t seed) {
  std::vector<OptimParam<T>> ps(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    const size_t n = static_cast<size_t>(sizes[i]);
    const size_t off = i % 3 == 2 ? 1 : 0;  // every third parameter misaligned
    for (int a = 0; a < arrays; ++a) {
      // State starts at zero, as a fresh optimizer's; the param at random values.
      std::vector<T> v = a == 0 ? random_values<T>(n, seed + static_cast<uint32_t>(i), -1.0, 1.0) : std::vector<T>(n);
      ps[i].dev.push_back(std::make_unique<DeviceArray<T>>(v, off));
      ps[i].host.push_back(std::move(v));
    }
  }
  return ps;
}

template <typename T>
void new_grads(std::vector<OptimParam<T>>& ps, uint32_t seed) {
  for (size_t i = 0; i < ps.size(); ++i) {
    ps[i].host[1] = random_values<T>(ps[i].host[1].size(), seed + static_cast<uint32_t>(i), -1.0, 1.0);
    ps[i].dev[1]->upload(ps[i].host[1]);
  }
}

template <typename T>
void compare_params(std::vector<OptimParam<T>>& ps, const std::vector<std::string>& names) {
  for (size_t i = 0; i < ps.size(); ++i)
    for (size_t a = 0; a < ps[i].host.size(); ++a) {
      if (a == 1 || names[a].empty()) continue;  // the gradient is an input; unused state is not compared
      EXPECT_TRUE(close(ps[i].dev[a]->download(), ps[i].host[a], "param " + std::to_string(i) + " " + names[a]));
    }
}

template <typename T>
void check_sgd(const std::vector<int64_t>& sizes, const k::SgdHyper& h) {
  auto ps = make_params<T>(sizes, 3, 900);
  for (int step = 0; step < 3; ++step) {
    new_grads(ps, 1000 + 100 * step);
    std::vector<k::SgdSlot<T>> cpu, gpu;
    for (auto& p : ps) {
      const int64_t n = static_cast<int64_t>(p.host[0].size());
      cpu.push_back({p.host[0].data(), p.host[1].data(), p.host[2].data(), n, step == 0});
      gpu.push_back({p.dev[0]->get(), p.dev[1]->get(), p.dev[2]->get(), n, step == 0});
    }
    k::cpu::sgd_step<T>(cpu.data(), static_cast<int64_t>(cpu.size()), h);
    kc::sgd_step<T>(gpu.data(), static_cast<int64_t>(gpu.size()), h);
  }
  compare_params(ps, {"param", "grad", h.momentum != 0.0 ? "momentum_buffer" : ""});
}

template <typename T>
void check_adam(const std::vector<int64_t>& sizes, const k::AdamHyper& h) {
  auto ps = make_params<T>(sizes, 4, 1900);
  for (int step = 0; step < 3; ++step) {
    new_grads(ps, 2000 + 100 * step);
    std::vector<k::AdamSlot<T>> cpu, gpu;
    for (size_t i = 0; i < ps.size(); ++i) {
      auto& p = ps[i];
      const int64_t n = static_cast<int64_t>(p.host[0].size());
      const int64_t t = step + 1 + static_cast<int64_t>(i % 2) * 4;  // per-parameter step counts differ
      cpu.push_back({p.host[0].data(), p.host[1].data(), p.host[2].data(), p.host[3].data(), n, t});
      gpu.push_back({p.dev[0]->get(), p.dev[1]->get(), p.dev[2]->get(), p.dev[3]->get(), n, t});
    }
    k::cpu::adam_step<T>(cpu.data(), static_cast<int64_t>(cpu.size()), h);
    kc::adam_step<T>(gpu.data(), static_cast<int64_t>(gpu.size()), h);
  }
  compare_params(ps, {"param", "grad", "exp_avg", "exp_avg_sq"});
}

template <typename T>
void check_rmsprop(const std::vector<int64_t>& sizes, const k::RmspropHyper& h) {
  auto ps = make_params<T>(sizes, 5, 2900);
  for (int step = 0; step < 3; ++step) {
    new_grads(ps, 3000 + 100 * step);
    std::vector<k::RmspropSlot<T>> cpu, gpu;
    for (auto& p : ps) {
      const int64_t n = static_cast<int64_t>(p.host[0].size());
      cpu.push_back({p.host[0].data(), p.host[1].data(), p.host[2].data(), h.centered ? p.host[3].data() : nullptr,
                     h.momentum > 0.0 ? p.host[4].data() : nullptr, n});
      gpu.push_back({p.dev[0]->get(), p.dev[1]->get(), p.dev[2]->get(), h.centered ? p.dev[3]->get() : nullptr,
                     h.momentum > 0.0 ? p.dev[4]->get() : nullptr, n});
    }
    k::cpu::rmsprop_step<T>(cpu.data(), static_cast<int64_t>(cpu.size()), h);
    kc::rmsprop_step<T>(gpu.data(), static_cast<int64_t>(gpu.size()), h);
  }
  compare_params(ps, {"param", "grad", "square_avg", h.centered ? "grad_avg" : "",
                      h.momentum > 0.0 ? "momentum_buffer" : ""});
}

template <typename T>
void check_optimizers(const std::vector<int64_t>& sizes) {
  for (const k::SgdHyper& h : {k::SgdHyper{0.1, 0.0, 0.0, 0.0, false}, k::SgdHyper{0.1, 0.0, 0.0, 0.01, false},
                               k::SgdHyper{0.05, 0.9, 0.1, 0.0, false}, k::SgdHyper{0.05, 0.9, 0.0, 0.01, true}}) {
    SCOPED_TRACE("SGD momentum " + std::to_string(h.momentum) + " dampening " + std::to_string(h.dampening) +
                 " wd " + std::to_string(h.weight_decay) + (h.nesterov ? " nesterov" : ""));
    check_sgd<T>(sizes, h);
  }
  for (const k::AdamHyper& h : {k::AdamHyper{2e-4, 0.5, 0.999, 1e-8, 0.0}, k::AdamHyper{1e-3, 0.9, 0.999, 1e-8, 0.01},
                                k::AdamHyper{1e-2, 0.3, 0.7, 1e-3, 0.0}}) {  // beta1 < 0.5: lerp's other branch
    SCOPED_TRACE("Adam beta1 " + std::to_string(h.beta1) + " wd " + std::to_string(h.weight_decay));
    check_adam<T>(sizes, h);
  }
  for (bool centered : {false, true})
    for (double momentum : {0.0, 0.9})
      for (double wd : {0.0, 0.01}) {
        SCOPED_TRACE(std::string("RMSprop") + (centered ? " centered" : "") + " momentum " +
                     std::to_string(momentum) + " wd " + std::to_string(wd));
        check_rmsprop<T>(sizes, k::RmspropHyper{5e-3, 0.99, 1e-8, wd, momentum, centered});
      }
}

TEST_F(BnLossOptimParity, OptimizersFloatMatchCpu) { check_optimizers<float>(small_sizes()); }
TEST_F(BnLossOptimParity, OptimizersDoubleMatchCpu) { check_optimizers<double>(small_sizes()); }

// The many-parameter list needs several launches with a parameter carried over between two of them. That
// bookkeeping (multi_tensor_apply) is the same for every rule and setting, so each rule runs it once, in the
// setting with the most state arrays; the small lists above try every setting.
TEST_F(BnLossOptimParity, OptimizersManyParametersMatchCpu) {
  const std::vector<int64_t> sizes = big_sizes();
  check_sgd<float>(sizes, k::SgdHyper{0.05, 0.9, 0.0, 0.01, true});
  check_adam<float>(sizes, k::AdamHyper{1e-3, 0.9, 0.999, 1e-8, 0.01});
  check_rmsprop<float>(sizes, k::RmspropHyper{5e-3, 0.99, 1e-8, 0.01, 0.9, true});
}

TEST_F(BnLossOptimParity, ClampMatchesCpuIncludingNaN) {
  std::vector<float> x = random_values<float>(100003, 77, -2.0, 2.0);
  x[10] = std::numeric_limits<float>::quiet_NaN();
  x[11] = std::numeric_limits<float>::infinity();
  DeviceArray<float> dx(x, 1);
  k::cpu::clamp_inplace<float>(x.data(), static_cast<int64_t>(x.size()), -0.01, 0.01);
  kc::clamp_inplace<float>(dx.get(), static_cast<int64_t>(x.size()), -0.01, 0.01);
  const std::vector<float> got = dx.download();
  for (size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "element " << i;
    } else {
      ASSERT_EQ(got[i], x[i]) << "element " << i;
    }
  }
}

// ---- the engine's wiring (engine/nn/batch_norm.cpp, losses.cpp, engine/optim): the same small graph on both
// devices, then one step of each optimizer ----------------------------------------------------------------------

namespace F = gan::nn::functional;

// Loss of a BN + LeakyReLU layer in training mode, through every fused loss the engine wraps.
Tensor engine_loss(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm, const Tensor& rv,
                   const Tensor& target) {
  const Tensor y = F::batch_norm(x, rm, rv, w, b, /*training=*/true, 0.1, 1e-5,
                                 F::ActivationArgs{F::Activation::LeakyReLU, 0.2});
  return add(add(F::mse_loss(y, target), F::bce_with_logits(y, sigmoid(target))),
             F::wasserstein_critic_loss(y, target));
}

TEST_F(BnLossOptimParity, EngineOpsAndOptimizersMatchCpu) {
  const Device gpu = Device::cuda(0);
  const Tensor x0 = from_vector(random_values<float>(6 * 5 * 9, 1, -2.0, 2.0), {6, 5, 3, 3});
  const Tensor t0 = from_vector(random_values<float>(6 * 5 * 9, 2, -1.0, 1.0), {6, 5, 3, 3});
  const Tensor w0 = from_vector(random_values<float>(5, 3, 0.5, 1.5), {5});
  const Tensor b0 = from_vector(random_values<float>(5, 4, -0.5, 0.5), {5});
  struct Side {
    Tensor x, w, b, rm, rv, target;
  };
  auto make = [&](const Device& d) {
    // Fresh leaves on each side (detach: no graph from the copy, no requires_grad shared with the other side).
    auto leaf = [&](const Tensor& t) { return t.to(d).detach(); };
    Side s{leaf(x0), leaf(w0), leaf(b0), zeros({5}, DType::Float32, d), ones({5}, DType::Float32, d), leaf(t0)};
    s.x.requires_grad_();
    s.w.requires_grad_();
    s.b.requires_grad_();
    return s;
  };
  Side cpu = make(Device::cpu()), cuda = make(gpu);
  const Tensor loss_cpu = engine_loss(cpu.x, cpu.w, cpu.b, cpu.rm, cpu.rv, cpu.target);
  const Tensor loss_gpu = engine_loss(cuda.x, cuda.w, cuda.b, cuda.rm, cuda.rv, cuda.target);
  EXPECT_EQ(loss_gpu.device(), gpu);
  EXPECT_TRUE(parity(loss_gpu, loss_cpu, "loss"));
  loss_cpu.backward();
  loss_gpu.backward();
  EXPECT_TRUE(parity(cuda.x.grad(), cpu.x.grad(), "dL/dx"));
  EXPECT_TRUE(parity(cuda.w.grad(), cpu.w.grad(), "dL/dweight"));
  EXPECT_TRUE(parity(cuda.b.grad(), cpu.b.grad(), "dL/dbias"));
  EXPECT_TRUE(parity(cuda.rm, cpu.rm, "running_mean"));
  EXPECT_TRUE(parity(cuda.rv, cpu.rv, "running_var"));

  // One step of each optimizer from the same gradients (fresh optimizers, so each starts from zero state).
  auto step_all = [](Side& s) {
    optim::Adam({{"w", s.w}, {"b", s.b}}, {.lr = 1e-2, .beta1 = 0.5}).step();
    optim::SGD({{"w", s.w}, {"b", s.b}}, {.lr = 1e-2, .momentum = 0.9, .nesterov = true}).step();
    optim::RMSprop({{"w", s.w}, {"b", s.b}}, {.lr = 1e-3, .momentum = 0.5, .centered = true}).step();
    optim::clip_weights_(std::vector<Tensor>{s.w, s.b}, 0.9);
  };
  step_all(cpu);
  step_all(cuda);
  EXPECT_TRUE(parity(cuda.w, cpu.w, "weight after the optimizer steps"));
  EXPECT_TRUE(parity(cuda.b, cpu.b, "bias after the optimizer steps"));
}

}  // namespace
}  // namespace gan::testing

#else  // no CUDA backend in this build: one test that says so

TEST(BnLossOptimParity, NeedsCudaBackend) { GAN_REQUIRE_CUDA(); }

#endif
