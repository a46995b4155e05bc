// Batch norm's training-mode gradients as recorded ops, for a backward with create_graph (a gradient penalty
// through a critic with layer_norm or batch norm). Internal to engine/nn.
#pragma once

#include <vector>

#include "engine/tensor.h"
#include "kernels/batch_norm.h"

namespace gan::nn::functional {

// {dx, dweight, dbias} of a training-mode batch norm (no activation: gz is the gradient at its affine output),
// each undefined unless wanted, computed by the fused kernel from the forward's saved statistics and recorded as
// an op of (gz, x, weight) whose backward (the second derivative) is written in ops of gz, x and weight and can
// itself be differentiated. What a double backward keeps per layer is then gz and x (which it keeps anyway), not
// the normalized values and the other intermediates of an ops-form backward.
std::vector<Tensor> batch_norm_training_grads(const Tensor& gz, const Tensor& x, const Tensor& weight,
                                              const Tensor& save_mean, const Tensor& save_inv_std, double eps,
                                              const kernels::BatchNormShape& shape, bool want_x, bool want_weight,
                                              bool want_bias);

}  // namespace gan::nn::functional
