// The convolutions of a training step on a roofline: for each conv layer a model ran (recorded from the modules,
// engine/nn/conv_observer.h), its FLOPs and the bytes it must move at least, per pass, and the time that would
// take at a GPU's peak compute and memory rates.
//
// Per pass, for a layer with input x [N, Cin, H, W], weight w and output y [N, Cout, Ho, Wo] (a transposed conv
// is the adjoint: its x plays y's part):
//   FLOPs = 2 * (elements of the larger of x, y) * (Cin or Cout of the other side) / groups * kh * kw, i.e.
//           2 * N * Cout * Ho * Wo * (Cin / groups) * kh * kw for a conv. The forward, the backward-data (a
//           transposed conv of dy) and the backward-weight (a correlation of x with dy) do the same multiply-adds.
//   bytes >= (|x| + |w| + |y|) * element size: each pass reads two of x, w, y (forward: x, w; backward-data:
//           dy, w; backward-weight: x, dy) and writes the third, each once. The real kernels move more (tiles
//           re-read through L2, split-K partials): this is the floor.
//   time  = max(FLOPs / peak FLOP rate, bytes / peak bandwidth): the roofline's lower bound.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/nn/conv_observer.h"

namespace gan::models {

struct ConvLayerCost {
  std::string layer;      // "ConvTranspose2d(100, 512, kernel_size=4, ...)"
  std::string shapes;     // "[128, 100, 1, 1] -> [128, 512, 4, 4]"
  int64_t forwards = 0;   // forwards recorded (per iteration when the recorder saw one iteration)
  double flops = 0;       // per pass
  double bytes = 0;       // per pass, at least
};

// Peak rates of a GPU. The H200 figures are NVIDIA's spec-sheet numbers until scripts/gpu-bundle.sh measures them.
struct GpuPeaks {
  std::string name;
  double fp32_flops = 0;      // FLOP/s, CUDA cores (FMA = 2 FLOPs)
  double tf32_flops = 0;      // FLOP/s, dense tensor cores (no 2:4 sparsity)
  double bytes_per_s = 0;     // HBM bandwidth
  std::string source;
};
GpuPeaks h200_spec_sheet_peaks();

// Records the conv layers a model runs while it lives (installs a ConvObserverScope): one entry per (layer,
// input shape), in first-run order, counting forwards.
class ConvRecorder {
 public:
  ConvRecorder();
  std::vector<ConvLayerCost> layers() const { return layers_; }
  // While paused (e.g. the trainer drawing sample grids between steps) forwards are not recorded.
  void set_paused(bool paused) { paused_ = paused; }

 private:
  bool paused_ = false;
  std::vector<ConvLayerCost> layers_;
  std::vector<std::pair<const void*, Shape>> keys_;
  nn::ConvObserverScope scope_;
};

ConvLayerCost conv_cost(const nn::ConvCall& call);

// A Markdown table: per layer its shapes, forwards per iteration, GFLOP and MB per pass, arithmetic intensity,
// and the roofline time per pass at FP32 and at TF32 peak; then the totals of one iteration's forwards times 3
// passes (an upper bound: not every forward has both backward passes, e.g. D's first layer on real data needs no
// backward-data). `iterations` divides the recorded forwards.
std::string roofline_table(const std::vector<ConvLayerCost>& layers, int64_t iterations, const GpuPeaks& peaks);

}  // namespace gan::models
