#include "engine/nn/conv_observer.h"

#include <utility>

namespace gan::nn {

namespace {
ConvObserver& current() {
  static ConvObserver observer;
  return observer;
}
}  // namespace

ConvObserverScope::ConvObserverScope(ConvObserver observer) : previous_(std::move(current())) {
  current() = std::move(observer);
}

ConvObserverScope::~ConvObserverScope() { current() = std::move(previous_); }

bool conv_observed() { return static_cast<bool>(current()); }

void notify_conv(const ConvCall& call) {
  if (current()) current()(call);
}

}  // namespace gan::nn
