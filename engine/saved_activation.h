// An activation an op's backward pass reads, kept as bfloat16 between forward and backward when the forward runs
// in the bf16 math mode (kernels/math_mode.h) and that changes nothing the backward computes; as is otherwise.
//
// Each saver says how its backward reads the tensor (SavedUse), and a float32 tensor is packed only where the bf16
// copy gives the backward the same result:
//   - Values: read as values (batch norm's input, tanh's input): packed only when the tensor holds bf16 values
//     already. In the bf16 mode a convolution rounds its output to bf16 (kernels/conv.h) and marks it so
//     (mark_bf16_values); GEMM outputs and everything else stay float32 and are kept as they are.
//   - Sign: read for its sign only (relu's and leaky_relu's input, batch norm's output under a fused activation):
//     always packed (a value below bf16's smallest subnormal, 2^-133, rounds to zero: the one way a sign can
//     change, and a positive one only).
//   - Bf16Operand: read only as an operand a bf16 multiply rounds again (a conv's input, read by its weight
//     gradient): always packed.
// So packing halves what a training step keeps alive from forward to backward for the zoo's conv models and
// changes no gradient: unpacking gives back the float32 values the backward would have read. The float32 tensor
// itself is freed as soon as the forward pass no longer uses it. PyTorch's autocast keeps such activations in bf16
// the same way (its conv outputs are bf16 tensors).
//
// The unpacked tensor has the original's history (its grad_fn), so a backward built from it can be differentiated
// again (WGAN-GP). Two ops saving the same tensor (batch norm's output, read by batch norm and by the next conv)
// share one bf16 copy. A leaf that requires grad is never packed: its AccumulateGrad node keeps it alive anyway.
// Like every saved tensor, a packed one must not be changed in place between forward and backward. (copy_ and
// fill_ into a tensor clear its bf16-values mark; a write through another view of its storage would not.)
//
// Recomputed instead of kept: a tensor whose op can compute it again, bit for bit, from what that op's node keeps
// anyway carries a Recomputation (TensorImpl::recompute). A saver of it keeps that, in any math mode and for any
// use, and unpack() computes the values again. Batch norm's training output is one (engine/nn/batch_norm.cpp:
// from its input and the statistics, one elementwise pass): the next conv's saved input and batch norm's own
// activation mask then cost no memory between forward and backward, at the price of that pass in backward (twice
// per layer: for the conv's weight gradient and for batch norm's backward). What the recomputation reads (the
// op's input, weight and bias) must not change in place before the backward, as for any saved tensor.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace gan {

class Node;

// Whether SavedActivation packs: in the bf16 math mode, unless turned off here or by GAN_SAVE_BF16=0 in the
// environment (tests and benchmarks compare).
bool packs_saved_activations();
void set_pack_saved_activations(bool enabled);

// Whether ops attach Recomputations: on unless turned off here or by GAN_RECOMPUTE=0 in the environment (tests and
// benchmarks compare).
bool recomputes_saved_activations();
void set_recompute_saved_activations(bool enabled);

// Computes a tensor's values again (no history; the saver re-attaches it).
struct Recomputation {
  std::function<Tensor()> values;
};

// How a backward reads a saved tensor (above).
enum class SavedUse { Values, Sign, Bf16Operand };

// Marks a conv output: in the bf16 math mode a float32 one holds bf16 values (TensorImpl::bf16_values).
void mark_bf16_values(const Tensor& out);

class SavedActivation {
 public:
  SavedActivation() = default;
  // Keeps t's Recomputation when it has one (and recomputes_saved_activations()); else packs t when
  // packs_saved_activations(), t is float32 and not a leaf that requires grad, and `use` allows.
  explicit SavedActivation(const Tensor& t, SavedUse use);

  // t as it is, or its Recomputation when it has one: never packed (for ops that read it as exact values and may
  // share it with others that keep it anyway, as mul does).
  static SavedActivation kept(const Tensor& t);

  bool defined() const { return tensor_.defined() || packed_ != nullptr || recompute_ != nullptr; }
  bool is_packed() const { return packed_ != nullptr; }
  bool is_recomputed() const { return recompute_ != nullptr; }
  // The saved values as a float32 tensor with t's history (t itself when not packed).
  Tensor unpack() const;
  // The contiguous bfloat16 copy (when packed), for kernels that read it directly (batch norm's backward).
  Tensor packed() const { return Tensor(packed_); }

 private:
  Tensor tensor_;                        // when not packed
  std::shared_ptr<TensorImpl> packed_;   // the contiguous bfloat16 copy, shared with other savers of t
  std::shared_ptr<const Recomputation> recompute_;  // in place of the values, when t carries one
  std::shared_ptr<Node> grad_fn_;        // t's history
};

// SavedActivation(t) when an op on `inputs` is recorded (engine/autograd.h: needs_grad), else nothing: packing
// costs a kernel, wasted when no backward will read it.
SavedActivation save_for_backward(const std::vector<Tensor>& inputs, const Tensor& t, SavedUse use);

}  // namespace gan
