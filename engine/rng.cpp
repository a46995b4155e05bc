#include "engine/rng.h"

#include "engine/ops/dispatch.h"
#include "kernels/random.h"

namespace gan {

Generator::Generator(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}

uint64_t Generator::seed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seed_;
}

uint64_t Generator::stream() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stream_;
}

uint64_t Generator::offset() const {
  std::lock_guard<std::mutex> lock(mu_);
  return offset_;
}

Generator::State Generator::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return State{seed_, offset_, stream_};
}

void Generator::set_state(State s) {
  std::lock_guard<std::mutex> lock(mu_);
  seed_ = s.seed;
  offset_ = s.offset;
  stream_ = s.stream;
}

void Generator::manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(mu_);
  seed_ = seed;
  offset_ = 0;
}

uint64_t Generator::reserve(uint64_t blocks) { return reserve_state(blocks).offset; }

Generator::State Generator::reserve_state(uint64_t blocks) {
  std::lock_guard<std::mutex> lock(mu_);
  State s{seed_, offset_, stream_};
  offset_ += blocks;  // wraps after 2^64 blocks, i.e. never in practice
  return s;
}

template <typename T>
void Generator::fill_uniform(T* out, int64_t n, T lo, T hi) {
  if (n <= 0) return;
  const State s = reserve_state(kernels::philox_blocks_uniform<T>(n));
  kernels::cpu::uniform<T>(out, n, s.seed, s.stream, s.offset, lo, hi);
}

template <typename T>
void Generator::fill_normal(T* out, int64_t n, T mean, T stddev) {
  if (n <= 0) return;
  const State s = reserve_state(kernels::philox_blocks_normal<T>(n));
  kernels::cpu::normal<T>(out, n, s.seed, s.stream, s.offset, mean, stddev);
}

template <typename T>
void Generator::fill_uniform(T* out, int64_t n, T lo, T hi, Device device) {
  if (n <= 0) return;
  const State s = reserve_state(kernels::philox_blocks_uniform<T>(n));
  GAN_KERNEL(device, "rand", uniform<T>, out, n, s.seed, s.stream, s.offset, lo, hi);
}

template <typename T>
void Generator::fill_normal(T* out, int64_t n, T mean, T stddev, Device device) {
  if (n <= 0) return;
  const State s = reserve_state(kernels::philox_blocks_normal<T>(n));
  GAN_KERNEL(device, "randn", normal<T>, out, n, s.seed, s.stream, s.offset, mean, stddev);
}

template void Generator::fill_uniform<float>(float*, int64_t, float, float);
template void Generator::fill_uniform<double>(double*, int64_t, double, double);
template void Generator::fill_normal<float>(float*, int64_t, float, float);
template void Generator::fill_normal<double>(double*, int64_t, double, double);
template void Generator::fill_uniform<float>(float*, int64_t, float, float, Device);
template void Generator::fill_uniform<double>(double*, int64_t, double, double, Device);
template void Generator::fill_normal<float>(float*, int64_t, float, float, Device);
template void Generator::fill_normal<double>(double*, int64_t, double, double, Device);

Generator& default_generator() {
  // Function-local static: initialized once, thread-safely, on first use (no static-order problems).
  static Generator gen(0, 0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace gan
