// DiffAugment (Zhao, Liu, Lin, Zhu, Han 2020, "Differentiable Augmentation for Data-Efficient GAN Training"): the
// same random, differentiable augmentations applied to D's real and fake inputs (and to the fakes G is trained
// through), so D cannot memorize a small data set while G still gets gradients through the augmentation.
//
// The policy is a comma-separated list, applied in this order whatever the order written:
//   color        per image: brightness + (u - 0.5); saturation: (x - mean_c x) 2u + mean_c x; contrast:
//                (x - mean_chw x)(u + 0.5) + mean_chw x                    (three independent u ~ U[0, 1))
//   translation  per image: shift by integers in [-r, r] on each axis, r = round(S / 8), zeros shifted in
//   cutout       per image: one square of side round(S / 2) set to zero, its centre uniform over the image
//                (it may be clipped by the border), the reference code's offsets
// These are the reference implementation's functions and constants (github.com/mit-han-lab/data-efficient-gans,
// DiffAugment_pytorch.py); its integer draws (torch.randint) become floor(u * range) of our uniforms here.
//
// Built only from differentiable engine ops (so double backward works, e.g. R1 through the augmentation): the
// translation is out[n, c] = A_n x[n, c] B_n^T with 0/1 shift matrices (batched matmul), the cutout a multiplication
// by a 0/1 mask. Random parameters are drawn on the host from the Generator passed in (Philox, engine/rng.h):
// the same state gives the same augmentation on every device, and the state is what checkpoints save.
#pragma once

#include <string>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace gan::nn {

struct DiffAugmentPolicy {
  bool color = false;
  bool translation = false;
  bool cutout = false;
  bool any() const { return color || translation || cutout; }
  std::string str() const;  // "color,translation,cutout", "" for none
};

// "" or "none": no augmentation. Throws std::invalid_argument naming an unknown or repeated part.
DiffAugmentPolicy parse_diffaugment(const std::string& text);

// x [N, C, H, W] (float or double, any device) -> augmented [N, C, H, W]; x unchanged when the policy is empty.
// Draws 3N uniforms for color, 2N for translation, 2N for cutout, in that order.
Tensor diff_augment(const Tensor& x, const DiffAugmentPolicy& policy, Generator& gen);

}  // namespace gan::nn
