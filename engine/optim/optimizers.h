// SGD, Adam and RMSprop with PyTorch's update rules and defaults (the maths is in kernels/optim.h). Options are
// aggregates, so call sites read like PyTorch's keyword arguments: Adam(params, {.lr = 2e-4, .beta1 = 0.5}).
#pragma once

#include <string>
#include <vector>

#include "engine/optim/optimizer.h"

namespace gan::optim {

// torch.optim.SGD. State: "<param>.momentum_buffer" when momentum != 0.
struct SGDOptions {
  double lr = 1e-3;  // PyTorch >= 2.3's default; earlier versions required it
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2: added to the gradient
  bool nesterov = false;      // needs momentum > 0 and dampening == 0
};

class SGD : public Optimizer {
 public:
  explicit SGD(NamedTensors params, SGDOptions options = {});
  const SGDOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names() const override;
  void update(const std::vector<Work>& work) override;

 private:
  SGDOptions options_;
};

// torch.optim.Adam (amsgrad=False). State: "<param>.exp_avg", "<param>.exp_avg_sq", "<param>.step".
struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 added to the gradient (Adam, not AdamW)
};

class Adam : public Optimizer {
 public:
  explicit Adam(NamedTensors params, AdamOptions options = {});
  const AdamOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names() const override;
  void update(const std::vector<Work>& work) override;

 private:
  AdamOptions options_;
};

// torch.optim.RMSprop. State: "<param>.square_avg", "<param>.step", plus "<param>.momentum_buffer" when
// momentum > 0 and "<param>.grad_avg" when centered.
struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(NamedTensors params, RMSpropOptions options = {});
  const RMSpropOptions& options() const { return options_; }

 protected:
  std::vector<std::string> slot_names() const override;
  void update(const std::vector<Work>& work) override;

 private:
  RMSpropOptions options_;
};

}  // namespace gan::optim
