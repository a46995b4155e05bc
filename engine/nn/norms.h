// Normalizations for GAN generators beyond batch and layer norm: instance norm (PyTorch's F.instance_norm) and
// class-conditional batch norm (de Vries et al. 2017, as in cGAN/SNGAN/BigGAN generators). Both are composed from
// engine ops and the engine's batch norm, so they differentiate as often as those do.
#pragma once

#include "engine/ops.h"

namespace gan::nn::functional {

// [2nd] x [N, C, *spatial]: each (n, c) slice is normalized with its own mean and biased variance over the
// spatial dims (use_input_stats), then scaled and shifted by weight/bias [C] (each may be undefined). When running
// statistics are given they are updated in place as PyTorch does (running = (1 - momentum) running + momentum *
// the batch mean over n of the slices' mean / unbiased variance). With use_input_stats=false the running statistics
// normalize instead (PyTorch's eval mode with track_running_stats).
Tensor instance_norm(const Tensor& x, const Tensor& running_mean = Tensor(), const Tensor& running_var = Tensor(),
                     const Tensor& weight = Tensor(), const Tensor& bias = Tensor(), bool use_input_stats = true,
                     double momentum = 0.1, double eps = 1e-5);

// x [N, C, *spatial] normalized by batch norm without affine (batch statistics in training, running statistics in
// eval, updated as batch_norm does), then y = gain[n, c] * xhat + bias[n, c] with per-sample gain and bias [N, C]
// (typically rows of a class embedding). Double backward as far as batch_norm supports it.
Tensor conditional_batch_norm(const Tensor& x, const Tensor& gain, const Tensor& bias, const Tensor& running_mean,
                              const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

}  // namespace gan::nn::functional
