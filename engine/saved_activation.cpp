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
}  // namespace

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

Tensor SavedActivation::unpack() const {
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
