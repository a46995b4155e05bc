// In-place initializers (torch.nn.init), drawing from the engine's Philox generator (the default one if null).
#pragma once

#include "engine/nn/module.h"
#include "engine/rng.h"

namespace gan::nn::init {

void uniform_(const Tensor& t, double lo, double hi, Generator* gen = nullptr);
void normal_(const Tensor& t, double mean, double stddev, Generator* gen = nullptr);
void constant_(const Tensor& t, double value);
// fan_in of a weight as PyTorch computes it: size(1) * receptive field (for ConvTranspose2d weight [Cin, Cout, k, k]
// that is Cout * k * k, as in PyTorch).
int64_t fan_in(const Tensor& weight);
// PyTorch's default for Linear/Conv weights (kaiming_uniform with a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void default_weight_(const Tensor& weight, Generator* gen = nullptr);
void default_bias_(const Tensor& bias, int64_t fan_in, Generator* gen = nullptr);
// DCGAN (Radford 2015): conv and transposed-conv weights N(0, 0.02); batch-norm weight N(1, 0.02), bias 0.
void dcgan_(Module& m, Generator* gen = nullptr);

}  // namespace gan::nn::init
