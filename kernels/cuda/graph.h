// CUDA graphs: a piece of host code that queues work on the device's stream, captured once and replayed as one
// launch.
//
//   kernels::cuda::Graph g;
//   g.capture([&] { step(); });   // records what step() queues on kernels::cuda::stream(); runs nothing
//   g.replay();                   // runs it: one cudaGraphLaunch, counted as one launch ("cuda_graph_launch")
//
// What a replay runs is frozen at capture: kernels, grids, arguments, the addresses of every buffer. So:
//   - Memory: capture() gives the graph a private pool in the caching allocator (allocator.h, "Private pools"):
//     the blocks the captured work allocates and frees keep their addresses and go to nobody else until the
//     Graph is destroyed.
//   - Host values that change from one iteration to the next (a Philox offset, Adam's step count) must not be
//     kernel arguments. Their owners register CaptureHooks while capturing: at_end runs right before the capture
//     ends (its launches join the graph: e.g. a kernel that advances a device-side counter), on_abort when the
//     capture fails, before_replay before every replay (e.g. advance the host's mirror of a counter, or upload a
//     value the graph reads from device memory). Hooks hold pointers to their owners: destroy the Graph first.
//   - The capture is strict: it runs in cudaStreamCaptureModeThreadLocal, so a call on this thread that would
//     synchronize (a copy to the host, a stream or device synchronize, a cudaFree) fails the capture instead of
//     silently running outside the graph; other threads (a data loader's) are not disturbed. A failed capture
//     throws std::runtime_error saying why, after ending the capture and releasing the pool: the device and the
//     allocator are as before (nothing ran), and the caller may run the step eagerly instead.
//
// Plain C++ header. In a build without CUDA, capturing() is false and capture() throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace gan::kernels::cuda {

class Graph {
 public:
  Graph();
  ~Graph();  // destroys the graph and releases its memory pool
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Captures what `queue_work` queues on the current device's stream. Throws when it throws or when the capture
  // fails (the message says which call broke it); the Graph is then empty. At most one capture per Graph.
  void capture(const std::function<void()>& queue_work);

  // Runs the captured work once on the captured device's stream (before_replay hooks first). Throws if nothing was
  // captured.
  void replay();

  bool captured() const;
  size_t node_count() const;  // kernels, copies and memsets in the graph
  uint64_t replays() const;

  struct Impl;  // graph.cu (or the CPU build's stub)

 private:
  std::unique_ptr<Impl> impl_;
};

// Whether the calling thread is capturing a Graph now.
bool capturing();

struct CaptureHooks {
  std::function<void()> at_end;         // right before the capture ends; may queue work (it joins the graph)
  std::function<void()> on_abort;       // the capture failed: undo what the capture changed on the host
  std::function<void()> before_replay;  // before every replay of the graph
};

// Adds hooks to the Graph the calling thread captures; throws std::logic_error when it captures none. At a replay
// before_replay hooks run in the order they were added; on_abort hooks run in reverse order (undo).
void add_capture_hooks(CaptureHooks hooks);

// While capturing: `bytes` of device memory owned by the Graph being captured (freed with it), for values its
// kernels read and its before_replay hooks write (a Philox offset, bias corrections). Obtained with cudaMalloc
// outside the private pool, so no captured work (an allocator poison fill) ever writes it. Throws
// std::logic_error when the calling thread captures no graph.
void* graph_buffer(size_t bytes);

}  // namespace gan::kernels::cuda
