// A hook that sees every Conv2d and ConvTranspose2d module forward with its shapes: how a profiler learns which
// convolutions a model's training step runs, at which sizes, without knowing the model (models/conv_roofline.h).
// Off by default; the modules then pay one null check. Install one with ConvObserverScope on the thread that
// runs the model (the hook is process-wide; do not run two observed models at once).
#pragma once

#include <functional>

#include "engine/nn/functional.h"
#include "engine/shape.h"

namespace gan::nn {

class Module;

struct ConvCall {
  const Module* layer = nullptr;  // the module, for telling layers apart; its describe() names it
  bool transposed = false;        // ConvTranspose2d
  Shape input, weight, output;    // x [N, Cin, H, W], the weight as stored, y [N, Cout, Ho, Wo]
  functional::Conv2dArgs args;
  int64_t element_bytes = 4;      // of the input's dtype
};

using ConvObserver = std::function<void(const ConvCall&)>;

// Installs `observer` until the scope ends (then the previous one, usually none, is back).
class ConvObserverScope {
 public:
  explicit ConvObserverScope(ConvObserver observer);
  ~ConvObserverScope();
  ConvObserverScope(const ConvObserverScope&) = delete;
  ConvObserverScope& operator=(const ConvObserverScope&) = delete;

 private:
  ConvObserver previous_;
};

// Called by the conv modules after each forward.
void notify_conv(const ConvCall& call);
bool conv_observed();

}  // namespace gan::nn
