// Shared pieces of the CUDA micro-benchmarks (benchmarks/cuda_*.cu): GPU timing with CUDA events over repeats,
// an L2 flush between repeats, a cuDNN check macro, and one result row type printed both as Google Benchmark
// counters and, at the end of a run, as a markdown table.
//
// Why flush L2: an H100 has 50 MiB of L2, more than many of our layers' operands. Timing the same call back to
// back would measure it with its inputs already cached, which a training step never sees (the previous layer's
// output, yes; its weights and the layer before, no). Writing a buffer twice the L2 size before every repeat
// evicts them, so every repeat starts cold, for ours and the baseline alike.
//
// A typical benchmark:
//
//   void BM_Thing(benchmark::State& state) {
//     gan::bench::L2Flush& flush = gan::bench::l2_flush();
//     auto ours = [&] { my_kernel_launcher(...); };
//     auto base = [&] { cudnnSomething(...); };
//     const double ms = gan::bench::time_in_loop(state, flush, ours);           // one timed repeat per iteration
//     const double base_ms = gan::bench::time_ms(flush, base).mean_ms;         // the baseline, same conditions
//     gan::bench::report(state, {"thing", ms, flops, gan::bench::Unit::TFLOPS, base_ms, "cuDNN"});
//   }
//   BENCHMARK(BM_Thing)->UseManualTime()->Unit(benchmark::kMillisecond);
//   int main(int argc, char** argv) { return gan::bench::run_main(argc, argv, "Title of the table"); }
//
// run_main exits cleanly (status 0, one line on stderr) when the machine has no usable GPU, so a CUDA build can
// run its benchmarks anywhere without failing.
//
// Include only from .cu files or sources built with the CUDA toolkit on the include path.
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_runtime.h>
#if __has_include(<cudnn.h>)
#include <cudnn.h>
#define GAN_BENCH_HAVE_CUDNN 1
#endif

#include <algorithm>
#include <cstdio>
#include <functional>
#include <iostream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cuda/check.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda_query.h"

// Wraps a call returning cudnnStatus_t: throws naming the statement, file:line and cuDNN's error string, like
// GAN_CUDA_CHECK (kernels/cuda/check.h).
#ifdef GAN_BENCH_HAVE_CUDNN
#define GAN_CUDNN_CHECK(stmt)                                                                                 \
  do {                                                                                                        \
    const cudnnStatus_t gan_cudnn_status_ = (stmt);                                                           \
    if (gan_cudnn_status_ != CUDNN_STATUS_SUCCESS)                                                            \
      throw std::runtime_error(std::string("cuDNN error: ") + #stmt + " failed at " + __FILE__ + ":" +       \
                               std::to_string(__LINE__) + ": " + cudnnGetErrorString(gan_cudnn_status_)); \
  } while (0)
#endif

namespace gan::bench {

// ---- L2 flush -----------------------------------------------------------------------------------------------

// A device buffer twice the size of the current device's L2 cache; flush() overwrites it on the engine's stream.
class L2Flush {
 public:
  L2Flush() {
    int device = 0, l2_bytes = 0;
    GAN_CUDA_CHECK(cudaGetDevice(&device));
    GAN_CUDA_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
    bytes_ = std::max<size_t>(size_t(2) * static_cast<size_t>(l2_bytes), size_t(1) << 20);
    GAN_CUDA_CHECK(cudaMalloc(&buffer_, bytes_));
  }
  ~L2Flush() { cudaFree(buffer_); }
  L2Flush(const L2Flush&) = delete;
  L2Flush& operator=(const L2Flush&) = delete;

  // Queued on kernels::cuda::stream(), before the start event of the repeat it precedes.
  void flush() {
    value_ ^= 1;  // a different value each time, so no layer of the memory system can elide the write
    GAN_CUDA_CHECK(cudaMemsetAsync(buffer_, value_, bytes_, kernels::cuda::stream()));
  }
  size_t bytes() const { return bytes_; }

 private:
  void* buffer_ = nullptr;
  size_t bytes_ = 0;
  int value_ = 0;
};

// One flush buffer per process (created on first use, on the current device).
inline L2Flush& l2_flush() {
  static L2Flush flush;
  return flush;
}

// ---- timing -------------------------------------------------------------------------------------------------

// A pair of CUDA events around work queued on kernels::cuda::stream().
class EventTimer {
 public:
  EventTimer() {
    GAN_CUDA_CHECK(cudaEventCreate(&start_));
    GAN_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~EventTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  void start() { GAN_CUDA_CHECK(cudaEventRecord(start_, kernels::cuda::stream())); }
  // Records the stop event and waits for it; returns the elapsed milliseconds.
  double stop_ms() {
    GAN_CUDA_CHECK(cudaEventRecord(stop_, kernels::cuda::stream()));
    GAN_CUDA_CHECK(cudaEventSynchronize(stop_));
    float ms = 0.f;
    GAN_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return static_cast<double>(ms);
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

struct Timing {
  double mean_ms = 0, median_ms = 0, min_ms = 0;
  int repeats = 0;
};

// Times fn (which queues work on kernels::cuda::stream()) `repeats` times after `warmup` untimed calls, flushing
// L2 before each repeat (outside the timed interval).
inline Timing time_ms(L2Flush& flush, const std::function<void()>& fn, int repeats = 20, int warmup = 3) {
  EventTimer timer;
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(repeats));
  for (int i = 0; i < repeats; ++i) {
    flush.flush();
    timer.start();
    fn();
    ms.push_back(timer.stop_ms());
  }
  Timing t;
  t.repeats = repeats;
  if (ms.empty()) return t;
  double sum = 0;
  for (double v : ms) sum += v;
  t.mean_ms = sum / static_cast<double>(ms.size());
  std::sort(ms.begin(), ms.end());
  t.min_ms = ms.front();
  t.median_ms = ms[ms.size() / 2];
  return t;
}

// Inside a Google Benchmark registered with UseManualTime(): each iteration is one flushed, event-timed call of
// fn, reported through SetIterationTime. Returns the mean milliseconds over the iterations. Warm-up calls run
// before the loop.
inline double time_in_loop(benchmark::State& state, L2Flush& flush, const std::function<void()>& fn,
                           int warmup = 3) {
  EventTimer timer;
  for (int i = 0; i < warmup; ++i) fn();
  double total_ms = 0;
  int64_t n = 0;
  for (auto _ : state) {
    flush.flush();
    timer.start();
    fn();
    const double ms = timer.stop_ms();
    state.SetIterationTime(ms * 1e-3);
    total_ms += ms;
    ++n;
  }
  return n > 0 ? total_ms / static_cast<double>(n) : 0.0;
}

// ---- results ------------------------------------------------------------------------------------------------

enum class Unit { TFLOPS, GBPS };

// One measured kernel: its time, the work it does (floating-point operations for TFLOPS, bytes moved for
// GBPS), and the baseline's time for the same work (baseline_ms <= 0: none).
struct ResultRow {
  std::string name;
  double ms = 0;
  double work = 0;  // flops or bytes
  Unit unit = Unit::TFLOPS;
  double baseline_ms = 0;
  std::string baseline_name;  // e.g. "cuDNN (IMPLICIT_PRECOMP_GEMM)"

  // TFLOP/s or GB/s at time t.
  double rate(double t_ms) const {
    if (t_ms <= 0) return 0;
    const double per_s = work / (t_ms * 1e-3);
    return unit == Unit::TFLOPS ? per_s * 1e-12 : per_s * 1e-9;
  }
  double throughput() const { return rate(ms); }
  double baseline_throughput() const { return rate(baseline_ms); }
  // ours / baseline in time: below 1 means we are faster.
  double ratio() const { return baseline_ms > 0 ? ms / baseline_ms : 0; }
  const char* unit_name() const { return unit == Unit::TFLOPS ? "TFLOP/s" : "GB/s"; }
};

// Every row reported in this process, in order, for the closing markdown table.
inline std::vector<ResultRow>& result_rows() {
  static std::vector<ResultRow> rows;
  return rows;
}

// Sets the row's Google Benchmark counters (ms, throughput, baseline figures, ratio) and keeps the row for the
// markdown table. Google Benchmark may run a benchmark more than once (to size the iteration count); only the
// last report of a name is kept.
inline void report(benchmark::State& state, const ResultRow& row) {
  state.counters["ms"] = row.ms;
  state.counters[row.unit_name()] = row.throughput();
  if (row.baseline_ms > 0) {
    state.counters["base_ms"] = row.baseline_ms;
    state.counters[std::string("base_") + row.unit_name()] = row.baseline_throughput();
    state.counters["ratio"] = row.ratio();
  }
  if (!row.baseline_name.empty()) state.SetLabel(row.baseline_name);
  auto& rows = result_rows();
  for (ResultRow& r : rows) {
    if (r.name == row.name) {
      r = row;
      return;
    }
  }
  rows.push_back(row);
}

// | name | ours ms | ours TFLOP/s | baseline | baseline ms | baseline TFLOP/s | ours/baseline |
inline void print_markdown(std::ostream& os, const std::vector<ResultRow>& rows) {
  char buf[512];
  os << "| kernel | ms | rate | baseline | base ms | base rate | ours/base (time) |\n";
  os << "| --- | ---: | ---: | --- | ---: | ---: | ---: |\n";
  for (const ResultRow& r : rows) {
    if (r.baseline_ms > 0) {
      std::snprintf(buf, sizeof buf, "| %s | %.4f | %.2f %s | %s | %.4f | %.2f %s | %.2f |\n", r.name.c_str(), r.ms,
                    r.throughput(), r.unit_name(), r.baseline_name.c_str(), r.baseline_ms, r.baseline_throughput(),
                    r.unit_name(), r.ratio());
    } else {
      std::snprintf(buf, sizeof buf, "| %s | %.4f | %.2f %s | - | - | - | - |\n", r.name.c_str(), r.ms,
                    r.throughput(), r.unit_name());
    }
    os << buf;
  }
}

// ---- main ---------------------------------------------------------------------------------------------------

// The benchmark program's main: exits with status 0 and a one-line message when no GPU can be used; otherwise
// runs the registered benchmarks and prints the markdown table of every reported row, headed by `title` and the
// device name.
inline int run_main(int argc, char** argv, const std::string& title) {
  if (kernels::cuda_device_count() == 0) {
    std::cerr << argv[0] << ": no usable CUDA device on this machine; nothing to benchmark\n";
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    benchmark::RunSpecifiedBenchmarks();
  } catch (const std::exception& e) {
    std::cerr << argv[0] << ": " << e.what() << "\n";
    benchmark::Shutdown();
    return 1;
  }
  benchmark::Shutdown();
  std::cout << "\n## " << title << " on " << kernels::cuda_device_name(kernels::cuda::current_device()) << "\n\n";
  print_markdown(std::cout, result_rows());
  return 0;
}

}  // namespace gan::bench
