// See engine/saved_activation.h.
#include "engine/saved_activation.h"

#include <atomic>
#include <cstdlib>
#include <string_view>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "kernels/math_mode.h"

namespace gan {

namespace {
// GAN_SAVE_BF16=0 in the environment starts with packing off (to measure what it saves); anything else, on.
bool pack_from_environment() {
  const char* v = std::getenv("GAN_SAVE_BF16");
  return v == nullptr || std::string_view(v) != "0";
}
std::atomic<bool> g_pack_enabled{pack_from_environment()};
// GAN_RECOMPUTE=0 starts with recomputation off (to measure what it saves); anything else, on.
bool recompute_from_environment() {
  const char* v = std::getenv("GAN_RECOMPUTE");
  return v == nullptr || std::string_view(v) != "0";
}
std::atomic<bool> g_recompute_enabled{recompute_from_environment()};
}  // namespace

bool recomputes_saved_activations() { return g_recompute_enabled.load(std::memory_order_relaxed); }

void set_recompute_saved_activations(bool enabled) { g_recompute_enabled.store(enabled, std::memory_order_relaxed); }

bool packs_saved_activations() {
  return g_pack_enabled.load(std::memory_order_relaxed) && kernels::float_math() == kernels::FloatMath::Bf16;
}

void set_pack_saved_activations(bool enabled) { g_pack_enabled.store(enabled, std::memory_order_relaxed); }

void mark_bf16_values(const Tensor& out) {
  // The dtype first: the math mode is fixed by its first query (kernels/math_mode.h), which float64 work leaves be.
  out.impl()->bf16_values = out.dtype() == DType::Float32 && kernels::float_math() == kernels::FloatMath::Bf16;
}

SavedActivation::SavedActivation(const Tensor& t, SavedUse use) {
  if (!t.defined()) return;
  TensorImpl* impl = t.impl();
  if (impl->recompute && recomputes_saved_activations()) {
    recompute_ = impl->recompute;
    grad_fn_ = impl->grad_fn;
    return;
  }
  const bool leaf_with_grad = impl->grad_fn == nullptr && impl->requires_grad;
  const bool exact = use != SavedUse::Values || impl->bf16_values;
  if (t.dtype() != DType::Float32 || leaf_with_grad || !exact || !packs_saved_activations()) {
    tensor_ = t;
    return;
  }
  grad_fn_ = impl->grad_fn;
  packed_ = impl->saved_bf16.lock();
  if (!packed_) {
    NoGradGuard no_grad;
    packed_ = t.detach().to(DType::BFloat16).impl_ptr();
    impl->saved_bf16 = packed_;
  }
}

SavedActivation SavedActivation::kept(const Tensor& t) {
  SavedActivation s;
  if (t.defined() && t.impl()->recompute && recomputes_saved_activations()) {
    s.recompute_ = t.impl()->recompute;
    s.grad_fn_ = t.impl()->grad_fn;
  } else {
    s.tensor_ = t;
  }
  return s;
}

Tensor SavedActivation::unpack() const {
  if (recompute_) {
    Tensor values;
    {
      NoGradGuard no_grad;
      values = recompute_->values();
    }
    values.impl()->grad_fn = grad_fn_;
    return values;
  }
  if (!packed_) return tensor_;
  Tensor values;
  {
    NoGradGuard no_grad;
    values = Tensor(packed_).to(DType::Float32);
  }
  values.impl()->grad_fn = grad_fn_;
  values.impl()->bf16_values = true;
  return values;
}

SavedActivation save_for_backward(const std::vector<Tensor>& inputs, const Tensor& t, SavedUse use) {
  return needs_grad(inputs) ? SavedActivation(t, use) : SavedActivation();
}

}  // namespace gan
