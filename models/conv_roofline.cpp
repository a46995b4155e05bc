#include "models/conv_roofline.h"

#include <algorithm>
#include <cstdio>

#include "engine/nn/module.h"

namespace gan::models {

namespace {

double numel(const Shape& s) {
  double n = 1;
  for (int64_t d : s) n *= static_cast<double>(d);
  return n;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

}  // namespace

GpuPeaks h200_spec_sheet_peaks() {
  return {"NVIDIA H200 SXM (spec sheet)", 66.9e12, 494.7e12, 4.8e12,
          "NVIDIA H200 datasheet: FP32 67 TFLOP/s, TF32 Tensor Core 989 TFLOP/s with 2:4 sparsity (494.7 dense), "
          "HBM3e 4.8 TB/s; dense figures as tabulated at glennklockwood.com/garden/processors/h100 (H200 = H100 "
          "SXM compute); not yet measured (scripts/gpu-bundle.sh)"};
}

ConvLayerCost conv_cost(const nn::ConvCall& c) {
  ConvLayerCost out;
  out.layer = c.layer != nullptr ? static_cast<const nn::Module*>(c.layer)->describe() : "conv";
  out.shapes = shape_str(c.input) + " -> " + shape_str(c.output);
  // The multiply-adds: every element of the conv's output side (y for a conv, x for a transposed conv) sums over
  // (channels of the other side / groups) * kh * kw products.
  const Shape& wide = c.transposed ? c.input : c.output;      // the side each multiply-add sums into
  const double per_out = static_cast<double>(c.weight.at(1)) * static_cast<double>(c.weight.at(2)) *
                         static_cast<double>(c.weight.at(3));  // conv: Cin/g*kh*kw; transposed: Cout/g*kh*kw
  out.flops = 2.0 * numel(wide) * per_out;
  out.bytes = (numel(c.input) + numel(c.weight) + numel(c.output)) * static_cast<double>(c.element_bytes);
  out.forwards = 1;
  return out;
}

ConvRecorder::ConvRecorder()
    : scope_([this](const nn::ConvCall& c) {
        if (paused_) return;
        const std::pair<const void*, Shape> key{c.layer, c.input};
        const auto it = std::find(keys_.begin(), keys_.end(), key);
        if (it != keys_.end()) {
          ++layers_[static_cast<size_t>(it - keys_.begin())].forwards;
          return;
        }
        keys_.push_back(key);
        layers_.push_back(conv_cost(c));
      }) {}

std::string roofline_table(const std::vector<ConvLayerCost>& layers, int64_t iterations, const GpuPeaks& peaks) {
  const double iters = static_cast<double>(std::max<int64_t>(iterations, 1));
  std::string t =
      "| layer | input -> output | forwards/iter | GFLOP/pass | MB/pass (min) | FLOP/byte | t_mem µs | "
      "t FP32 µs | t TF32 µs |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
  double total_flops = 0, total_bytes = 0, total_fp32 = 0, total_tf32 = 0;
  for (const ConvLayerCost& l : layers) {
    const double fwd = static_cast<double>(l.forwards) / iters;
    const double t_mem = l.bytes / peaks.bytes_per_s;
    const double t_fp32 = std::max(l.flops / peaks.fp32_flops, t_mem);
    const double t_tf32 = std::max(l.flops / peaks.tf32_flops, t_mem);
    t += "| " + l.layer + " | " + l.shapes + " | " + fmt("%.3g", fwd) + " | " + fmt("%.3f", l.flops / 1e9) + " | " +
         fmt("%.2f", l.bytes / 1e6) + " | " + fmt("%.0f", l.flops / l.bytes) + " | " + fmt("%.1f", t_mem * 1e6) +
         " | " + fmt("%.1f", t_fp32 * 1e6) + " | " + fmt("%.1f", t_tf32 * 1e6) + " |\n";
    total_flops += 3 * fwd * l.flops;
    total_bytes += 3 * fwd * l.bytes;
    total_fp32 += 3 * fwd * t_fp32;
    total_tf32 += 3 * fwd * t_tf32;
  }
  t += "| **all forwards x 3 passes** (upper bound) | | | " + fmt("%.1f", total_flops / 1e9) + " | " +
       fmt("%.1f", total_bytes / 1e6) + " | " + fmt("%.0f", total_bytes > 0 ? total_flops / total_bytes : 0) +
       " | " + fmt("%.1f", total_bytes / peaks.bytes_per_s * 1e6) + " | " + fmt("%.1f", total_fp32 * 1e6) + " | " +
       fmt("%.1f", total_tf32 * 1e6) + " |\n";
  t += "\nPeaks: " + peaks.name + ": FP32 " + fmt("%.1f", peaks.fp32_flops / 1e12) + " TFLOP/s, TF32 (dense) " +
       fmt("%.1f", peaks.tf32_flops / 1e12) + " TFLOP/s, memory " + fmt("%.1f", peaks.bytes_per_s / 1e12) +
       " TB/s. Source: " + peaks.source + ".\n";
  return t;
}

}  // namespace gan::models
