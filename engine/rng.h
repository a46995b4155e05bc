// The engine's random number generator: Philox4x32-10 keyed by (seed, stream), counter-based, so the
// CPU and CUDA kernels produce the same numbers for the same state (kernels/philox.h documents the
// counter layout and what "the same" means for normals).
//
// State is (seed, stream, offset). `offset` counts Philox blocks already handed out; every draw
// reserves ceil(n / per_block) blocks and advances it, so draws never overlap and the state after any
// sequence of draws is exactly reproducible. The state is what checkpoints save (with the stream).
//
// Inside a CUDA graph (kernels/cuda/graph.h) a captured kernel's arguments are frozen, so a device draw made while
// the calling thread captures cannot take its offset as an argument: it reads it from a device word owned by the
// graph (kernels/cuda/graph.h graph_buffer), plus its place among the capture's draws, and the graph's last kernel
// advances that word by the capture's total. The host offset stays the truth: the capture
// leaves it where it was (it ran nothing), each replay advances it by the same total, and before a replay the
// device word is rewritten only when eager draws moved the host offset since (an 8-byte upload, not a launch). So
// eager steps, replays and checkpoints continue one stream of numbers, the same as an all-eager run (PyTorch's
// CUDAGeneratorImpl works the same way, with the host filling the device offset before every replay). Reseeding
// between replays is refused (the seed is a frozen argument): capture again. A host draw while capturing fails the
// capture (its numbers would be the same at every replay).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "engine/device.h"

namespace gan {

class Generator {
 public:
  struct State {
    uint64_t seed;
    uint64_t offset;
    uint64_t stream;
    friend bool operator==(const State&, const State&) = default;
  };

  explicit Generator(uint64_t seed = 0, uint64_t stream = 0);

  // Holds a mutex: copy the state (state()/set_state()) rather than the object.
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  uint64_t seed() const;
  uint64_t stream() const;
  uint64_t offset() const;

  State state() const;
  void set_state(State s);

  // New seed, offset back to 0; the stream is kept.
  void manual_seed(uint64_t seed);

  // Returns the current offset and advances it by `blocks`, atomically, so concurrent users get disjoint
  // counter ranges. Use reserve_state() when the seed/stream must be read in the same critical section
  // (a concurrent manual_seed would otherwise be able to slip in between).
  uint64_t reserve(uint64_t blocks);

  // Like reserve(), but returns the whole state to draw from: {seed, first block offset, stream}.
  State reserve_state(uint64_t blocks);

  // Host-buffer fills (T = float or double): reserve the blocks a draw of n needs and run the CPU kernel.
  template <typename T>
  void fill_uniform(T* out, int64_t n, T lo = T(0), T hi = T(1));
  template <typename T>
  void fill_normal(T* out, int64_t n, T mean = T(0), T stddev = T(1));

  // The same fills into a buffer on `device`: on a GPU the CUDA kernel draws exactly the numbers the CPU would.
  template <typename T>
  void fill_uniform(T* out, int64_t n, T lo, T hi, Device device);
  template <typename T>
  void fill_normal(T* out, int64_t n, T mean, T stddev, Device device);

 private:
  struct GraphDraws;  // the draws of the capture in progress (rng.cpp)

  // A device fill (kNormal: normal, else uniform) of n values, drawn at the current offset.
  template <typename T, bool kNormal>
  void fill_device(T* out, int64_t n, T a, T b, Device device);
  template <typename T, bool kNormal>
  void fill_in_graph(T* out, int64_t n, T a, T b, Device device);

  mutable std::mutex mu_;
  uint64_t seed_;
  uint64_t stream_;
  uint64_t offset_ = 0;
  std::shared_ptr<GraphDraws> graph_draws_;  // while a capture draws from this generator
};

// Process-wide generator (seed 0, stream 0 until manual_seed is called).
Generator& default_generator();

// Seeds the default generator and resets its offset.
void manual_seed(uint64_t seed);

}  // namespace gan
